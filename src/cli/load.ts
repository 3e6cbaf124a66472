import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { LatencyHistogram } from "./histogram.js";

/** How much load to generate; exactly one of `requests` and `duration` is set. */
export interface LoadPlan {
  /** Requests in flight at once (closed loop: each worker starts its next when one ends). */
  concurrency: number;
  /** Total requests to complete. */
  requests?: number | undefined;
  /** Stop starting requests after this many ms; those in flight finish. */
  duration?: number | undefined;
  /** At most this many requests started per second, over all workers. */
  rate?: number | undefined;
}

/** One request: resolves with the bytes it moved, rejects to count an error. */
export type RequestFn = (seq: number) => Promise<number>;

/** What a load run measured. Latency includes any wait for a socket. */
export interface LoadResult {
  requests: number;
  errors: number;
  /** Error count by `code` (or the error's name when it has none). */
  errorCodes: Record<string, number>;
  /** The first error seen, for the summary. */
  firstError: Error | undefined;
  durationMs: number;
  bytes: number;
  latency: LatencyHistogram;
}

/**
 * Runs `plan` against `request` and resolves when every started request has settled.
 * `stop()` ends the run early the same way (no new requests; in-flight ones finish).
 *
 * State (shared by the workers, all synchronous between awaits): `#started` counts sequence
 * numbers handed out (≤ `requests`; one waiting for its `--rate` slot may be dropped by a
 * stop), `#done` requests settled (ok or error); `#halted` once `stop()` was called.
 * Invariant: done ≤ started, and at most `concurrency` requests are in flight.
 */
export class LoadRun {
  readonly #plan: LoadPlan;
  readonly #request: RequestFn;
  readonly #latency = new LatencyHistogram();
  readonly #errorCodes: Record<string, number> = {};
  #firstError: Error | undefined;
  #started = 0;
  #done = 0;
  #errors = 0;
  #bytes = 0;
  #halted = false;
  #t0 = 0;

  constructor(plan: LoadPlan, request: RequestFn) {
    this.#plan = plan;
    this.#request = request;
  }

  /** Completed requests so far (ok + errors). */
  get done(): number {
    return this.#done;
  }
  get errors(): number {
    return this.#errors;
  }
  /** Ms since `run()` began. */
  get elapsed(): number {
    return this.#t0 === 0 ? 0 : performance.now() - this.#t0;
  }

  /** Share of the plan done, 0 to 1: by requests, or by time for a duration. */
  get fraction(): number {
    const { requests, duration } = this.#plan;
    if (requests !== undefined) return this.#done / requests;
    return duration ? Math.min(1, this.elapsed / duration) : 0;
  }

  /** No new requests from now on; `run()` resolves once in-flight ones settle. */
  stop(): void {
    this.#halted = true;
  }

  async run(): Promise<LoadResult> {
    this.#t0 = performance.now();
    const workers = Array.from({ length: this.#plan.concurrency }, () => this.#worker());
    await Promise.all(workers);
    return {
      requests: this.#done,
      errors: this.#errors,
      errorCodes: this.#errorCodes,
      firstError: this.#firstError,
      durationMs: this.elapsed,
      bytes: this.#bytes,
      latency: this.#latency,
    };
  }

  async #worker(): Promise<void> {
    for (let seq = this.#next(); seq !== undefined; seq = this.#next()) {
      const rate = this.#plan.rate;
      if (rate !== undefined) {
        const wait = this.#t0 + (seq * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        if (this.#halted || this.#pastDeadline()) return;
      }
      const start = performance.now();
      try {
        const bytes = await this.#request(seq);
        this.#bytes += bytes;
        this.#latency.record(performance.now() - start);
      } catch (err) {
        this.#recordError(err);
        await this.#pauseAfter(err);
      }
      this.#done++;
    }
  }

  /** The next request's sequence number, or undefined when the plan is spent or halted. */
  #next(): number | undefined {
    const { requests } = this.#plan;
    if (this.#halted || this.#pastDeadline() || (requests !== undefined && this.#started >= requests)) return undefined;
    return this.#started++;
  }

  #pastDeadline(): boolean {
    return this.#plan.duration !== undefined && this.elapsed >= this.#plan.duration;
  }

  /**
   * After a failure: an error that says when to retry (EndpointUnavailableError's
   * `retryAfter`) is honoured, up to 1 s and the deadline, so a dead endpoint yields a few
   * meaningful errors rather than a flood; any other error still yields to the event loop,
   * so requests that fail at once cannot starve timers and signals.
   */
  async #pauseAfter(err: unknown): Promise<void> {
    const retryAfter = (err as { retryAfter?: unknown } | null)?.retryAfter;
    if (typeof retryAfter !== "number" || !(retryAfter > 0)) return new Promise((resolve) => setImmediate(resolve));
    const left = this.#plan.duration === undefined ? Number.POSITIVE_INFINITY : this.#plan.duration - this.elapsed;
    await sleep(Math.max(0, Math.min(retryAfter, 1000, left)));
  }

  #recordError(err: unknown): void {
    this.#errors++;
    const code = (err as { code?: unknown } | null)?.code;
    const key = typeof code === "string" ? code : err instanceof Error ? err.name : "unknown";
    this.#errorCodes[key] = (this.#errorCodes[key] ?? 0) + 1;
    this.#firstError ??= err instanceof Error ? err : new Error(String(err));
  }
}
