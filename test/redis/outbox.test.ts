import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoff } from "../../src/redis/options.js";
import { SeenOrigins } from "../../src/redis/origins.js";
import { Outbox, type OutboxEntry } from "../../src/redis/outbox.js";

const entry = (seq: number, size = 1): OutboxEntry => ({ seq, data: Buffer.alloc(size) });
const seqs = (o: Outbox) => {
  const out: number[] = [];
  for (let e = o.take(); e; e = o.take()) out.push(e.seq);
  return out;
};

describe("Outbox", () => {
  it("keeps the newest messages past its message bound, counting the oldest it drops", () => {
    const o = new Outbox(3, 1000);
    for (let i = 1; i <= 5; i++) o.push(entry(i));
    assert.deepEqual([o.length, o.dropped], [3, 2]);
    assert.deepEqual(seqs(o), [3, 4, 5]);
  });

  it("bounds bytes too, and drops a message bigger than the bound by itself", () => {
    const o = new Outbox(100, 10);
    o.push(entry(1, 4));
    o.push(entry(2, 4));
    o.push(entry(3, 4));
    assert.deepEqual([o.length, o.bytes, o.dropped], [2, 8, 1]);
    o.push(entry(4, 11));
    assert.deepEqual([o.length, o.bytes, o.dropped], [0, 0, 4]);
  });

  it("bounds what waits, not what is in flight; a failed connection puts that back first, in order", () => {
    const o = new Outbox(3, 1000);
    for (let i = 1; i <= 3; i++) o.push(entry(i));
    const [a, b] = [o.take() as OutboxEntry, o.take() as OutboxEntry];
    o.ack(a);
    o.push(entry(4));
    o.push(entry(5)); // 3, 4, 5 wait; 2 is with Redis
    assert.deepEqual([o.inFlight, o.waiting, o.dropped], [1, 3, 0]);
    o.push(entry(6)); // over the bound: 3 goes, never 2
    assert.deepEqual([o.inFlight, o.waiting, o.dropped], [1, 3, 1]);
    o.requeue();
    assert.deepEqual(seqs(o), [b.seq, 4, 5, 6]);
    o.push(entry(7));
    assert.equal(o.dropped, 1, "what came back from flight counts toward the bound again only as it waits");
  });

  it("refuses an acknowledgement out of order (replies come in order on one connection)", () => {
    const o = new Outbox(10, 1000);
    o.push(entry(1));
    o.push(entry(2));
    o.take();
    const second = o.take() as OutboxEntry;
    assert.throws(() => o.ack(second), /out of order/);
  });
});

describe("SeenOrigins", () => {
  it("accepts each origin's messages once, in order, and counts the ones it never saw", () => {
    const seen = new SeenOrigins();
    assert.equal(seen.accept("a", 5), 0, "an origin first heard mid-stream");
    assert.equal(seen.accept("a", 6), 0);
    assert.equal(seen.accept("a", 6), -1, "a replay");
    assert.equal(seen.accept("a", 4), -1);
    assert.equal(seen.accept("b", 1), 0, "origins are independent");
    assert.equal(seen.accept("a", 9), 2, "7 and 8 never came");
  });

  it("forgets the origin heard least recently past its bound", () => {
    const seen = new SeenOrigins(2);
    seen.accept("a", 1);
    seen.accept("b", 1);
    seen.accept("a", 2);
    seen.accept("c", 1); // b goes
    assert.equal(seen.accept("a", 2), -1, "a is remembered");
    assert.equal(seen.accept("b", 1), 0, "b was forgotten");
  });
});

describe("backoff", () => {
  it("doubles from the base up to the cap, half of each step fixed and half jitter", () => {
    const low = () => 0;
    const high = () => 1;
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((n) => backoff(n, 100, 1000, low)),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((n) => backoff(n, 100, 1000, high)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(backoff(1e9, 100, 1000, high), 1000, "no overflow after many attempts");
  });
});
