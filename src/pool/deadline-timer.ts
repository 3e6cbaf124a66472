import type { Clock, TimerHandle } from "../internal/clock.js";

/**
 * One timer that calls `fire` at the earliest deadline it was asked for. Asking for a later
 * deadline than the one pending costs nothing, so a busy pool arms it rarely. An endpoint
 * pool has two: one for retirement (idle, lifetime, the end of a fail-fast window) and one
 * for acquires waiting on the default timeout.
 *
 * Deadlines come from timer options under the timer rule (internal/timer.ts): one past the
 * timer's range means never and arms nothing.
 *
 * State: `#timer` is pending exactly when `#at` (ms since epoch) is finite; `#stopped` is final.
 */
export class DeadlineTimer {
  readonly #clock: Clock;
  readonly #fire: () => void;
  #timer: TimerHandle | undefined;
  #at = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(clock: Clock, fire: () => void) {
    this.#clock = clock;
    this.#fire = fire;
  }

  /** Makes sure `fire` runs no later than `at` (ms since epoch); Infinity asks for nothing. */
  arm(at: number): void {
    if (this.#stopped || !Number.isFinite(at) || at >= this.#at) return;
    this.#clock.clearTimer(this.#timer);
    this.#at = at;
    this.#schedule();
  }

  /** Cancels the pending run; `arm` works again afterwards. */
  disarm(): void {
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  /** Cancels and refuses further arming (pool closed). */
  stop(): void {
    this.disarm();
    this.#stopped = true;
  }

  #schedule(): void {
    // +1 so the deadline has passed when the timer fires, whatever the clock's rounding.
    this.#timer = this.#clock.setTimer(this.#onTimer, Math.max(0, this.#at - this.#clock.now()) + 1);
    if (this.#timer === undefined) this.#at = Number.POSITIVE_INFINITY; // past the timer's range: never
  }

  readonly #onTimer = (): void => {
    if (this.#clock.now() < this.#at) {
      this.#schedule(); // the clock ran behind the timer
      return;
    }
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#fire();
  };
}
