import { connect } from "../connection/connect.js";
import type { Connection } from "../connection/connection.js";
import { debug, debugging, traces } from "../diagnostics.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, ConnectError, ConnectTimeoutError } from "../errors.js";
import type { Clock } from "../internal/clock.js";
import type { Slot } from "./budget.js";
import type { PoolConnectContext } from "./events.js";
import type { PoolSettings } from "./options.js";

/**
 * One dial in progress: how to abandon it, the slot it holds (given back when abandoned), and
 * when it started (ms since epoch).
 */
export interface Dial {
  readonly controller: AbortController;
  readonly slot: Slot;
  readonly since: number;
}

/**
 * The dials in progress for one endpoint, oldest first. Plain data: the endpoint pool starts,
 * abandons and completes them. A dial leaves the list exactly once: when it is abandoned,
 * connects or fails, whichever comes first.
 */
export class Dials {
  readonly #list: Dial[] = [];

  get count(): number {
    return this.#list.length;
  }

  /** A new dial holding `slot`, started at `since`. */
  add(slot: Slot, since: number): Dial {
    const dial = { controller: new AbortController(), slot, since };
    this.#list.push(dial);
    return dial;
  }

  /** The most recently started dial. */
  newest(): Dial | undefined {
    return this.#list[this.#list.length - 1];
  }

  /** Takes `dial` off the list; false if it had left already. */
  remove(dial: Dial): boolean {
    const i = this.#list.indexOf(dial);
    if (i < 0) return false;
    this.#list.splice(i, 1);
    return true;
  }

  /** Every dial, oldest first (a copy). */
  all(): Dial[] {
    return [...this.#list];
  }
}

/**
 * Dials `endpoint`, retrying connect failures up to `connectRetries` times with capped
 * exponential backoff and full jitter (delay drawn from [0, min(cap, base·2^attempt)]).
 * `onAttemptFailed` sees every failed attempt. Stops when `signal` aborts. Each attempt is
 * traced on the `sockpool:pool:connect` tracing channel while it has subscribers.
 *
 * Resolves with the connection. Rejects with the last ConnectError or ConnectTimeoutError,
 * or AbortError when `signal` aborts (a half-made socket is destroyed by `connect`).
 */
export async function dialWithRetries(
  endpoint: Endpoint,
  settings: PoolSettings,
  clock: Clock,
  signal: AbortSignal,
  onAttemptFailed: (err: unknown) => void,
): Promise<Connection> {
  const dial = settings.dial ?? connect;
  const options = { ...settings.connect, timeout: settings.connectTimeout, signal };
  for (let attempt = 0; ; attempt++) {
    try {
      if (debugging) debug("pool %s: dial (attempt %d)", endpoint.key, attempt);
      if (!traces.poolConnect.hasSubscribers) return await dial(endpoint, options);
      const context: PoolConnectContext = { endpoint: endpoint.key, attempt };
      return await traces.poolConnect.tracePromise(dial, context, undefined, endpoint, options);
    } catch (err) {
      if (signal.aborted) throw err;
      onAttemptFailed(err);
      const retryable = err instanceof ConnectError || err instanceof ConnectTimeoutError;
      if (!retryable || attempt >= settings.connectRetries) throw err;
      const cap = Math.min(settings.retryMaxDelay, settings.retryDelay * 2 ** attempt);
      await sleep(clock, Math.random() * cap, signal, `connect to ${endpoint.key}`);
    }
  }
}

/**
 * Resolves after `ms`, or rejects with AbortError when `signal` aborts. The timer is not
 * unref'd: it runs only while an acquire waits for this dial (the dial is abandoned when none
 * does), and an awaited acquire must not let the process exit in the middle of a backoff.
 */
function sleep(clock: Clock, ms: number, signal: AbortSignal, operation: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortError(operation, signal.reason));
    const onAbort = () => {
      clock.clearTimer(timer);
      reject(new AbortError(operation, signal.reason));
    };
    const timer = clock.setTimer(
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
