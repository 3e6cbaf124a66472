import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Connection } from "sockpool";
import type { LeakReport } from "../../src/pool/index.js";
import { assertNoOpenSockets, echoServer, TEST_TIMEOUT, until } from "../helpers/net.js";
import { ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("leaks (RELIABILITY 8)", () => {
  it("reports a socket borrowed past leakWarningAfter with the acquire's stack", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { leakWarningAfter: 30 });
    const leak = once(pool, "leak") as Promise<[LeakReport]>;
    const conn = await pool.acquire(server.endpoint); // this line is in the stack
    const [report] = await leak;
    assert.equal(report.endpoint, server.endpoint);
    assert.equal(report.collected, false);
    assert.ok(report.heldMs >= 30, String(report.heldMs));
    assert.match(report.stack ?? "", /lifetime\.test\.js/);
    await pool.release(conn);
  });

  it("does not report a socket released in time", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { leakWarningAfter: 50 });
    let leaks = 0;
    pool.on("leak", () => leaks++);
    await pool.use(server.endpoint, (c) => ping(c));
    await new Promise((r) => setTimeout(r, 80));
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
    const pool = testPool(t, { idleTimeout: 40 });
    await Promise.all([1, 2].map(() => pool.use(server.endpoint, (c) => ping(c))));
    assert.equal(pool.stats().idle, 2);
    await until(() => pool.stats().idle === 0, "idle sockets are reaped");
    assert.equal(pool.stats().destroyedBy["idle-timeout"], 2);
    assert.deepEqual(pool.stats().endpoints, {}, "the empty endpoint left the map");
  });

  it("never retires a socket in use; retires it on release once past maxLifetime", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxLifetime: 30, lifetimeJitter: 0 });
    const conn = await pool.acquire(server.endpoint);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await ping(conn), "ping", "still usable past its lifetime while borrowed");
    await pool.release(conn);
    assert.equal(pool.stats().destroyedBy.lifetime, 1);
    await conn.closed;
  });

  it("retires idle sockets at their lifetime, jittered so a burst does not expire at once", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxLifetime: 250, lifetimeJitter: 200 });
    const at: number[] = [];
    pool.on("destroy", (_c, _k, reason) => reason === "lifetime" && at.push(Date.now()));
    const conns = await Promise.all(Array.from({ length: 8 }, () => pool.acquire(server.endpoint)));
    for (const c of conns) await pool.release(c);
    await until(() => at.length === 8, "all eight retire", 5_000);
    assert.ok(Math.max(...at) - Math.min(...at) >= 20, `spread ${Math.max(...at) - Math.min(...at)} ms`);
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
    const pool = testPool(t, { minIdlePerEndpoint: 2, idleTimeout: 20 });
    await pool.use(server.endpoint, (c) => ping(c));
    await until(() => pool.stats().idle === 2, "two warm sockets");
    await new Promise((r) => setTimeout(r, 60));
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

  it("skips validate for a socket used moments ago", opts, async (t) => {
    const server = await echoServer(t);
    let calls = 0;
    const pool = testPool(t, { validateAfter: 10_000, validate: () => ++calls > 0 });
    await pool.use(server.endpoint, (c) => ping(c));
    await pool.use(server.endpoint, (c) => ping(c));
    assert.equal(calls, 0);
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
