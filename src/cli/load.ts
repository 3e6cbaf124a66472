import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { LatencyHistogram } from "./histogram.js";
import { Timeline } from "./timeline.js";

/** How much load to generate; exactly one of `requests` and `duration` is set. */
export interface LoadPlan {
  /** Requests in flight at once (closed loop: each worker starts its next when one ends). */
  concurrency: number;
  /** Total requests to complete. */
  requests?: number | undefined;
  /**
   * A deadline in ms: at it, requests still waiting for a socket or in flight are cancelled
   * (their signal aborts) and the run ends.
   */
  duration?: number | undefined;
  /** At most this many requests started per second, over all workers. */
  rate?: number | undefined;
}

/**
 * One request: resolves with the bytes it moved, rejects to count an error. `signal` aborts
 * at the deadline or on {@link LoadRun.interrupt}; a request that rejects after that is
 * counted as cancelled, not as an error.
 */
export type RequestFn = (seq: number, signal: AbortSignal) => Promise<number>;

/** What a load run measured. Latency includes any wait for a socket. */
export interface LoadResult {
  /** Requests completed: successes and errors, not the cancelled ones. */
  requests: number;
  errors: number;
  /** Requests started but cut short by the deadline or an interrupt. */
  cancelled: number;
  /** Whether {@link LoadRun.interrupt} ended the run (Ctrl-C). */
  interrupted: boolean;
  /** Error count by `code` (or the error's name when it has none). */
  errorCodes: Record<string, number>;
  /** The first error seen, for the summary. */
  firstError: Error | undefined;
  durationMs: number;
  bytes: number;
  latency: LatencyHistogram;
  /** Successes and errors in each second of the run. */
  timeline: Timeline;
}

/**
 * Runs `plan` against `request` and resolves when every started request has settled.
 * A duration is a deadline, as autocannon keeps it: when it passes, every request still
 * waiting or in flight is cancelled through its signal and counted as such. `interrupt()`
 * (Ctrl-C) ends the run the same way at once and marks it interrupted.
 *
 * State (shared by the workers, all synchronous between awaits): `#started` counts sequence
 * numbers handed out (≤ `requests`; one waiting for its `--rate` slot is dropped by the
 * end), `#done` requests completed (ok or error), `#cancelled` those cut short;
 * `#ending` aborts at the deadline or an interrupt, after which no request starts;
 * `#interrupted` once `interrupt()` was called; `#deadline` is armed while a duration run runs.
 * Invariant: done + cancelled ≤ started, and at most `concurrency` requests are in flight.
 */
export class LoadRun {
  readonly #plan: LoadPlan;
  readonly #request: RequestFn;
  readonly #latency = new LatencyHistogram();
  readonly #timeline: Timeline;
  readonly #errorCodes: Record<string, number> = {};
  readonly #ending = abortController();
  #firstError: Error | undefined;
  #started = 0;
  #done = 0;
  #errors = 0;
  #cancelled = 0;
  #bytes = 0;
  #interrupted = false;
  #deadline: NodeJS.Timeout | undefined;
  #t0 = 0;

  constructor(plan: LoadPlan, request: RequestFn) {
    this.#plan = plan;
    this.#request = request;
    this.#timeline = new Timeline(plan.duration);
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

  /**
   * Ends the run now (Ctrl-C): no new requests, those waiting or in flight are cancelled,
   * and the result says `interrupted`. `run()` resolves once they have settled.
   */
  interrupt(): void {
    this.#interrupted = true;
    this.#ending.abort(new Error("bench interrupted"));
  }

  async run(): Promise<LoadResult> {
    this.#t0 = performance.now();
    const { duration } = this.#plan;
    if (duration !== undefined) {
      this.#deadline = setTimeout(() => this.#ending.abort(new Error(`deadline of ${duration} ms`)), duration);
    }
    try {
      await Promise.all(Array.from({ length: this.#plan.concurrency }, () => this.#worker()));
    } finally {
      clearTimeout(this.#deadline);
    }
    return {
      requests: this.#done,
      errors: this.#errors,
      cancelled: this.#cancelled,
      interrupted: this.#interrupted,
      errorCodes: this.#errorCodes,
      firstError: this.#firstError,
      durationMs: this.elapsed,
      bytes: this.#bytes,
      latency: this.#latency,
      timeline: this.#timeline,
    };
  }

  async #worker(): Promise<void> {
    const signal = this.#ending.signal;
    for (let seq = this.#next(); seq !== undefined; seq = this.#next()) {
      const rate = this.#plan.rate;
      if (rate !== undefined) {
        const wait = this.#t0 + (seq * 1000) / rate - performance.now();
        if (wait > 0 && !(await this.#pause(wait))) return;
        if (signal.aborted || this.#pastDeadline()) return;
      }
      const start = performance.now();
      try {
        const bytes = await this.#request(seq, signal);
        const end = performance.now();
        this.#bytes += bytes;
        this.#latency.record(end - start);
        this.#timeline.ok(end - this.#t0);
      } catch (err) {
        if (signal.aborted) {
          this.#cancelled++;
          return;
        }
        this.#recordError(err);
        this.#done++;
        if (!(await this.#pauseAfter(err))) return;
        continue;
      }
      this.#done++;
    }
  }

  /** The next request's sequence number, or undefined when the plan is spent or the run ends. */
  #next(): number | undefined {
    const { requests } = this.#plan;
    if (this.#ending.signal.aborted || this.#pastDeadline()) return undefined;
    if (requests !== undefined && this.#started >= requests) return undefined;
    return this.#started++;
  }

  #pastDeadline(): boolean {
    return this.#plan.duration !== undefined && this.elapsed >= this.#plan.duration;
  }

  /**
   * After a failure: an error that says when to retry (EndpointUnavailableError's
   * `retryAfter`) is honoured, up to 1 s, so a dead endpoint yields a few meaningful errors
   * rather than a flood; any other error still yields to the event loop, so requests that
   * fail at once cannot starve timers and signals. Resolves false if the run ended meanwhile.
   */
  async #pauseAfter(err: unknown): Promise<boolean> {
    const retryAfter = (err as { retryAfter?: unknown } | null)?.retryAfter;
    if (typeof retryAfter !== "number" || !(retryAfter > 0)) {
      await new Promise((resolve) => setImmediate(resolve));
      return !this.#ending.signal.aborted;
    }
    return this.#pause(Math.min(retryAfter, 1000));
  }

  /** Waits `ms`, or less if the run ends; resolves whether the run goes on. */
  async #pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.#ending.signal });
      return true;
    } catch {
      return false;
    }
  }

  #recordError(err: unknown): void {
    this.#errors++;
    const code = (err as { code?: unknown } | null)?.code;
    const key = typeof code === "string" ? code : err instanceof Error ? err.name : "unknown";
    this.#errorCodes[key] = (this.#errorCodes[key] ?? 0) + 1;
    this.#firstError ??= err instanceof Error ? err : new Error(String(err));
    this.#timeline.error(this.elapsed, key);
  }
}

/** A controller whose signal every request in flight listens to: no listener-count warning. */
function abortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
