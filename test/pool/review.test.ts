import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { assertNoOpenSockets, echoServer, TEST_TIMEOUT, until } from "../helpers/net.js";
import { gatedDial, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("a dial that lands with no waiter and no idle room", () => {
  it("is closed as max-idle without touching the borrowed count", opts, async (t) => {
    const server = await echoServer(t);
    const gate = gatedDial();
    const pool = testPool(t, { maxSocketsPerEndpoint: 2, maxIdlePerEndpoint: 0, dial: gate.dial });
    const pa = pool.acquire(server.endpoint);
    await gate.dialsStarted(1);
    gate.open();
    const a = await pa;
    const pb = pool.acquire(server.endpoint); // queues and starts a second dial
    await gate.dialsStarted(2);
    await pool.release(a); // the waiter gets a's socket; the dial is now surplus
    const b = await pb;
    assert.equal(b, a);
    gate.open();
    await until(() => pool.stats().dialing === 0, "the surplus dial to land");
    const s = pool.stats();
    assert.deepEqual([s.open, s.idle, s.borrowed, s.dialing], [1, 0, 1, 0]);
    assert.equal(s.destroyedBy["max-idle"], 1);
    await pool.release(b);
    const end = pool.stats();
    assert.deepEqual([end.open, end.borrowed, end.released], [0, 0, 2]);
    await pool.close({ timeout: 1000 });
  });
});
