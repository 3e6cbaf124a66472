import type { AcquireTimeoutError } from "../errors.js";
import { armCancel, type WaitOptions } from "../internal/cancel.js";
import type { ValidateLimits } from "./lease.js";
import { Reaper } from "./reaper.js";
import type { Waiter, WaiterQueue } from "./waiter.js";

/** What a timed-out or aborted acquire is told with, and what its pool hears. */
export interface CancelHandlers {
  /** The timeout error after `ms` (AcquireTimeoutError, with the pool's load). */
  timeoutError(ms: number, w: Waiter): AcquireTimeoutError;
  /** A waiter was rejected with `err` (a timeout or AbortError) and left the queue. */
  cancelled(err: Error): void;
}

/**
 * Queues the acquires of one endpoint, and times them out and cancels them. An acquire on
 * the default timeout (no signal, no timeout, not a retry wanting a fresh socket) gets a
 * deadline and shares one timer with the others: their deadlines grow in queue order, so the
 * timer only ever waits for the oldest. Any other acquire arms its own timer and abort
 * listener through `armCancel`. Either way, a timeout or an abort rejects the waiter if it
 * still waits, takes it off the queue's count, and tells the pool.
 *
 * State: `#waiters`: the endpoint's queue, shared with its pool (which serves it). `#expiry`:
 * the shared timer, armed no later than the earliest deadline of a waiter still waiting;
 * stopped (final) once the pool closes. `#operation`, `#timeout` (ms), `#on`: fixed.
 */
export class AcquireTimeouts {
  readonly #waiters: WaiterQueue;
  readonly #operation: string;
  /** The default acquire timeout, ms. */
  readonly #timeout: number;
  readonly #on: CancelHandlers;
  readonly #expiry = new Reaper(() => this.#expire());

  constructor(waiters: WaiterQueue, operation: string, timeout: number, handlers: CancelHandlers) {
    this.#waiters = waiters;
    this.#operation = operation;
    this.#timeout = timeout;
    this.#on = handlers;
  }

  /** Queues `w`, made at `now` by an acquire given `options`, and arms its timeout and abort. */
  enqueue(w: Waiter, options: WaitOptions | undefined, now: number): void {
    this.#waiters.push(w);
    if (options?.signal === undefined && options?.timeout === undefined && !w.fresh) {
      w.deadline = now + this.#timeout;
      this.#expiry.arm(w.deadline);
    } else {
      w.disarm = armCancel(
        this.#operation,
        { signal: options?.signal, timeout: options?.timeout ?? this.#timeout },
        (ms) => this.#on.timeoutError(ms, w),
        (err) => this.#cancel(w, err),
      );
    }
  }

  /** The acquire's limits, for work done on its behalf: its signal, its timeout or the default. */
  limits(options: WaitOptions | undefined, timeoutError: (ms: number) => Error): ValidateLimits {
    const timeout = options?.timeout ?? this.#timeout;
    return { operation: this.#operation, options: { signal: options?.signal, timeout }, timeoutError };
  }

  /** Cancels the shared timer (nothing waits); `watch` arms it again. */
  disarm(): void {
    this.#expiry.disarm();
  }

  /** Cancels the shared timer for good (pool closed). */
  stop(): void {
    this.#expiry.stop();
  }

  /** Times out the waiters whose deadline passed; re-arms for the next. */
  #expire(): void {
    const { expired, next } = this.#waiters.expired(Date.now());
    this.#expiry.arm(next);
    for (const w of expired) this.#cancel(w, this.#on.timeoutError(this.#timeout, w));
  }

  #cancel(w: Waiter, err: Error): void {
    if (!w.reject(err)) return;
    this.#waiters.settled(w);
    this.#on.cancelled(err);
  }
}
