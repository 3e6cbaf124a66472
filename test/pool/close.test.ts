import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ConnectError, connect, PoolClosedError } from "sockpool";
import { SocketPool } from "../../src/pool/index.js";
import { assertNoOpenSockets, echoServer, rejectsWith, TEST_TIMEOUT } from "../helpers/net.js";
import { ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("close with borrowed sockets and waiters (RELIABILITY 10)", () => {
  it("rejects queued and new acquires, lets borrowed work finish, then resolves", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const conn = await pool.acquire(server.endpoint);
    const queued = pool.acquire(server.endpoint);
    const closing = pool.close({ timeout: 5_000 });
    assert.equal(pool.state, "closing");
    await rejectsWith(queued, PoolClosedError, "ERR_SOCKPOOL_POOL_CLOSED", server.endpoint);
    await rejectsWith(pool.acquire(server.endpoint), PoolClosedError, "ERR_SOCKPOOL_POOL_CLOSED");
    assert.equal(await ping(conn, "in flight"), "in flight", "borrowed work is not cut");
    let done = false;
    void closing.then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, "close waits for the borrowed socket");
    await pool.release(conn);
    await closing;
    assert.equal(pool.state, "closed");
    await pool.closed;
    assert.equal(conn.state, "closed");
    const s = pool.stats();
    assert.equal(s.open, 0);
    assert.equal(s.destroyedBy["pool-closed"], 1);
  });

  it("a second close is harmless and returns the same promise", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.use(server.endpoint, (c) => ping(c));
    const first = pool.close();
    assert.equal(pool.close(), first);
    await first;
    await pool[Symbol.asyncDispose]();
    assert.equal(pool.stats().open, 0);
  });

  it("closes idle sockets gracefully and resolves once they are closed", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const conns = await Promise.all([1, 2, 3].map(() => pool.acquire(server.endpoint)));
    for (const c of conns) await pool.release(c);
    await pool.close();
    for (const c of conns) assert.equal(c.state, "closed");
    assert.equal(pool.stats().destroyedBy["pool-closed"], 3);
  });

  it("a release after close resolves and closes the socket", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const conn = await pool.acquire(server.endpoint);
    const closing = pool.close({ timeout: 20 });
    await closing; // the deadline destroyed it
    await pool.release(conn);
    assert.equal(conn.state, "closed");
  });

  it("aborts dials in progress", opts, async (t) => {
    const pool = testPool(t, { dial: (ep) => connect(ep, { timeout: 60_000 }) });
    const server = await echoServer(t);
    const pending = pool.acquire(server.endpoint);
    await pool.close();
    await rejectsWith(pending, PoolClosedError, "ERR_SOCKPOOL_POOL_CLOSED");
    assert.equal(pool.stats().open, 0);
  });
});

describe("endpoint isolation and map hygiene (RELIABILITY 11)", () => {
  it("an empty endpoint pool leaves the map: 10,000 endpoints over time do not grow it", opts, async (t) => {
    const server = await echoServer(t);
    // Every endpoint is dialed to the one echo server, so many keys cost few real ports.
    const pool = testPool(t, {
      failFastWindow: 0,
      dial: (ep, options) =>
        ep.key.endsWith("0")
          ? connect(server.endpoint, options)
          : Promise.reject(new ConnectError(ep.key, new Error("refused"))),
    });
    for (let i = 0; i < 10_000; i++) {
      const ep = `127.0.0.${1 + (i % 200)}:${1000 + i}`;
      if (i % 10 === 0) {
        const c = await pool.acquire(ep);
        pool.destroy(c);
      } else {
        await pool.acquire(ep).catch(() => {});
      }
      if (i % 1000 === 999) assert.ok(Object.keys(pool.stats().endpoints).length <= 1);
    }
    const s = pool.stats();
    assert.deepEqual(s.endpoints, {});
    assert.equal(s.acquired, 1_000, "totals survive endpoints leaving the map");
    assert.equal(s.connectErrors, 9_000);
    assert.equal(s.destroyed, 1_000);
  });

  it("stats() totals sum the endpoints", opts, async (t) => {
    const s1 = await echoServer(t);
    const s2 = await echoServer(t);
    const pool = new SocketPool();
    t.after(() => pool.close());
    const a = await pool.acquire(s1.endpoint);
    await pool.use(s2.endpoint, (c) => ping(c));
    const s = pool.stats();
    assert.equal(s.open, 2);
    assert.equal(s.borrowed, 1);
    assert.equal(s.idle, 1);
    assert.equal(s.endpoints[s1.endpoint]?.borrowed, 1);
    assert.equal(s.endpoints[s2.endpoint]?.idle, 1);
    assert.equal(s.acquired, 2);
    assert.ok(s.waitMs.max >= s.waitMs.p50);
    await pool.release(a);
  });
});
