import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { type Connection, connect, InvalidArgumentError, LimitExceededError, ReadTimeoutError } from "sockpool";
import { createAckServer, createEchoServer, createPrintServer, createServer } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { collect, dial, received, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("Slowloris and idle clients (scenario 12)", () => {
  it(
    "closes a trickling client at the line deadline, a silent one at the idle timeout, and serves the rest",
    opts,
    async (t) => {
      const { server, port } = await serve(t, createAckServer({ perLine: true, lineTimeout: 600, idleTimeout: 1000 }));
      // The slowloris: one byte every 200 ms, never a newline, so it is never idle.
      const loris = await dial(t, port);
      const lorisGot = collect(loris);
      const start = Date.now();
      let lastByte = start;
      const drip = setInterval(() => {
        if (!loris.writable) return;
        loris.write("x");
        lastByte = Date.now();
      }, 200);
      t.after(() => clearInterval(drip));
      loris.write("x");
      const silent = await dial(t, port);
      const silentGot = collect(silent);
      // 100 well-behaved clients, each sending 5 lines while the slowloris drips.
      const latencies: number[] = [];
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const c = await connect(`127.0.0.1:${port}`);
          t.after(() => c.destroy());
          for (let i = 0; i < 5; i++) {
            const t0 = Date.now();
            await c.write(`hello ${i}\n`);
            assert.equal(await c.readLine(), "Message received");
            latencies.push(Date.now() - t0);
          }
          await c.close();
        }),
      );
      await lorisGot.ended;
      const lorisLived = Date.now() - start;
      clearInterval(drip);
      assert.ok(lorisLived >= 600, `closed after ${lorisLived} ms, before the 600 ms line deadline`);
      assert.ok(Date.now() - lastByte < 1000, "the slowloris was still sending: not an idle timeout");
      await silentGot.ended;
      await until(() => server.stats().idleTimeouts === 1, "the idle timeout");
      assert.equal(server.stats().lineTimeouts, 1);
      assert.equal(latencies.length, 500);
      const worst = Math.max(...latencies);
      assert.ok(worst < 1000, `a well-behaved client waited ${worst} ms (generous bound)`);
    },
  );

  it("gives a stream handler waiting on the line the typed timeout error", opts, async (t) => {
    let seen: unknown;
    const { port } = await serve(
      t,
      async (conn: Connection) => {
        try {
          await conn.readLine();
        } catch (err) {
          seen = err;
          throw err;
        }
      },
      { lineTimeout: 100 },
    );
    const s = await dial(t, port);
    s.write("no newline yet");
    await collect(s).ended;
    await until(() => seen !== undefined, "the handler's error");
    assert.ok(seen instanceof ReadTimeoutError);
    assert.equal(seen.code, "ERR_SOCKPOOL_READ_TIMEOUT");
    assert.match(seen.message, /line timed out after 100 ms/);
  });
});

describe("Huge lines (scenario 13)", () => {
  const max = 64 * 1024;

  it(
    "closes a 10 MiB line in 64 KiB chunks as soon as it passes the maximum, after delivering earlier lines",
    opts,
    async (t) => {
      const lines: string[] = [];
      const errors: unknown[] = [];
      const server = createServer(
        async (conn: Connection) => {
          try {
            for (let l = await conn.readLine(); l !== null; l = await conn.readLine()) lines.push(l);
          } catch (err) {
            errors.push(err);
          }
        },
        { maxLineLength: max },
      );
      const { port } = await serve(t, server);
      const bystander = await connect(`127.0.0.1:${port}`);
      t.after(() => bystander.destroy());
      const s = await dial(t, port);
      const got = collect(s);
      s.write("first\nsecond\n");
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      while (sent < 10 * 1024 * 1024 && !s.destroyed) {
        if (!s.write(chunk)) await Promise.race([once(s, "drain").catch(() => {}), got.ended]);
        sent += chunk.length;
      }
      await got.ended;
      await until(() => errors.length === 1, "the handler's error");
      assert.deepEqual(lines, ["first", "second"]);
      const err = errors[0] as LimitExceededError;
      assert.ok(err instanceof LimitExceededError, String(err));
      assert.equal(err.code, "ERR_SOCKPOOL_LIMIT_EXCEEDED");
      assert.equal(err.limit, max);
      assert.match(err.message, new RegExp(`limit of ${max} bytes`));
      assert.equal(server.stats().linesTooLong, 1);
      assert.ok(server.stats().bytesIn < max * 8, `read ${server.stats().bytesIn} bytes before closing`);
      await bystander.write("still fine\n");
      await until(() => lines.includes("still fine"), "the bystander's line");
    },
  );

  it("closes a line fed one byte at a time right after its maximum", opts, async (t) => {
    const log: string[] = [];
    const server = createPrintServer({ log: (l) => log.push(l), maxLineLength: 500 });
    const { port } = await serve(t, server);
    const s = await dial(t, port, { noDelay: true });
    const got = collect(s);
    s.write("ok\n");
    await until(() => log.length === 1, "the first line");
    let sent = 0;
    while (!s.destroyed && s.writable && sent < 10_000) {
      s.write("z");
      sent++;
      if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
      if (server.stats().linesTooLong > 0) break;
    }
    await got.ended;
    assert.equal(server.stats().linesTooLong, 1);
    assert.ok(server.stats().bytesIn <= 3 + 501 + 64, `read ${server.stats().bytesIn} bytes`);
    assert.match(log[0] ?? "", /^127\.0\.0\.1:\d+: ok$/);
  });
});

