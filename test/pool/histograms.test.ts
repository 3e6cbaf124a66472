import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets, closedPort, echoServer, TEST_TIMEOUT } from "../helpers/net.js";
import { gatedDial, testPool } from "./helpers.js";

after(assertNoOpenSockets);

const opts = { timeout: TEST_TIMEOUT };

describe("pool stats: wait, hold and dial histograms", () => {
  it("records the dial time, the wait for it and the hold until release, by the pool's clock", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const gate = gatedDial();
    const pool = testPool(t, { clock, dial: gate.dial });
    const acquiring = pool.acquire(server.endpoint);
    await gate.dialsStarted(1);
    clock.advance(40);
    gate.open();
    const conn = await acquiring;
    clock.advance(700);
    await pool.release(conn);
    const reused = await pool.acquire(server.endpoint);
    await pool.release(reused);

    const s = pool.stats();
    assert.deepEqual([s.dialMs.count, s.dialMs.sum, s.dialMs.max], [1, 40, 40]);
    assert.deepEqual([s.waitMs.count, s.waitMs.sum, s.waitMs.max], [2, 40, 40], "40 ms for the dial, 0 when idle");
    assert.deepEqual([s.holdMs.count, s.holdMs.sum, s.holdMs.max], [2, 700, 700]);
    const le = (h: typeof s.holdMs, bound: number) => h.buckets[h.bounds.indexOf(bound)];
    assert.equal(le(s.holdMs, 0.1), 1, "the second borrow held for 0 ms");
    assert.equal(le(s.holdMs, 500), 1);
    assert.equal(le(s.holdMs, 1000), 2);
    assert.equal(le(s.dialMs, 25), 0);
    assert.equal(le(s.dialMs, 50), 1);
    assert.deepEqual(s.endpoints[server.endpoint]?.holdMs, s.holdMs, "one endpoint: its histograms are the pool's");
  });

  it("a borrow that ends in destruction counts its hold; a failed dial counts no dial time", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { clock, connectRetries: 0 });
    const conn = await pool.acquire(server.endpoint);
    clock.advance(3);
    pool.destroy(conn);
    await assert.rejects(pool.acquire(`127.0.0.1:${await closedPort()}`), { code: "ERR_SOCKPOOL_CONNECT" });
    const s = pool.stats();
    assert.equal(s.holdMs.count, 1);
    assert.equal(s.holdMs.sum, 3);
    assert.equal(s.dialMs.count, 1, "only the dial that connected");
    assert.equal(s.connectErrors, 1);
  });
});
