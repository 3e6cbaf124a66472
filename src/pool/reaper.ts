/**
 * One unref'd timer that runs `reap` at the earliest deadline it was asked for. Asking for a
 * later deadline than the one pending costs nothing, so a busy pool arms it rarely. The pool
 * uses one for idle and lifetime retirement (armed only while something is idle) and one for
 * acquire timeouts (armed only while someone waits on the default timeout).
 *
 * State: `#timer` is pending exactly when `#at` (ms since epoch) is finite; `#stopped` is final.
 */
export class Reaper {
  readonly #reap: () => void;
  #timer: NodeJS.Timeout | undefined;
  #at = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(reap: () => void) {
    this.#reap = reap;
  }

  /** Makes sure `reap` runs no later than `at` (ms since epoch); Infinity asks for nothing. */
  arm(at: number): void {
    if (this.#stopped || !Number.isFinite(at) || at >= this.#at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#at = at;
    // +1 so the deadline has passed when the timer fires, whatever the clock's rounding.
    this.#timer = setTimeout(this.#fire, Math.max(0, at - Date.now()) + 1);
    this.#timer.unref();
  }

  /** Cancels the pending run; `arm` works again afterwards. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  /** Cancels and refuses further arming (pool closed). */
  stop(): void {
    this.disarm();
    this.#stopped = true;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#reap();
  };
}
