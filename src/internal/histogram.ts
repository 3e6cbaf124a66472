/** The bounds `record` scans: a plain array, which V8 reads 4–5× faster than a frozen one. */
const BOUNDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

/**
 * Upper bounds, in ms, of the buckets every duration histogram shares: log-spaced in steps of
 * 1, 2.5 and 5 from 0.1 ms to 10 s, then 30 s; a last `+Inf` bucket is implied. Fixed, so
 * histograms of every endpoint and process can be summed (as Prometheus does across series).
 */
export const DURATION_BOUNDS_MS: readonly number[] = Object.freeze([...BOUNDS]);

/** How many recent samples the percentiles are taken from (a power of two). */
export const RECENT_SAMPLES = 1024;

/**
 * One duration histogram, as stats report it, in milliseconds. The percentiles describe the
 * last {@link RECENT_SAMPLES} samples exactly; the buckets, `count` and `sum` describe every
 * sample since the start and only grow.
 */
export interface DurationStats {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Samples since the start. */
  count: number;
  /** Their sum, ms. */
  sum: number;
  /** Upper bounds, ms (the shared {@link DURATION_BOUNDS_MS}); the `+Inf` bucket is `count`. */
  bounds: readonly number[];
  /** Cumulative: `buckets[i]` counts the samples ≤ `bounds[i]`. */
  buckets: number[];
}

/**
 * Durations in fixed buckets plus a ring of the recent ones. `record` is O(1) (at most 17
 * comparisons, smallest bucket first) and allocates nothing.
 *
 * State: `#counts[i]`: samples in `(bounds[i-1], bounds[i]]`, the last slot for those above
 * every bound; `#count`, `#sum` only grow. `#recent[0..#filled)`: the last ≤ RECENT_SAMPLES
 * samples; `#next`: where the next goes (oldest overwritten first).
 */
export class DurationHistogram {
  readonly #counts = new Float64Array(BOUNDS.length + 1);
  readonly #recent = new Float64Array(RECENT_SAMPLES);
  #count = 0;
  #sum = 0;
  #next = 0;
  #filled = 0;

  record(ms: number): void {
    let i = 0;
    while (i < BOUNDS.length && ms > (BOUNDS[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#count++;
    this.#sum += ms;
    this.#recent[this.#next] = ms;
    this.#next = (this.#next + 1) & (RECENT_SAMPLES - 1);
    if (this.#filled < RECENT_SAMPLES) this.#filled++;
  }

  snapshot(): DurationStats {
    const buckets: number[] = [];
    let below = 0;
    for (let i = 0; i < BOUNDS.length; i++) buckets.push((below += this.#counts[i] as number));
    return { ...this.#percentiles(), count: this.#count, sum: this.#sum, bounds: DURATION_BOUNDS_MS, buckets };
  }

  #percentiles(): Pick<DurationStats, "p50" | "p90" | "p99" | "max"> {
    if (this.#filled === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#recent.slice(0, this.#filled).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] as number };
  }
}
