/**
 * Waiting for a quiet machine before each throughput run. The bench shares its two CPUs with
 * whatever else runs on the machine; a run that starts while other work is busy measures
 * that work as much as the server. Between runs none of the bench's own processes run, so
 * any CPU time spent then belongs to someone else.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { machineBusyMicros } from "./proc.js";

/** Each check samples the machine for this long (/proc/stat counts in 10 ms ticks)... */
const SAMPLE_MS = 300;
/** ...and calls it quiet when other work used less than this share of one core. */
export const QUIET_SHARE = 0.15;

/**
 * Resolves once one sample finds the machine quiet, or once `maxMs` has passed (then the run
 * goes ahead anyway), with the time spent waiting beyond the first sample, in ms.
 */
export async function waitForQuiet(maxMs: number): Promise<{ waitedMs: number; quiet: boolean }> {
  const start = Date.now();
  for (let sample = 0; ; sample++) {
    const busy0 = machineBusyMicros();
    await sleep(SAMPLE_MS);
    const share = (machineBusyMicros() - busy0) / (SAMPLE_MS * 1000);
    const waitedMs = sample === 0 ? 0 : Date.now() - start - SAMPLE_MS;
    if (share < QUIET_SHARE) return { waitedMs, quiet: true };
    if (waitedMs >= maxMs) return { waitedMs, quiet: false };
  }
}
