import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { after, describe, it, type TestContext } from "node:test";
import { connect, RemoteError, SockpoolError } from "sockpool";
import { RedisClient } from "../../examples/redis.js";
import { assertNoOpenSockets, closedPort, TEST_TIMEOUT } from "../helpers/net.js";

after(assertNoOpenSockets);

const available = spawnSync("redis-server", ["--version"]).status === 0;
// Locally a missing redis-server skips with a reason; under CI it must fail loudly.
const skip = !available && !process.env.CI ? "redis-server is not installed (apt-get install redis-server)" : false;

/** Starts redis-server on `port` (loopback, no persistence) and resolves once it accepts. */
async function startRedis(t: TestContext, port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  t.after(() => stop(child));
  child.stdout?.resume();
  for (let i = 0; ; i++) {
    try {
      const c = await connect(`127.0.0.1:${port}`, { timeout: 1000 });
      c.destroy();
      await c.closed;
      return child;
    } catch (err) {
      if (child.exitCode !== null || i > 200) throw new Error(`redis-server did not start on ${port}: ${err}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

describe("examples/redis.ts against a real redis-server", { skip }, () => {
  it("runs concurrent SET/GET/INCR from many callers over a few pooled sockets", {
    timeout: TEST_TIMEOUT,
  }, async (t) => {
    assert.ok(available, "redis-server must be installed under CI");
    const port = await closedPort();
    await startRedis(t, port);
    const redis = new RedisClient(`127.0.0.1:${port}`, { poolOptions: { maxSocketsPerEndpoint: 4 } });
    t.after(() => redis.close());
    assert.equal(await redis.ping(), "PONG");
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        assert.equal(await redis.set(`k${i}`, `v${i}`), "OK");
        assert.equal(await redis.get(`k${i}`), `v${i}`);
        await redis.incr("counter");
      }),
    );
    assert.equal(await redis.get("counter"), "100");
    assert.equal(await redis.get("missing"), null);
    await assert.rejects(
      redis.command(["NOSUCHCOMMAND"]),
      (err) => err instanceof RemoteError && err.remoteCode === "ERR",
    );
    assert.equal(await redis.echo("still in step"), "still in step", "an error reply leaves the socket usable");
    const s = redis.pool.stats();
    assert.ok(s.created <= 4, `${s.created} sockets for 100 callers`);
    assert.ok(s.reused > 0);
  });

  it("heals across a Redis restart; no request gets another's reply", { timeout: 60_000 }, async (t) => {
    assert.ok(available, "redis-server must be installed under CI");
    const port = await closedPort();
    let server = await startRedis(t, port);
    const redis = new RedisClient(`127.0.0.1:${port}`, {
      poolOptions: { maxSocketsPerEndpoint: 4, acquireTimeout: 2000, failFastWindow: 20, failFastMaxWindow: 100 },
    });
    t.after(() => redis.close());
    let restarted = false;
    const tally = { ok: 0, okAfterRestart: 0, typed: 0, codes: new Set<string>() };
    const worker = async (w: number) => {
      for (let i = 0; !restarted || tally.okAfterRestart < 200; i++) {
        const token = `w${w}:${i}:${Math.random()}`;
        try {
          const reply = await redis.echo(token);
          // The heart of it: a reply always belongs to its own request.
          assert.equal(reply, token, "a reply reached the wrong request");
          tally.ok++;
          if (restarted) tally.okAfterRestart++;
        } catch (err) {
          assert.ok(err instanceof SockpoolError, `untyped error: ${err}`);
          tally.typed++;
          tally.codes.add(err.code);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    while (tally.ok < 300) await new Promise((r) => setTimeout(r, 10));
    await stop(server); // SIGKILL mid-run: in-flight requests see resets or EOF
    await new Promise((r) => setTimeout(r, 50));
    server = await startRedis(t, port);
    restarted = true;
    await Promise.all(workers);
    t.diagnostic(`ok ${tally.ok}, typed errors ${tally.typed}: ${[...tally.codes].join(", ")}`);
    assert.ok(tally.okAfterRestart >= 200, "requests after the restart succeed on the same pool");
    assert.equal(await redis.incr("after"), 1);
    const s = redis.pool.stats();
    assert.ok(s.open <= 4, `open ${s.open}`);
    assert.ok(s.created > 1, "the pool replaced the sockets the restart killed");
  });

  it("its main() runs as a program", { timeout: TEST_TIMEOUT }, async (t) => {
    const port = await closedPort();
    await startRedis(t, port);
    const script = new URL("../../examples/redis.js", import.meta.url);
    const child = spawn(process.execPath, [script.pathname, `127.0.0.1:${port}`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 0);
    assert.match(out, /200 commands from 50 callers .* counter = 50; [1-4] sockets opened/);
  });
});
