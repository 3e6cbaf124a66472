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

/** One bar of a latency histogram: the latencies in `(fromMs, toMs]` (the first bar includes `fromMs`). */
export interface LatencyBin {
  fromMs: number;
  toMs: number;
  count: number;
}

/** Width of the fine buckets behind {@link LatencyHistogram.bins}: 0.1% of the latency. */
const FINE_STEP = Math.log1p(0.001);

/**
 * Request latencies in an HDR histogram (`perf_hooks.createHistogram`: 3 significant
 * figures, so a percentile is within 0.1% of the true value), recorded in microseconds.
 * Node's histogram does not hand out its buckets, so counts in buckets 0.1% wide are kept
 * beside it, for the histogram bars.
 *
 * State:
 * - `#hdr`: one count per recorded latency, in µs (≥ 1; shorter latencies count as 1 µs).
 * - `#fine`: latencies counted by `floor(ln(µs) / FINE_STEP)`; counts sum to `#count`.
 * - `#min`, `#max`: exact extremes in ms (the HDR buckets round them); `#count` = recordings.
 */
export class LatencyHistogram {
  readonly #hdr: RecordableHistogram = createHistogram();
  readonly #fine = new Map<number, number>();
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records one latency in milliseconds (a `performance.now()` difference). */
  record(ms: number): void {
    const us = Math.max(1, Math.round(ms * 1000));
    this.#hdr.record(us);
    const fine = Math.floor(Math.log(us) / FINE_STEP);
    this.#fine.set(fine, (this.#fine.get(fine) ?? 0) + 1);
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

  /**
   * `n` bars from the fastest latency to the slowest, as `hey` draws them: of equal width,
   * or with `log`, of equal ratio (each bound a constant factor above the one before; for
   * long tails). One bar when every latency is the same (or the fastest is 0 under `log`);
   * none when nothing was recorded. Each latency lands in its bar within 0.1% of its value;
   * the counts sum to {@link count}.
   */
  bins(n: number, log = false): LatencyBin[] {
    if (this.#count === 0) return [];
    const min = this.#min;
    const max = this.#max;
    if (!(max > min) || n <= 1 || (log && !(min > 0))) return [{ fromMs: min, toMs: max, count: this.#count }];
    const bound = log ? (i: number) => min * (max / min) ** (i / n) : (i: number) => min + ((max - min) * i) / n;
    const bins = Array.from({ length: n }, (_, i) => ({
      fromMs: bound(i),
      toMs: i === n - 1 ? max : bound(i + 1),
      count: 0,
    }));
    const place = log
      ? (ms: number) => (n * Math.log(ms / min)) / Math.log(max / min)
      : (ms: number) => (n * (ms - min)) / (max - min);
    for (const [fine, count] of this.#fine) {
      const ms = Math.exp((fine + 0.5) * FINE_STEP) / 1000; // the bucket's middle
      const i = Math.min(n - 1, Math.max(0, Math.ceil(place(ms)) - 1));
      bins[i]!.count += count;
    }
    return bins;
  }
}
