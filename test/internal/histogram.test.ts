import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DURATION_BOUNDS_MS, DurationHistogram, RECENT_SAMPLES } from "../../src/internal/histogram.js";

describe("DurationHistogram", () => {
  it("counts a sample in the first bucket whose bound is at or above it, cumulatively", () => {
    const h = new DurationHistogram();
    for (const ms of [0, 0.1, 0.11, 1, 1, 7, 30_000, 30_001]) h.record(ms);
    const s = h.snapshot();
    const upTo = (bound: number) => s.buckets[DURATION_BOUNDS_MS.indexOf(bound)];
    assert.equal(upTo(0.1), 2, "0 and 0.1 (a bound is inclusive)");
    assert.equal(upTo(0.25), 3);
    assert.equal(upTo(1), 5);
    assert.equal(upTo(5), 5);
    assert.equal(upTo(10), 6);
    assert.equal(upTo(30_000), 7, "30 001 is only in +Inf");
    assert.equal(s.count, 8);
    assert.equal(s.sum, 0 + 0.1 + 0.11 + 1 + 1 + 7 + 30_000 + 30_001);
    assert.equal(s.buckets.length, DURATION_BOUNDS_MS.length);
    for (let i = 1; i < s.buckets.length; i++) assert.ok((s.buckets[i] as number) >= (s.buckets[i - 1] as number));
  });

  it("bounds rise strictly from 0.1 ms to 30 s and are shared, frozen", () => {
    assert.equal(DURATION_BOUNDS_MS[0], 0.1);
    assert.equal(DURATION_BOUNDS_MS.at(-1), 30_000);
    for (let i = 1; i < DURATION_BOUNDS_MS.length; i++) {
      assert.ok((DURATION_BOUNDS_MS[i] as number) > (DURATION_BOUNDS_MS[i - 1] as number));
    }
    assert.ok(Object.isFrozen(DURATION_BOUNDS_MS));
    assert.equal(new DurationHistogram().snapshot().bounds, DURATION_BOUNDS_MS);
  });

  it("percentiles describe the recent samples; count, sum and buckets every sample", () => {
    const h = new DurationHistogram();
    assert.deepEqual(
      { ...h.snapshot(), bounds: undefined, buckets: undefined },
      { p50: 0, p90: 0, p99: 0, max: 0, count: 0, sum: 0, bounds: undefined, buckets: undefined },
    );
    for (let i = 1; i <= 100; i++) h.record(i);
    let s = h.snapshot();
    assert.deepEqual([s.p50, s.p90, s.p99, s.max], [51, 91, 100, 100]);
    for (let i = 0; i < RECENT_SAMPLES; i++) h.record(2);
    s = h.snapshot();
    assert.deepEqual([s.p50, s.p99, s.max], [2, 2, 2], "the first 100 samples left the ring");
    assert.equal(s.count, 100 + RECENT_SAMPLES);
    assert.equal(s.buckets.at(-1), 100 + RECENT_SAMPLES, "every sample is ≤ 30 s");
  });
});
