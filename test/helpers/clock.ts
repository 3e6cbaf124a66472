import type { Clock, TimerHandle } from "../../src/internal/clock.js";
import { armsTimer } from "../../src/internal/timer.js";

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock that moves only when told: `advance(ms)` runs the timers that fall due, in order
 * of their due time, each seeing `now()` at its own due time. For timing features (idle and
 * lifetime retirement, fail-fast windows, leak warnings, acquire timeouts) without sleeping.
 * It follows the timer rule: a delay past 2^31-1 ms arms nothing.
 *
 * State: `#now` (ms since epoch, starts at the real time so deadlines look ordinary);
 * `#timers`: armed timers by handle; `#seq` orders timers due at the same ms by arming order.
 */
export class ManualClock implements Clock {
  #now = Date.now();
  #seq = 0;
  readonly #timers = new Map<object, Pending>();

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): TimerHandle | undefined {
    if (!armsTimer(ms)) return undefined;
    const handle = {};
    this.#timers.set(handle, { at: this.#now + ms, seq: this.#seq++, fn });
    return handle as TimerHandle;
  }

  clearTimer(timer: TimerHandle | undefined): void {
    if (timer !== undefined) this.#timers.delete(timer);
  }

  /** Timers armed and not yet run or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const next = this.#next(end);
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
    }
    this.#now = end;
  }

  #next(end: number): [object, Pending] | undefined {
    let best: [object, Pending] | undefined;
    for (const entry of this.#timers) {
      const p = entry[1];
      if (p.at > end) continue;
      if (best === undefined || p.at < best[1].at || (p.at === best[1].at && p.seq < best[1].seq)) best = entry;
    }
    return best;
  }
}
