import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LatencyHistogram } from "../../src/cli/histogram.js";
import { LoadRun } from "../../src/cli/load.js";
import { ProgressBar, renderBar } from "../../src/cli/progress.js";
import { Timeline } from "../../src/cli/timeline.js";
import { ConnectError, EndpointUnavailableError } from "../../src/errors.js";
import { TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };

/** A request that never completes: it rejects when the run cancels it. */
function untilAborted(signal: AbortSignal): Promise<number> {
  return new Promise((_resolve, reject) =>
    signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
  );
}

describe("LatencyHistogram", () => {
  test("reports percentiles within 0.1% and the exact extremes", opts, () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i); // 1 ms … 1000 ms
    const s = h.summary();
    assert.equal(s.count, 1000);
    assert.equal(s.min, 1);
    assert.equal(s.max, 1000);
    for (const [got, want] of [
      [s.p50, 500],
      [s.p90, 900],
      [s.p99, 990],
    ] as const) {
      assert.ok(Math.abs(got - want) <= want * 0.001 + 0.001, `${got} ≈ ${want}`);
    }
    assert.ok(Math.abs(s.mean - 500.5) < 1, String(s.mean));
  });

  test("never reports a percentile above the maximum, and zeros when empty", opts, () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.summary(), { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 });
    h.record(1.2345);
    const s = h.summary();
    assert.equal(s.max, 1.235);
    assert.ok(s.p99 <= s.max && s.p50 <= s.max);
    h.record(0); // sub-microsecond latencies count as 1 µs
    assert.equal(h.summary().min, 0);
  });
});

describe("LatencyHistogram.bins", () => {
  test("splits fastest to slowest into equal bars whose counts sum to the recordings", opts, () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    const bins = h.bins(10);
    assert.equal(bins.length, 10);
    assert.equal(bins[0]!.fromMs, 1);
    assert.equal(bins[9]!.toMs, 1000);
    assert.equal(
      bins.reduce((n, b) => n + b.count, 0),
      1000,
    );
    for (const b of bins) assert.ok(b.count >= 98 && b.count <= 102, JSON.stringify(b));
  });

  test("one bar when every latency is the same, none when empty", opts, () => {
    const h = new LatencyHistogram();
    assert.deepEqual(h.bins(10), []);
    for (let i = 0; i < 5; i++) h.record(2);
    assert.deepEqual(h.bins(10), [{ fromMs: 2, toMs: 2, count: 5 }]);
  });
});

describe("Timeline", () => {
  test("dense per-second counts, errors by code, sorted", opts, () => {
    const t = new Timeline();
    for (const ms of [10, 20, 1500, 3999]) t.ok(ms);
    t.error(2100, "ERR_B");
    t.error(100, "ERR_A");
    assert.deepEqual(t.data(4000), {
      requests: [2, 1, 0, 1],
      errors: { ERR_A: [1, 0, 0, 0], ERR_B: [0, 0, 1, 0] },
    });
  });

  test("requests per second over complete seconds: min, mean, max, stdev", opts, () => {
    const t = new Timeline();
    const perSecond = [4, 6, 5, 5];
    for (const [s, n] of perSecond.entries()) for (let i = 0; i < n; i++) t.ok(s * 1000 + i);
    t.ok(4100); // a partial fifth second is left out
    assert.deepEqual(t.rate(4200), { min: 4, mean: 5, max: 6, stdev: 0.71, samples: 4 });
  });

  test("a run shorter than a second gives one sample, scaled to a second", opts, () => {
    const t = new Timeline();
    for (let i = 0; i < 10; i++) t.ok(i);
    assert.deepEqual(t.rate(250), { min: 40, mean: 40, max: 40, stdev: 0, samples: 1 });
  });
});

describe("renderBar and ProgressBar", () => {
  test("draws label, bar, percent and detail within the terminal width", opts, () => {
    const line = renderBar("bench", 0.5, "10/20 req", 80);
    assert.match(line, /^bench █+░+ {2}50% {2}10\/20 req$/);
    assert.equal((line.match(/█/g) ?? []).length, (line.match(/░/g) ?? []).length);
    assert.ok(renderBar("bench", 2, "x".repeat(200), 60).length < 60);
    assert.match(renderBar("bench", Number.NaN, "", 80), / {3}0%/);
  });

  test("draws nothing when the stream is not a terminal", opts, () => {
    const written: string[] = [];
    const bar = new ProgressBar({ isTTY: false, write: (t: string) => written.push(t) }, "bench");
    bar.start(() => ({ fraction: 0.5, detail: "" }));
    bar.stop();
    assert.equal(bar.enabled, false);
    assert.deepEqual(written, []);
  });

  test("on a terminal, draws at once and clears the line on stop", opts, () => {
    const written: string[] = [];
    // columns 0: some pseudo-terminals report no width; the bar assumes 80.
    const bar = new ProgressBar({ isTTY: true, columns: 0, write: (t: string) => written.push(t) }, "bench");
    bar.start(() => ({ fraction: 1, detail: "done" }));
    bar.stop();
    assert.equal(written.length, 2);
    assert.match(written[0]!, /100% {2}done$/);
    assert.equal(written[1], "\r\x1b[2K");
  });
});

