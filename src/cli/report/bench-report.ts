import type { BenchSettings } from "../bench-settings.js";
import type { LatencyBin } from "../histogram.js";
import type { LoadResult } from "../load.js";
import type { ReplicaShare, SocketCounts } from "../targets.js";

/** Bars in the terminal's latency histogram and in `--json`'s `histogram`, as `hey` draws them. */
export const SUMMARY_BINS = 10;

/**
 * The `--json` object; its first six fields are fixed (other tools read them). `requests`
 * counts every completed request, `errors` the failed ones among them; `cancelled` those
 * the deadline or Ctrl-C cut short (counted in neither). `rps`, `bytesPerSec`, `latencyMs`,
 * `histogram` (10 bars from the fastest to the slowest, of equal width, or of equal ratio
 * when `spacing` is "log") and `rpsPerSecond` cover successful requests only. `timeline` counts them
 * and the errors (by code) in each second of the run (the last may be partial).
 * `replicas` (a service target only; else null): each replica's borrows, share of them,
 * failed attempts, state and ejections.
 */
export function benchReport(
  s: BenchSettings,
  r: LoadResult,
  sockets: SocketCounts,
  replicas: ReplicaShare[] | undefined = undefined,
) {
  const { count: _count, ...latencyMs } = r.latency.summary();
  const seconds = r.durationMs / 1000;
  return {
    requests: r.requests,
    errors: r.errors,
    durationMs: us(r.durationMs),
    rps: seconds > 0 ? Math.round(((r.requests - r.errors) / seconds) * 100) / 100 : 0,
    latencyMs,
    sockets,
    cancelled: r.cancelled,
    interrupted: r.interrupted,
    bytesPerSec: seconds > 0 ? Math.round(r.bytes / seconds) : 0,
    errorCodes: r.errorCodes,
    firstError: r.firstError
      ? `${(r.firstError as { code?: string }).code ?? r.firstError.name}: ${r.firstError.message}`
      : null,
    rpsPerSecond: r.timeline.rate(r.durationMs),
    histogram: histogram(r, latencyMs),
    timeline: r.timeline.data(r.durationMs),
    replicas: replicas ?? null,
    settings: {
      endpoint: s.key,
      concurrency: s.concurrency,
      pool: s.pool,
      size: s.size,
      requests: s.requests ?? null,
      durationMs: s.duration ?? null,
      rate: s.rate ?? null,
      timeoutMs: Number.isFinite(s.timeout) ? s.timeout : null,
      protocol: s.rpc ? "rpc" : "echo",
    },
  };
}

export type BenchReport = ReturnType<typeof benchReport>;

/**
 * Whether latency bars should be spaced by ratio rather than width: when the slowest took
 * 10 times the fastest or more, equal widths put nearly every request in the first bar.
 */
export function logSpacing(latency: { min: number; max: number }): boolean {
  return latency.min > 0 && latency.max / latency.min >= 10;
}

function histogram(r: LoadResult, latency: { min: number; max: number }) {
  const spacing: "linear" | "log" = logSpacing(latency) ? "log" : "linear";
  return { spacing, bins: r.latency.bins(SUMMARY_BINS, spacing === "log").map(roundBin) };
}

/** Milliseconds rounded to the microsecond. */
export function us(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export function roundBin(bin: LatencyBin): LatencyBin {
  return { fromMs: us(bin.fromMs), toMs: us(bin.toMs), count: bin.count };
}
