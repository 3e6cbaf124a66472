import { AbortError } from "../errors.js";
import { type Clock, systemClock } from "./clock.js";

/** What every method that can wait accepts. */
export interface WaitOptions {
  /** Cancels the wait; the promise rejects with {@link AbortError} (cause: the reason). */
  signal?: AbortSignal | undefined;
  /** Milliseconds before the wait fails with the operation's timeout error. */
  timeout?: number | undefined;
}

/** Call to clear the timer and remove the abort listener. Idempotent. */
export type Disarm = () => void;

const noop: Disarm = () => {};

/**
 * Links one wait to its signal and timeout: arms at most one unref'd timer and one `abort`
 * listener, and calls `onCancel` with the error at most once. The caller must call the
 * returned disarm function when the wait settles by itself. If the signal is already
 * aborted, `onCancel` runs synchronously before this returns.
 *
 * This exists so hot paths never build `AbortSignal.any()`/`AbortSignal.timeout()` per
 * operation (those leak against long-lived parents and cannot be cleared).
 */
export function armCancel(
  operation: string,
  options: WaitOptions | undefined,
  timeoutError: (ms: number) => Error,
  onCancel: (err: Error) => void,
  clock: Clock = systemClock,
): Disarm {
  const signal = options?.signal;
  const timeout = options?.timeout;
  if (signal === undefined && timeout === undefined) return noop;
  if (signal?.aborted) {
    onCancel(new AbortError(operation, signal.reason));
    return noop;
  }
  let done = false;
  let timer: ReturnType<Clock["setTimer"]>;
  const onAbort = () => fire(new AbortError(operation, signal?.reason));
  const disarm: Disarm = () => {
    if (done) return;
    done = true;
    clock.clearTimer(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  const fire = (err: Error) => {
    if (done) return;
    disarm();
    onCancel(err);
  };
  if (timeout !== undefined) timer = clock.setTimer(() => fire(timeoutError(timeout)), timeout);
  signal?.addEventListener("abort", onAbort, { once: true });
  return disarm;
}

/** Throws {@link AbortError} when the signal is already aborted. */
export function throwIfAborted(operation: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(operation, signal.reason);
}

/**
 * Races `promise` against a signal and timeout; on cancel, rejects and calls `onCancel`
 * (to undo whatever the promise was doing). For waits that are not on a hot path.
 */
export function withCancel<T>(
  operation: string,
  promise: Promise<T>,
  options: WaitOptions | undefined,
  timeoutError: (ms: number) => Error,
  onCancel?: (err: Error) => void,
  clock: Clock = systemClock,
): Promise<T> {
  if (options?.signal === undefined && options?.timeout === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const disarm = armCancel(
      operation,
      options,
      timeoutError,
      (err) => {
        onCancel?.(err);
        reject(err);
      },
      clock,
    );
    promise.then(
      (v) => {
        disarm();
        resolve(v);
      },
      (e) => {
        disarm();
        reject(e);
      },
    );
  });
}
