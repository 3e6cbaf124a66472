import { connect } from "../connection/connect.js";
import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, ConnectError, ConnectTimeoutError, EndpointUnavailableError } from "../errors.js";
import { startTimer } from "../internal/timer.js";
import type { PoolSettings } from "./options.js";

/**
 * Dials `endpoint`, retrying connect failures up to `connectRetries` times with capped
 * exponential backoff and full jitter (delay drawn from [0, min(cap, base·2^attempt)]).
 * `onFailure` sees every failed attempt. Stops retrying when `signal` aborts or when
 * `wanted()` says nobody needs the socket any more.
 *
 * Resolves with the connection. Rejects with the last ConnectError or ConnectTimeoutError,
 * or AbortError when `signal` aborts (a half-made socket is destroyed by `connect`).
 */
export async function dialWithRetries(
  endpoint: Endpoint,
  settings: PoolSettings,
  signal: AbortSignal,
  onFailure: (err: unknown) => void,
): Promise<Connection> {
  const dial = settings.dial ?? connect;
  const options = { ...settings.connect, timeout: settings.connectTimeout, signal };
  for (let attempt = 0; ; attempt++) {
    try {
      return await dial(endpoint, options);
    } catch (err) {
      if (signal.aborted) throw err;
      onFailure(err);
      const retryable = err instanceof ConnectError || err instanceof ConnectTimeoutError;
      if (!retryable || attempt >= settings.connectRetries) throw err;
      const cap = Math.min(settings.retryMaxDelay, settings.retryDelay * 2 ** attempt);
      await sleep(Math.random() * cap, signal, `connect to ${endpoint.key}`);
    }
  }
}

/**
 * Resolves after `ms`, or rejects with AbortError when `signal` aborts. The timer is not
 * unref'd: it runs only while an acquire waits for this dial (the dial is aborted when none
 * does), and an awaited acquire must not let the process exit in the middle of a backoff.
 */
function sleep(ms: number, signal: AbortSignal, operation: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortError(operation, signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError(operation, signal.reason));
    };
    const timer = startTimer(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      ms,
      true,
    );
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * How dialing one endpoint is going: while it keeps failing, acquires fail fast for a window
 * that doubles per consecutive failed dial (capped) instead of storming it.
 *
 * State: `#failures`: consecutive failed dials (0 after a success); `until`: ms since epoch
 * the fail-fast window lasts (0: none); `#lastError`/`#lastErrorAt`: the last failed
 * attempt's error and when (kept after a success, for acquire timeouts to cite).
 */
export class FailFast {
  until = 0;
  readonly #key: string;
  readonly #window: number;
  readonly #maxWindow: number;
  #failures = 0;
  #lastError: unknown;
  #lastErrorAt = 0;

  constructor(key: string, window: number, maxWindow: number) {
    this.#key = key;
    this.#window = window;
    this.#maxWindow = maxWindow;
  }

  /** One dial attempt failed. */
  noteError(err: unknown): void {
    this.#lastError = err;
    this.#lastErrorAt = Date.now();
  }

  /** A dial failed for good (retries included): open or widen the window. */
  failed(): void {
    this.#failures++;
    if (this.#window <= 0) return;
    this.until = Date.now() + Math.min(this.#maxWindow, this.#window * 2 ** (this.#failures - 1));
  }

  succeeded(): void {
    this.#failures = 0;
    this.until = 0;
  }

  /** The error for an acquire refused inside the window; `cause` is the last dial error. */
  error(now: number): EndpointUnavailableError {
    return new EndpointUnavailableError(this.#key, this.until - now, this.#lastError);
  }

  /** The last dial error if it happened at or after `since` (for an acquire timeout's cause). */
  errorSince(since: number): unknown {
    return this.#lastErrorAt >= since ? this.#lastError : undefined;
  }
}

/** What the dials of one endpoint report to the pool that started them. */
export interface DialHandlers {
  /** Gives back the slot under maxSockets a dial held (see SocketPool). */
  giveSlot(): void;
  /** One connect attempt failed; a retry may follow. */
  attemptFailed(err: unknown): void;
  /**
   * A dial connected. `counted`: it was still in progress, and its slot passes to the socket;
   * false when it was aborted just as it connected, so it holds no slot any more.
   */
  connected(conn: Connection, counted: boolean): void;
  /** A dial failed for good. `counted` as above; a counted dial's slot was just given back. */
  failed(err: unknown, counted: boolean): void;
}

/**
 * The dials in progress for one endpoint. Each holds a slot under maxSockets from `start()`
 * until it connects (the slot passes to its socket), fails or is aborted (the slot is given
 * back at once: `connect` destroys a half-made socket synchronously).
 *
 * State: `#list`: one AbortController per dial in progress, oldest first. A dial leaves it
 * exactly once, when it is aborted, connects or fails, whichever comes first; `count` is its
 * length.
 */
export class Dials {
  readonly #list: AbortController[] = [];
  readonly #endpoint: Endpoint;
  readonly #settings: PoolSettings;
  readonly #on: DialHandlers;

  constructor(endpoint: Endpoint, settings: PoolSettings, handlers: DialHandlers) {
    this.#endpoint = endpoint;
    this.#settings = settings;
    this.#on = handlers;
  }

  get count(): number {
    return this.#list.length;
  }

  /** Starts one dial (its caller took a slot for it). */
  start(): void {
    const ac = new AbortController();
    this.#list.push(ac);
    dialWithRetries(this.#endpoint, this.#settings, ac.signal, (err) => this.#on.attemptFailed(err)).then(
      (conn) => this.#on.connected(conn, this.#remove(ac)),
      (err) => this.#failed(ac, err),
    );
  }

  /** Aborts the newest dial if more than `wanted` are in progress. */
  trim(wanted: number, reason: unknown): void {
    const newest = this.#list[this.#list.length - 1];
    if (this.#list.length > wanted && newest !== undefined) this.#abort(newest, reason);
  }

  /** Aborts every dial, oldest first, each with a new `reason()`. */
  abortAll(reason: () => unknown): void {
    for (const ac of [...this.#list]) this.#abort(ac, reason());
  }

  /** Abandons a dial: it stops counting at once. */
  #abort(ac: AbortController, reason: unknown): void {
    this.#list.splice(this.#list.indexOf(ac), 1);
    this.#on.giveSlot();
    ac.abort(reason);
  }

  #failed(ac: AbortController, err: unknown): void {
    const counted = this.#remove(ac);
    if (counted) this.#on.giveSlot();
    this.#on.failed(err, counted);
  }

  /** Takes a settled dial off the list; false if it was aborted (and taken off) before. */
  #remove(ac: AbortController): boolean {
    const i = this.#list.indexOf(ac);
    if (i < 0) return false;
    this.#list.splice(i, 1);
    return true;
  }
}
