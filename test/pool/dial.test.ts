import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it } from "node:test";
import { AbortError, AcquireTimeoutError, ConnectError, ConnectTimeoutError, EndpointUnavailableError } from "sockpool";
import { blackholePort } from "../helpers/blackhole.js";
import { ManualClock } from "../helpers/clock.js";
import {
  assertNoOpenSockets,
  closedPort,
  echoServer,
  rejectsWith,
  socketHandleCount,
  TEST_TIMEOUT,
  until,
} from "../helpers/net.js";
import { gatedDial, ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("an endpoint that refuses (RELIABILITY 4)", () => {
  it("fails the waiter at once with ConnectError naming the endpoint, and frees the slot", opts, async (t) => {
    const port = await closedPort();
    // Time stands still: the acquire can only fail through its dial, never by timing out.
    const pool = testPool(t, { acquireTimeout: 10_000, clock: new ManualClock() });
    const err = (await rejectsWith(
      pool.acquire(`127.0.0.1:${port}`),
      ConnectError,
      "ERR_SOCKPOOL_CONNECT",
      `127.0.0.1:${port}`,
    )) as ConnectError;
    assert.equal(err.syscode, "ECONNREFUSED");
    const s = pool.stats();
    assert.equal(s.open, 0);
    assert.equal(s.connectErrors, 1);
  });

  it("fails fast for a short window after a refusal, then dials again", opts, async (t) => {
    const port = await closedPort();
    const clock = new ManualClock();
    const pool = testPool(t, { failFastWindow: 200, clock });
    const ep = `127.0.0.1:${port}`;
    await rejectsWith(pool.acquire(ep), ConnectError, "ERR_SOCKPOOL_CONNECT");
    const fast = (await rejectsWith(
      pool.acquire(ep),
      EndpointUnavailableError,
      "ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE",
      ep,
    )) as EndpointUnavailableError;
    assert.equal(fast.retryAfter, 200);
    assert.ok(fast.cause instanceof ConnectError);
    assert.equal(pool.stats().connectErrors, 1, "the fast failure did not dial");
    // The endpoint comes back: after the window, acquires work without restarting anything.
    const server = net.createServer((s) => s.pipe(s));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    clock.advance(199);
    await rejectsWith(pool.acquire(ep), EndpointUnavailableError, "ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE", "retry in 1 ms");
    clock.advance(1);
    const conn = await pool.acquire(ep);
    assert.equal(await ping(conn), "ping");
    pool.destroy(conn);
  });

  it("with retries, backs off (no busy loop) and stops at the acquire deadline", opts, async (t) => {
    const port = await closedPort();
    const clock = new ManualClock();
    const pool = testPool(t, { connectRetries: 1_000, retryDelay: 10, retryMaxDelay: 40, acquireTimeout: 300, clock });
    let settled = false;
    const acquiring = pool.acquire(`127.0.0.1:${port}`).finally(() => (settled = true));
    acquiring.catch(() => {});
    // Each refused attempt waits for its backoff on the clock: no attempt without time passing.
    let steps = 0;
    for (;;) {
      const seen = pool.stats().connectErrors;
      await until(() => settled || pool.stats().connectErrors > seen, "the next refused attempt");
      if (settled) break;
      assert.equal(pool.stats().connectErrors, seen + 1, "one attempt per backoff, not a spin");
      clock.advance(40); // the longest backoff
      steps++;
    }
    const err = (await rejectsWith(
      acquiring,
      AcquireTimeoutError,
      "ERR_SOCKPOOL_ACQUIRE_TIMEOUT",
      "300 ms",
    )) as AcquireTimeoutError;
    assert.ok(err.cause instanceof ConnectError, "the last dial error is the cause");
    const attempts = pool.stats().connectErrors;
    assert.ok(attempts >= steps && attempts <= steps + 1, `${attempts} attempts in ${steps} steps of 40 ms`);
    assert.ok(steps >= 300 / 40 && steps <= 300 / 40 + 1, `${steps} steps of 40 ms to a 300 ms deadline`);
    await until(() => pool.stats().open === 0, "the retrying dial is abandoned");
    const after = pool.stats().connectErrors;
    clock.advance(10_000);
    assert.equal(pool.stats().connectErrors, after, "no dialing once nobody waits");
  });

  it("with retries, succeeds once the endpoint comes back", opts, async (t) => {
    const port = await closedPort();
    const pool = testPool(t, { connectRetries: 50, retryDelay: 10, retryMaxDelay: 20 });
    const pending = pool.acquire(`127.0.0.1:${port}`);
    await until(() => pool.stats().connectErrors >= 2, "two refused attempts");
    const server = net.createServer((s) => s.pipe(s));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    server.listen(port, "127.0.0.1");
    const conn = await pending;
    assert.equal(await ping(conn), "ping");
    assert.equal(pool.stats().open, 1);
    pool.destroy(conn);
  });

  it("rejects every waiter of a refusing endpoint instead of redialing per waiter", opts, async (t) => {
    const port = await closedPort();
    const pool = testPool(t, { maxSocketsPerEndpoint: 2 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => pool.acquire(`127.0.0.1:${port}`)));
    assert.ok(results.every((r) => r.status === "rejected"));
    const codes = results.map((r) => (r as PromiseRejectedResult).reason.code);
    assert.ok(codes.includes("ERR_SOCKPOOL_CONNECT"));
    assert.ok(
      codes.every((c) => c === "ERR_SOCKPOOL_CONNECT" || c === "ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE"),
      codes.join(),
    );
    assert.ok(pool.stats().connectErrors <= 2, `${pool.stats().connectErrors} dials for 10 waiters`);
  });
});

describe("a blackholed endpoint (RELIABILITY 5)", () => {
  it("times out the dial with ConnectTimeoutError; the dial counts toward the bound", opts, async (t) => {
    const port = await blackholePort(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, connectTimeout: 150 });
    const ep = `127.0.0.1:${port}`;
    const first = pool.acquire(ep);
    const second = pool.acquire(ep, { timeout: 50 });
    let s = pool.stats();
    assert.equal(s.dialing, 1);
    assert.equal(s.open, 1);
    assert.equal(s.pending, 2);
    await rejectsWith(second, AcquireTimeoutError, "ERR_SOCKPOOL_ACQUIRE_TIMEOUT", "1 dialing");
    const err = (await rejectsWith(
      first,
      ConnectTimeoutError,
      "ERR_SOCKPOOL_CONNECT_TIMEOUT",
      "150 ms",
    )) as ConnectTimeoutError;
    assert.equal(err.endpoint, ep);
    s = pool.stats();
    assert.equal(s.open, 0);
  });

  it("does not slow other endpoints", opts, async (t) => {
    const port = await blackholePort(t);
    const server = await echoServer(t);
    const pool = testPool(t, { connectTimeout: 2_000, maxSockets: 10 });
    const stuck = pool.acquire(`127.0.0.1:${port}`).catch((e: Error) => e);
    assert.equal(await pool.use(server.endpoint, (c) => ping(c)), "ping");
    const dead = pool.stats().endpoints[`127.0.0.1:${port}`];
    assert.equal(dead?.dialing, 1, "served while the dead endpoint's dial still hangs");
    await pool.close({ timeout: 10 });
    assert.ok((await stuck) instanceof Error);
  });
});

