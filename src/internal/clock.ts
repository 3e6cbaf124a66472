import { startTimer } from "./timer.js";

/** An armed timer, as a {@link Clock} hands it out; only that clock's `clearTimer` takes it. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

/**
 * Where sockpool's time comes from: the current time and one-shot timers. Every component that
 * waits or retires by time takes one (default {@link systemClock}), so tests can advance time
 * instead of sleeping.
 *
 * `setTimer` follows the timer rule of internal/timer.ts: a delay past 2^31-1 ms, or Infinity,
 * arms nothing and returns undefined ("never"). Timers are unref'd unless `ref` is true.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimer(fn: () => void, ms: number, ref?: boolean): TimerHandle | undefined;
  /** Cancels a timer of this clock; undefined and fired timers are ignored. */
  clearTimer(timer: TimerHandle | undefined): void;
}

/** The real clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = {
  now: Date.now,
  setTimer: (fn, ms, ref) => startTimer(fn, ms, ref),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};
