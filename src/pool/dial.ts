import { connect } from "../connection/connect.js";
import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, ConnectError, ConnectTimeoutError } from "../errors.js";
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
