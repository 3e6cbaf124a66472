import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AbortError, AcquireTimeoutError, type Connection } from "sockpool";
import type { LeakReport } from "../../src/pool/index.js";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets, echoServer, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("leaks (RELIABILITY 8)", () => {
  it("reports a socket borrowed past leakWarningAfter with the acquire's stack", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { leakWarningAfter: 30_000, clock });
    const reports: LeakReport[] = [];
    pool.on("leak", (r: LeakReport) => reports.push(r));
    const conn = await pool.acquire(server.endpoint); // this line is in the stack
    clock.advance(29_999);
    assert.equal(reports.length, 0, "not before the threshold");
    clock.advance(1);
    const [report] = reports;
    assert.ok(report !== undefined);
    assert.equal(report.endpoint, server.endpoint);
    assert.equal(report.collected, false);
    assert.equal(report.heldMs, 30_000);
    assert.match(report.stack ?? "", /lifetime\.test\.js/);
    await pool.release(conn);
  });

  it("does not report a socket released in time", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { leakWarningAfter: 50, clock });
    let leaks = 0;
    pool.on("leak", () => leaks++);
    await pool.use(server.endpoint, (c) => ping(c));
    clock.advance(10_000);
    assert.equal(leaks, 0);
  });

  it("reclaims a leaked socket on close, at the deadline", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const leaked = await pool.acquire(server.endpoint);
    await pool.close({ timeout: 30 });
    assert.equal(leaked.state, "closed");
    assert.equal(pool.stats().destroyedBy["pool-closed"], 1);
    assert.equal(pool.stats().open, 0);
  });

  it("recovers the slot of a borrowed connection collected without release", opts, async (t) => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const reports: LeakReport[] = [];
    pool.on("leak", (r: LeakReport) => reports.push(r));
    await (async () => {
      const conn: Connection = await pool.acquire(server.endpoint);
      (await server.nthConnection(1)).resetAndDestroy(); // its socket dies while the borrower forgot it
      await conn.closed;
    })();
    for (let i = 0; i < 50 && pool.stats().open > 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(pool.stats().open, 0, "the slot is recovered");
    assert.equal(pool.stats().destroyedBy.leak, 1);
    assert.equal(reports[0]?.collected, true);
    assert.equal(await pool.use(server.endpoint, (c) => ping(c)), "ping");
  });
});

describe("idle and lifetime retirement (RELIABILITY 9)", () => {
  it("closes sockets idle longer than idleTimeout", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { idleTimeout: 40_000, clock });
    await Promise.all([1, 2].map(() => pool.use(server.endpoint, (c) => ping(c))));
    assert.equal(pool.stats().idle, 2);
    clock.advance(39_999);
    assert.equal(pool.stats().idle, 2, "not before idleTimeout");
    clock.advance(2);
    assert.equal(pool.stats().idle, 0);
    assert.equal(pool.stats().destroyedBy["idle-timeout"], 2);
    assert.deepEqual(pool.stats().endpoints, {}, "the empty endpoint left the map");
  });

  it("never retires a socket in use; retires it on release once past maxLifetime", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { maxLifetime: 30_000, lifetimeJitter: 0, clock });
    const conn = await pool.acquire(server.endpoint);
    clock.advance(50_000);
    assert.equal(await ping(conn), "ping", "still usable past its lifetime while borrowed");
    await pool.release(conn);
    assert.equal(pool.stats().destroyedBy.lifetime, 1);
    await conn.closed;
  });

  it("retires idle sockets at their lifetime, jittered so a burst does not expire at once", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { maxLifetime: 250_000, lifetimeJitter: 200_000, idleTimeout: Infinity, clock });
    const at: number[] = [];
    pool.on("destroy", (_c, _k, reason) => reason === "lifetime" && at.push(clock.now()));
    const start = clock.now();
    const conns = await Promise.all(Array.from({ length: 8 }, () => pool.acquire(server.endpoint)));
    for (const c of conns) await pool.release(c);
    clock.advance(49_999);
    assert.deepEqual(at, [], "none before maxLifetime - lifetimeJitter");
    clock.advance(200_001);
    assert.equal(at.length, 8, "all eight retire by maxLifetime");
    assert.ok(new Set(at).size > 1, "not all at once");
    for (const when of at) assert.ok(when - start >= 50_000 && when - start <= 250_001, String(when - start));
  });

  it("retires a socket after maxUses borrows", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxUses: 2 });
    const a = await pool.acquire(server.endpoint);
    await pool.release(a);
    assert.equal(await pool.acquire(server.endpoint), a);
    await pool.release(a);
    assert.equal(pool.stats().destroyedBy["max-uses"], 1);
    const b = await pool.acquire(server.endpoint);
    assert.notEqual(b, a);
    await pool.release(b);
  });

  it("keeps at most maxIdlePerEndpoint idle sockets", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxIdlePerEndpoint: 1 });
    const a = await pool.acquire(server.endpoint);
    const b = await pool.acquire(server.endpoint);
    await pool.release(a);
    await pool.release(b);
    assert.equal(pool.stats().idle, 1);
    assert.equal(pool.stats().destroyedBy["max-idle"], 1);
  });

  it("keeps minIdlePerEndpoint warm sockets, past idleTimeout, and replaces lost ones", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { minIdlePerEndpoint: 2, idleTimeout: 20_000, clock });
    await pool.use(server.endpoint, (c) => ping(c));
    await until(() => pool.stats().idle === 2, "two warm sockets");
    clock.advance(60_000);
    assert.equal(pool.stats().idle, 2, "idleTimeout does not go below minIdle");
    server.sockets[0]?.destroy();
    await until(() => pool.stats().created === 3 && pool.stats().idle === 2, "the lost socket is replaced");
  });

  it("runs validate on checkout of a socket idle past validateAfter, and replaces a failing one", opts, async (t) => {
    const server = await echoServer(t);
    let calls = 0;
    const pool = testPool(t, {
      validateAfter: 0,
      validate: async (c) => {
        calls++;
        return calls > 1 && (await ping(c, "health")) === "health";
      },
    });
    const first = await pool.acquire(server.endpoint);
    await pool.release(first);
    const second = await pool.acquire(server.endpoint); // validate says no: a new socket
    assert.notEqual(second, first);
    assert.equal(pool.stats().destroyedBy.validation, 1);
    await pool.release(second);
    assert.equal(await pool.acquire(server.endpoint), second); // validate pings: fine
    assert.equal(calls, 2);
  });

  it("skips validate for a socket used moments ago, and runs it once idle past validateAfter", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    let calls = 0;
    const pool = testPool(t, { validateAfter: 10_000, validate: () => ++calls > 0, clock });
    await pool.use(server.endpoint, (c) => ping(c));
    clock.advance(9_999);
    await pool.use(server.endpoint, (c) => ping(c));
    assert.equal(calls, 0);
    clock.advance(10_000);
    await pool.use(server.endpoint, (c) => ping(c));
    assert.equal(calls, 1);
  });

  it("an idle pool does not keep the process alive", opts, async (t) => {
    const server = await echoServer(t);
    const pool = fileURLToPath(new URL("../../src/pool/index.js", import.meta.url));
    const script = `
      import { SocketPool } from ${JSON.stringify(pool)};
      const pool = new SocketPool({ idleTimeout: 60000, maxLifetime: 600000, leakWarningAfter: 60000 });
      await pool.use(${JSON.stringify(server.endpoint)}, async (c) => { await c.write("x\\n"); return c.readLine(); });
      console.log("idle", pool.stats().idle);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => child.kill());
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 0);
    assert.equal(out.trim(), "idle 1");
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