describe("Connection limits (scenarios 14, 15)", () => {
  it("serves exactly maxConnections clients, closes the rest at once and counts them", opts, async (t) => {
    const N = 20;
    const { server, port } = await serve(t, createEchoServer({ maxConnections: N }));
    const sockets = await Promise.all(Array.from({ length: N + 50 }, () => dial(t, port)));
    const outcomes = await Promise.all(
      sockets.map(async (s) => {
        s.write("ping");
        try {
          await received(s, 4);
          return "served";
        } catch {
          return "closed";
        }
      }),
    );
    assert.equal(outcomes.filter((o) => o === "served").length, N);
    assert.equal(outcomes.filter((o) => o === "closed").length, 50);
    assert.equal(server.stats().rejected, 50);
    // When some leave, new clients get in.
    const served = sockets.filter((_, i) => outcomes[i] === "served");
    for (const s of served.slice(0, 5)) s.destroy();
    await until(() => server.stats().current === N - 5, "five clients to leave");
    const newcomer = await dial(t, port);
    newcomer.write("again");
    assert.equal((await received(newcomer, 5)).toString(), "again");
  });

  it("rejects maxConnections: 0 as ambiguous and other bad limits by name and value", opts, () => {
    assert.throws(
      () => createEchoServer({ maxConnections: 0 }),
      (e: Error) => e instanceof InvalidArgumentError && /maxConnections 0 is ambiguous/.test(e.message),
    );
    assert.throws(
      () => createEchoServer({ idleTimeout: -5 }),
      (e: Error) => e instanceof InvalidArgumentError && /idleTimeout/.test(e.message) && /-5/.test(e.message),
    );
    assert.throws(
      () => createEchoServer({ slowClientPolicy: "block" as never }),
      (e: Error) => e instanceof InvalidArgumentError && /"block"/.test(e.message),
    );
  });

  it(
    "refuses clients from one address beyond maxConnectionsPerAddress while another address is served",
    opts,
    async (t) => {
      const { server, port } = await serve(t, createEchoServer({ maxConnectionsPerAddress: 2 }));
      const from2 = await Promise.all([0, 1, 2].map(() => dial(t, port, { localAddress: "127.0.0.2" })));
      const results = await Promise.all(
        from2.map(async (s) => {
          s.write("hi");
          return received(s, 2).then(
            () => "served",
            () => "closed",
          );
        }),
      );
      assert.deepEqual(results.sort(), ["closed", "served", "served"]);
      const from3 = await dial(t, port, { localAddress: "127.0.0.3" });
      from3.write("three");
      assert.equal((await received(from3, 5)).toString(), "three");
      assert.equal(server.stats().rejected, 1);
    },
  );
});

describe("Flow control (scenario 16, one client)", () => {
  for (const style of ["protocol echo", "stream echo"] as const) {
    it(`stops reading a client that writes 50 MiB and never reads (${style})`, opts, async (t) => {
      const server =
        style === "protocol echo"
          ? createEchoServer()
          : createServer(async (conn: Connection) => {
              for await (const chunk of conn) await conn.write(chunk);
            });
      const { port } = await serve(t, server);
      const s = await dial(t, port);
      s.pause(); // never read the echoes
      const chunk = Buffer.alloc(1024 * 1024, 0x62);
      let queued = 0;
      while (queued < 50 && s.write(chunk)) queued++;
      // The server stops reading once its replies back up: our writes stop draining.
      await until(() => !s.writable || s.writableLength > 0, "our writes to back up");
      const plateau = async () => {
        const before = server.stats().bytesIn;
        await new Promise((r) => setTimeout(r, 300));
        return [before, server.stats().bytesIn] as const;
      };
      let [a, b] = await plateau();
      for (let i = 0; i < 10 && a !== b; i++) [a, b] = await plateau();
      assert.equal(a, b, "the server stopped reading");
      assert.ok(b < 40 * 1024 * 1024, `the server read ${b} bytes of the 50 MiB`);
      assert.ok(server.stats().bytesOut <= b);
    });
  }
});

describe("Client half-close (scenario 17)", () => {
  it("answers all 1,000 lines sent with a FIN, then closes", opts, async (t) => {
    const { server, port } = await serve(t, createAckServer({ message: "ack", perLine: true }));
    const s = await dial(t, port);
    const got = collect(s);
    s.end(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(""));
    await got.ended;
    const answers = got.text().split("\n").filter(Boolean);
    assert.equal(answers.length, 1000);
    assert.ok(answers.every((a) => a === "ack"));
    await until(() => server.stats().current === 0, "the server to close its side");
  });
});

describe("Idle timeout with a pooled-style client", () => {
  it("closes a connection idle past idleTimeout and the client sees EOF", opts, async (t) => {
    const { server, endpoint } = await serve(t, createEchoServer({ idleTimeout: 150 }));
    const c = await connect(endpoint);
    t.after(() => c.destroy());
    await c.write("x");
    assert.equal((await c.read()).toString(), "x");
    assert.equal((await c.read()).length, 0, "EOF after the idle timeout");
    await until(() => server.stats().idleTimeouts === 1 && server.stats().current === 0, "the slot to free");
  });
});
