import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LatencyHistogram } from "../../src/cli/histogram.js";
import { LoadRun } from "../../src/cli/load.js";
import { ProgressBar, renderBar } from "../../src/cli/progress.js";
import { ConnectError, EndpointUnavailableError } from "../../src/errors.js";
import { TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };

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

  test("a duration run stops starting requests at the deadline; stop() ends it early", opts, async () => {
    const timed = new LoadRun({ concurrency: 3, duration: 30 }, () => new Promise((r) => setTimeout(() => r(0), 5)));
    const result = await timed.run();
    assert.ok(result.durationMs >= 30, String(result.durationMs));
    assert.ok(result.requests >= 3);

    const endless = new LoadRun({ concurrency: 2, duration: 3_600_000 }, async () => {
      await new Promise((r) => setImmediate(r));
      if (endless.done >= 10) endless.stop();
      return 0;
    });
    const stopped = await endless.run();
    assert.ok(stopped.requests >= 10 && stopped.requests <= 12, String(stopped.requests));
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
