import { startTimer } from "../internal/timer.js";
import type { PooledSocket } from "./lease.js";
import type { DestroyReason } from "./stats.js";

/**
 * One unref'd timer that runs `reap` at the earliest deadline it was asked for. Asking for a
 * later deadline than the one pending costs nothing, so a busy pool arms it rarely. The pool
 * uses one for idle and lifetime retirement (armed only while something is idle) and one for
 * acquire timeouts (armed only while someone waits on the default timeout).
 *
 * Deadlines come from timer options already under the timer rule (internal/timer.ts), so
 * one past the timer's range means never and arms nothing.
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
    this.#schedule();
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

  #schedule(): void {
    // +1 so the deadline has passed when the timer fires, whatever the clock's rounding.
    this.#timer = startTimer(this.#fire, Math.max(0, this.#at - Date.now()) + 1);
    if (this.#timer === undefined) this.#at = Number.POSITIVE_INFINITY; // past the timer's range: never
  }

  readonly #fire = (): void => {
    if (Date.now() < this.#at) {
      this.#schedule(); // the clock ran behind the timer
      return;
    }
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    this.#reap();
  };
}

/**
 * Takes out of `idle` (oldest first) the sockets due for retirement at `now`: past their
 * lifetime, or idle past `idleTimeout` while more than `minIdle` remain. Returns them with
 * the reason, and the next deadline among those left (Infinity if none). A socket kept
 * only for minIdle counts with its lifetime, never with an idle deadline already past, so
 * the timer cannot spin.
 */
export function dueForRetirement(
  idle: PooledSocket[],
  now: number,
  idleTimeout: number,
  minIdle: number,
): { retire: [PooledSocket, DestroyReason][]; next: number } {
  const retire: [PooledSocket, DestroyReason][] = [];
  let next = Number.POSITIVE_INFINITY;
  for (let i = 0; i < idle.length; ) {
    const record = idle[i] as PooledSocket;
    const idleEnd = record.idleSince + idleTimeout;
    let reason: DestroyReason | undefined;
    if (now >= record.expiresAt) reason = "lifetime";
    else if (idle.length > minIdle && now >= idleEnd) reason = "idle-timeout";
    if (reason === undefined) {
      next = Math.min(next, record.expiresAt, idleEnd > now ? idleEnd : Number.POSITIVE_INFINITY);
      i++;
    } else {
      idle.splice(i, 1);
      retire.push([record, reason]);
    }
  }
  return { retire, next };
}