describe("abort while connecting (RELIABILITY 7)", () => {
  it("rejects with the signal's reason and destroys the half-made socket", opts, async (t) => {
    const port = await blackholePort(t);
    const pool = testPool(t);
    const before = socketHandleCount();
    const ac = new AbortController();
    const pending = pool.acquire(`127.0.0.1:${port}`, { signal: ac.signal });
    await until(() => socketHandleCount() > before, "the dial's socket exists");
    ac.abort("changed my mind");
    const err = await rejectsWith(pending, AbortError, "ERR_SOCKPOOL_ABORTED");
    assert.equal(err.cause, "changed my mind");
    assert.equal(pool.stats().dialing, 0);
    await until(() => socketHandleCount() <= before, "the half-made socket is destroyed");
  });

  it("a dial whose waiter gave up still completes and serves the next waiter", opts, async (t) => {
    const server = await echoServer(t);
    const gate = gatedDial();
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, dial: gate.dial });
    const ac = new AbortController();
    const first = pool.acquire(server.endpoint, { signal: ac.signal });
    const second = pool.acquire(server.endpoint);
    await gate.dialsStarted(1);
    ac.abort();
    await rejectsWith(first, AbortError, "ERR_SOCKPOOL_ABORTED");
    assert.equal(pool.stats().dialing, 1, "the dial goes on for the next waiter");
    gate.open();
    const conn = await second;
    assert.equal(await ping(conn), "ping");
    assert.equal(pool.stats().created, 1);
    await pool.release(conn);
  });

  it("a burst of waiters opens no more sockets than the bound", opts, async (t) => {
    const server = await echoServer(t);
    const gate = gatedDial();
    const pool = testPool(t, { maxSocketsPerEndpoint: 5, dial: gate.dial });
    const all = Array.from({ length: 20 }, () => pool.use(server.endpoint, (c) => ping(c)));
    await gate.dialsStarted(5);
    assert.equal(pool.stats().dialing, 5);
    gate.openAll();
    assert.deepEqual(await Promise.all(all), Array(20).fill("ping"));
    assert.equal(gate.started, 5);
    assert.equal(pool.stats().created, 5);
  });

  it("a burst smaller than the bound opens one socket per waiter, no more", opts, async (t) => {
    const server = await echoServer(t);
    const gate = gatedDial();
    const pool = testPool(t, { maxSocketsPerEndpoint: 10, dial: gate.dial });
    const all = Array.from({ length: 3 }, () => pool.acquire(server.endpoint));
    await gate.dialsStarted(3);
    assert.equal(pool.stats().dialing, 3);
    gate.openAll();
    for (const c of await Promise.all(all)) await pool.release(c);
    assert.equal(pool.stats().created, 3);
  });
});

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