describe("LoadRun", () => {
  test("completes exactly --requests with at most --concurrency in flight", opts, async () => {
    let inFlight = 0;
    let peak = 0;
    const seqs: number[] = [];
    const run = new LoadRun({ concurrency: 4, requests: 25 }, async (seq) => {
      seqs.push(seq);
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return 10;
    });
    const result = await run.run();
    assert.equal(result.requests, 25);
    assert.equal(result.errors, 0);
    assert.equal(result.bytes, 250);
    assert.equal(result.latency.count, 25);
    assert.equal(peak, 4);
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  test("counts errors by code, keeps the first, and records no latency for them", opts, async () => {
    const run = new LoadRun({ concurrency: 2, requests: 6 }, async (seq) => {
      if (seq % 3 === 0)
        throw new ConnectError("127.0.0.1:1", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
      if (seq === 4) throw new TypeError("boom");
      return 1;
    });
    const result = await run.run();
    assert.equal(result.requests, 6);
    assert.equal(result.errors, 3);
    assert.deepEqual(result.errorCodes, { ERR_SOCKPOOL_CONNECT: 2, TypeError: 1 });
    assert.ok(result.firstError instanceof ConnectError);
    assert.equal(result.latency.count, 3);
  });

  test("a duration is a deadline: requests waiting or in flight then are cancelled, not counted", opts, async () => {
    const seen: AbortSignal[] = [];
    const run = new LoadRun({ concurrency: 3, duration: 50 }, (_seq, signal) => {
      seen.push(signal);
      return untilAborted(signal);
    });
    const result = await run.run();
    assert.deepEqual([result.requests, result.errors, result.cancelled], [0, 0, 3]);
    assert.equal(result.interrupted, false);
    assert.ok(result.durationMs >= 50, String(result.durationMs));
    assert.equal(seen.length, 3);
    assert.ok(seen.every((s) => s.aborted));
  });

  test("requests done before the deadline count; the one in flight at it is cancelled", opts, async () => {
    const run = new LoadRun({ concurrency: 1, duration: 60 }, async (seq, signal) => {
      if (seq < 3) return 1;
      return untilAborted(signal);
    });
    const result = await run.run();
    assert.deepEqual([result.requests, result.errors, result.cancelled, result.bytes], [3, 0, 1, 3]);
    assert.equal(result.latency.count, 3);
  });

  test("interrupt() ends the run at once, cancels what is in flight and marks it", opts, async () => {
    let hanging = 0;
    const run = new LoadRun({ concurrency: 2, duration: 3_600_000 }, async (seq, signal) => {
      if (seq < 10) return 0;
      if (++hanging === 2) queueMicrotask(() => run.interrupt());
      return untilAborted(signal);
    });
    const result = await run.run();
    assert.equal(result.interrupted, true);
    assert.equal(result.requests, 10);
    assert.equal(result.cancelled, 2);
    assert.ok(result.durationMs < 3_600_000);
  });

  test("counts successes per second and errors per second by code", opts, async () => {
    const run = new LoadRun({ concurrency: 1, requests: 4 }, async (seq) => {
      if (seq % 2 === 1) throw new ConnectError("127.0.0.1:1", new Error("refused"));
      return 1;
    });
    const result = await run.run();
    const data = result.timeline.data(result.durationMs);
    assert.deepEqual(data, { requests: [2], errors: { ERR_SOCKPOOL_CONNECT: [2] } });
  });

  test("an error with retryAfter pauses that worker instead of failing in a tight loop", opts, async () => {
    const cause = new Error("refused");
    const run = new LoadRun({ concurrency: 1, duration: 200 }, async () => {
      throw new EndpointUnavailableError("127.0.0.1:1", 50, cause);
    });
    const result = await run.run();
    // One failure per 50 ms window, not thousands.
    assert.ok(result.errors >= 1 && result.errors <= 5, String(result.errors));
    assert.deepEqual(result.errorCodes, { ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE: result.errors });
  });

  test("--rate spaces request starts over time", opts, async () => {
    const starts: number[] = [];
    const run = new LoadRun({ concurrency: 5, requests: 5, rate: 100 }, async () => {
      starts.push(performance.now());
      return 0;
    });
    await run.run();
    // Five starts at 100/s span at least 40 ms (slots at 0, 10, 20, 30, 40 ms).
    assert.ok(starts.at(-1)! - starts[0]! >= 35, `${starts.at(-1)! - starts[0]!} ms`);
  });
});
