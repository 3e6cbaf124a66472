import { createHistogram, type RecordableHistogram } from "node:perf_hooks";

/** Latency percentiles in milliseconds, as printed by `bench` and written in its JSON. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Request latencies in an HDR histogram (`perf_hooks.createHistogram`: 3 significant
 * figures, so a percentile is within 0.1% of the true value), recorded in microseconds.
 *
 * State:
 * - `#hdr`: one count per recorded latency, in µs (≥ 1; shorter latencies count as 1 µs).
 * - `#min`, `#max`: exact extremes in ms (the HDR buckets round them); `#count` = recordings.
 */
export class LatencyHistogram {
  readonly #hdr: RecordableHistogram = createHistogram();
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records one latency in milliseconds (a `performance.now()` difference). */
  record(ms: number): void {
    this.#hdr.record(Math.max(1, Math.round(ms * 1000)));
    this.#count++;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  /** The latency at percentile `p` (0–100) in ms; 0 when nothing was recorded. */
  percentile(p: number): number {
    return this.#count === 0 ? 0 : Math.min(this.#hdr.percentile(p) / 1000, this.#max);
  }

  /** Every figure `bench` reports, rounded to µs. All zero when nothing was recorded. */
  summary(): LatencySummary {
    const empty = this.#count === 0;
    const r = (ms: number) => Math.round(ms * 1000) / 1000;
    return {
      count: this.#count,
      min: empty ? 0 : r(this.#min),
      mean: empty ? 0 : r(this.#hdr.mean / 1000),
      p50: r(this.percentile(50)),
      p90: r(this.percentile(90)),
      p99: r(this.percentile(99)),
      max: r(this.#max),
    };
  }
}
