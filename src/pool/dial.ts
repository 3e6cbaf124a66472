import { connect } from "../connection/connect.js";
import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, ConnectError, ConnectTimeoutError, EndpointUnavailableError } from "../errors.js";
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
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
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
