import assert from "node:assert/strict";
import { after, describe, it, type TestContext } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AbortError, AcquireTimeoutError, type Connection } from "sockpool";
import { assertNoOpenSockets, echoServer, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { gatedDial, ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
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

describe("use() ends only its own borrow", () => {
  it("does not release a socket fn gave back that a waiter now holds", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    let next: Promise<Connection> | undefined;
    const result = await pool.use(server.endpoint, async (c) => {
      next = pool.acquire(server.endpoint); // queues behind this borrow
      await pool.release(c); // fn gives the socket back itself (a helper's `await using`)
      return c;
    });
    const b = await (next as Promise<Connection>);
    assert.equal(b, result);
    assert.equal(pool.stats().borrowed, 1, "the waiter still holds it");
    await rejectsWith(
      pool.acquire(server.endpoint, { timeout: 50 }),
      AcquireTimeoutError,
      "ERR_SOCKPOOL_ACQUIRE_TIMEOUT",
      server.endpoint,
    );
    assert.equal(await ping(b), "ping");
    await pool.release(b);
    assert.deepEqual([pool.stats().borrowed, pool.stats().idle], [0, 1]);
  });

  it("does not destroy a socket fn gave back when fn then throws", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    let next: Promise<Connection> | undefined;
    const boom = new Error("boom");
    await assert.rejects(
      pool.use(server.endpoint, async (c) => {
        next = pool.acquire(server.endpoint);
        await pool.release(c);
        await next;
        throw boom;
      }),
      boom,
    );
    const b = await (next as Promise<Connection>);
    assert.equal(b.state, "open");
    assert.equal(pool.stats().destroyed, 0);
    assert.equal(await ping(b), "ping");
    await pool.release(b);
  });
});

describe("cancelled acquires while no socket comes back", () => {
  it("are not kept: 50,000 aborted waiters leave the heap and the queue as they were", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, maxWaiting: 10 });
    const held = await pool.acquire(server.endpoint);
    const abortedAcquire = async () => {
      const ac = new AbortController();
      const p = pool.acquire(server.endpoint, { signal: ac.signal });
      ac.abort();
      await rejectsWith(p, AbortError, "ERR_SOCKPOOL_ABORTED");
    };
    const round = () => Promise.all(Array.from({ length: 10 }, abortedAcquire));
    await round(); // warm up
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 5_000; i++) await round();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Each kept waiter holds its promise, closures and an AbortError: ~3 kB, so ~150 MB.
    assert.ok(grown < 30e6, `heap grew ${(grown / 1e6).toFixed(1)} MB`);
    assert.equal(pool.stats().pending, 0);
    assert.equal(await ping(held), "ping"); // the held socket is untouched
    await pool.release(held);
  });
});

describe("an aborted signal wins over an idle socket", () => {
  it("acquire rejects at once with AbortError and leaves the idle socket idle", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.release(await pool.acquire(server.endpoint));
    const reason = new Error("caller gave up");
    const err = await rejectsWith(
      pool.acquire(server.endpoint, { signal: AbortSignal.abort(reason) }),
      AbortError,
      "ERR_SOCKPOOL_ABORTED",
      server.endpoint,
    );
    assert.equal(err.cause, reason);
    const s = pool.stats();
    assert.deepEqual([s.idle, s.borrowed, s.acquired], [1, 0, 1]);
  });

  it("use() does not run fn when the signal aborts as the socket is handed over", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.release(await pool.acquire(server.endpoint));
    const ac = new AbortController();
    pool.once("acquire", () => ac.abort()); // after the acquire's own check, before use() listens
    let ran = false;
    await rejectsWith(
      pool.use(server.endpoint, async () => (ran = true), { signal: ac.signal }),
      AbortError,
      "ERR_SOCKPOOL_ABORTED",
    );
    assert.equal(ran, false);
    assert.equal(pool.stats().borrowed, 0);
  });
});

describe("a validate hook that never answers", () => {
  const silent = (t: TestContext) => rawServer(t, () => {}); // reads nothing, says nothing
  const hangs = async (c: Connection) => (await c.readLine()) === "ok";

  it("is cut off by acquireTimeout: AcquireTimeoutError, the socket destroyed as validation", opts, async (t) => {
    const server = await silent(t);
    const pool = testPool(t, { validateAfter: 0, validate: hangs, acquireTimeout: 100 });
    await pool.release(await pool.acquire(server.endpoint));
    await rejectsWith(
      pool.acquire(server.endpoint),
      AcquireTimeoutError,
      "ERR_SOCKPOOL_ACQUIRE_TIMEOUT",
      server.endpoint,
    );
    const s = pool.stats();
    assert.deepEqual([s.open, s.borrowed, s.destroyedBy.validation, s.timeouts], [0, 0, 1, 1]);
  });

  it("is cut off by the acquire's signal: AbortError, the socket destroyed as validation", opts, async (t) => {
    const server = await silent(t);
    let started: () => void = () => {};
    const validating = new Promise<void>((r) => (started = r));
    const pool = testPool(t, {
      validateAfter: 0,
      validate: (c) => {
        started();
        return hangs(c);
      },
    });
    await pool.release(await pool.acquire(server.endpoint));
    const ac = new AbortController();
    const acquiring = pool.acquire(server.endpoint, { signal: ac.signal });
    await validating;
    ac.abort();
    await rejectsWith(acquiring, AbortError, "ERR_SOCKPOOL_ABORTED", server.endpoint);
    const s = pool.stats();
    assert.deepEqual([s.open, s.borrowed, s.destroyedBy.validation], [0, 0, 1]);
  });
});

describe("durations beyond a timer's 2^31-1 ms range", () => {
  it("arm no timer that overflows: idle, lifetime and acquire deadlines of weeks", opts, async (t) => {
    const server = await echoServer(t);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    const pool = testPool(t, {
      maxSocketsPerEndpoint: 1,
      idleTimeout: 3e9,
      maxLifetime: 30 * 24 * 3600_000,
      acquireTimeout: 3e9,
    });
    const settle = () => new Promise((r) => setTimeout(r, 50)); // an overflowing timer fires ~50 times
    await pool.release(await pool.acquire(server.endpoint)); // idle: the retirement timer is armed
    await settle();
    assert.deepEqual([pool.stats().idle, pool.stats().destroyed], [1, 0]);
    const held = await pool.acquire(server.endpoint);
    const queued = pool.acquire(server.endpoint); // on the shared default acquire deadline
    await settle();
    assert.deepEqual([pool.stats().pending, pool.stats().timeouts], [1, 0]);
    assert.deepEqual(warnings, []);
    await pool.release(held);
    await pool.release(await queued);
  });
});
