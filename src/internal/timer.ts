/**
 * The one rule for every timer sockpool arms: a delay of more than {@link MAX_TIMER_MS}
 * (about 24.8 days), or Infinity, means "never". Node would otherwise clamp such a delay to
 * 1 ms (with a warning) and fire at once.
 */
export const MAX_TIMER_MS = 0x7fffffff;

/** True when `ms` arms a timer under the rule above: a number from 0 to MAX_TIMER_MS. */
export function armsTimer(ms: number | undefined): ms is number {
  return ms !== undefined && ms >= 0 && ms <= MAX_TIMER_MS;
}

/**
 * `setTimeout` under the rule: returns undefined, arming nothing, when `ms` means never.
 * The timer is unref'd (a library timer never keeps the process alive) unless `ref` is set.
 */
export function startTimer(fn: () => void, ms: number, ref = false): NodeJS.Timeout | undefined {
  if (!armsTimer(ms)) return undefined;
  const timer = setTimeout(fn, ms);
  if (!ref) timer.unref();
  return timer;
}

/**
 * A timer option under the rule: itself, or Infinity when it means never. For options that
 * become deadlines (`now + ms`), so every later comparison sees "never" too.
 */
export function orNever(ms: number): number {
  return armsTimer(ms) ? ms : Number.POSITIVE_INFINITY;
}
