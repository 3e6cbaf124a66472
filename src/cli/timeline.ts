/** Requests per second of a run, as autocannon shows them: figures over the run's seconds. */
export interface RateStats {
  /** Requests completed in the slowest second. */
  min: number;
  mean: number;
  max: number;
  /** Population standard deviation over the seconds. */
  stdev: number;
  /** Seconds measured: the run's complete seconds (one when the run was shorter). */
  samples: number;
}

/** What a run did in each second: index 0 is the first second after the run began. */
export interface TimelineData {
  /** Requests that succeeded in each second. */
  requests: number[];
  /** Failed requests in each second, by error code; every array is as long as `requests`. */
  errors: Record<string, number[]>;
}

/**
 * Counts completions per second of a run: successes, and failures by error code.
 *
 * State: `#ok[s]` and `#errors.get(code)[s]` count the requests that ended in second `s`
 * (from `elapsedMs / 1000`, floored); seconds with none are holes until {@link data} fills
 * them with 0. `#limit`: a duration run's deadline in ms; a completion recorded after it
 * (the deadline's timer fired late, or a reply landed as it fired) counts in the last
 * second before it, so the timeline has exactly the run's seconds. Invariant: the counts
 * sum to the completions recorded.
 */
export class Timeline {
  readonly #ok: number[] = [];
  readonly #errors = new Map<string, number[]>();
  readonly #limit: number;

  constructor(limitMs = Number.POSITIVE_INFINITY) {
    this.#limit = limitMs;
  }

  /** One success, `elapsedMs` after the run began. */
  ok(elapsedMs: number): void {
    bump(this.#ok, Math.min(elapsedMs, this.#limit - 1));
  }

  /** One failure with `code`, `elapsedMs` after the run began. */
  error(elapsedMs: number, code: string): void {
    let counts = this.#errors.get(code);
    if (counts === undefined) this.#errors.set(code, (counts = []));
    bump(counts, Math.min(elapsedMs, this.#limit - 1));
  }

  /** Every second of a run that lasted `durationMs` (up to its deadline), dense; the last may be partial. */
  data(durationMs: number): TimelineData {
    const lengths = [this.#ok.length, ...[...this.#errors.values()].map((c) => c.length)];
    const seconds = Math.max(1, Math.ceil(Math.min(durationMs, this.#limit) / 1000), ...lengths);
    const dense = (counts: number[]) => Array.from({ length: seconds }, (_, i) => counts[i] ?? 0);
    const errors: Record<string, number[]> = {};
    for (const code of [...this.#errors.keys()].sort()) errors[code] = dense(this.#errors.get(code)!);
    return { requests: dense(this.#ok), errors };
  }

  /**
   * Successes per second over the run's complete seconds. A run shorter than a second has
   * one sample: its successes scaled to a second. A partial last second is left out, as
   * autocannon samples once a second: its count would read as a slow second.
   */
  rate(durationMs: number): RateStats {
    const span = Math.min(durationMs, this.#limit);
    const whole = Math.floor(span / 1000);
    const samples =
      whole >= 1
        ? Array.from({ length: whole }, (_, i) => this.#ok[i] ?? 0)
        : [span > 0 ? ((this.#ok[0] ?? 0) * 1000) / span : 0];
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length;
    const r = (n: number) => Math.round(n * 100) / 100;
    return {
      min: r(Math.min(...samples)),
      mean: r(mean),
      max: r(Math.max(...samples)),
      stdev: r(Math.sqrt(variance)),
      samples: samples.length,
    };
  }
}

function bump(counts: number[], elapsedMs: number): void {
  const s = Math.max(0, Math.floor(elapsedMs / 1000));
  counts[s] = (counts[s] ?? 0) + 1;
}
