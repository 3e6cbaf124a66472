import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ConnectError, type Connection, connect } from "sockpool";
import { deferred } from "../../src/internal/deferred.js";
import { createEchoServer, createServer, type Server } from "../../src/server/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { collect, dial, finOrReset, sendOneByOne, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** Answers `slow` after 300 ms; `hang` never finishes, even after EOF. */
function workServer(gotSlow: () => void) {
  return createServer(async (conn: Connection) => {
    for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
      if (line === "hang") await new Promise(() => {});
      if (line === "slow") {
        gotSlow();
        await new Promise((r) => setTimeout(r, 300));
      }
      await conn.write(`done ${line}\n`);
    }
  });
}

/** Resolves once `server` has read `n` bytes in all (Node's buffers included). */
const bytesIn = (server: Server, n: number) =>
  until(() => server.stats().bytesIn === n, `the server to read ${n} bytes`);

describe("Graceful shutdown (scenario 20)", () => {
  it(
    "stops accepting, closes idle clients, finishes in-flight work, destroys stragglers at the deadline",
    opts,
    async (t) => {
      const slowArrived = deferred<void>();
      const { server, endpoint } = await serve(
        t,
        workServer(() => slowArrived.resolve()),
      );
      const busy = await connect(endpoint);
      const idle = await connect(endpoint);
      const straggler = await connect(endpoint);
      for (const c of [busy, idle, straggler]) t.after(() => c.destroy());
      await straggler.write("hang\n");
      await busy.write("slow\n");
      await slowArrived.promise;
      await until(() => server.stats().bytesIn === 10, "both requests to reach the server");

      const t0 = Date.now();
      const closing = server.close({ timeout: 1000 });
      assert.equal(server.close(), closing, "a second close returns the same promise");
      assert.equal(server.state, "closing");
      await rejectsWith(connect(endpoint), ConnectError, "ERR_SOCKPOOL_CONNECT", endpoint);

      assert.equal(await idle.readLine(), null, "the idle client gets EOF");
      assert.equal(await busy.readLine(), "done slow", "the in-flight request gets its reply");
      assert.equal(await busy.readLine(), null, "then a FIN");
      const idleAndBusyDone = Date.now() - t0;
      assert.ok(idleAndBusyDone < 1000, `in-flight work finished before the deadline (${idleAndBusyDone} ms)`);

      assert.equal(await straggler.readLine(), null, "the straggler is cut off");
      const lasted = Date.now() - t0;
      assert.ok(lasted >= 990, `the straggler lasted until the deadline (${lasted} ms)`); // timers may fire a ms early
      await closing;
      assert.equal(server.state, "closed");
      assert.equal(server.stats().current, 0);
      assert.equal(server.address(), null);
    },
  );

  it("delivers a delayed protocol reply in flight, then closes", opts, async (t) => {
    const { server, port } = await serve(t, createEchoServer({ delay: 200 }));
    const s = await dial(t, port);
    const got = collect(s);
    s.write("ping");
    await until(() => server.stats().bytesIn === 4, "the request to arrive");
    await server.close({ timeout: 5000 });
    await got.ended;
    assert.equal(got.text(), "ping");
  });

  it("answers every message that arrived before close(), then sends FIN (protocol transport)", opts, async (t) => {
    // The delayed echo pauses its transport while a reply waits, so the second and third
    // messages sit in the paused socket's buffer when the shutdown begins.
    const { server, port } = await serve(t, createEchoServer({ delay: 100 }));
    const s = await dial(t, port);
    const got = collect(s);
    const fin = finOrReset(s);
    await sendOneByOne(s, ["one\n", "two\n", "three\n"], (n) => bytesIn(server, n));
    const closing = server.close({ timeout: 5000 });
    assert.equal(await fin, "FIN");
    assert.equal(got.text(), "one\ntwo\nthree\n", "every message answered before the FIN");
    s.end();
    await closing;
  });

  it("answers every line that arrived before close(), even from a paused socket (stream handler)", opts, async (t) => {
    // A handler that holds each line until `go`, on a connection that pauses its socket above
    // 2 × 16 unread bytes: the third batch stays in the paused socket's buffer.
    const go = deferred<void>();
    const { server, port } = await serve(
      t,
      async (conn: Connection) => {
        for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
          await go.promise;
          await conn.write(`done ${line}\n`);
        }
      },
      { connection: { limit: 16 } },
    );
    const s = await dial(t, port);
    const got = collect(s);
    const fin = finOrReset(s);
    const batches = [0, 1, 2].map((b) => Array.from({ length: 5 }, (_, i) => `line-${b}${i}\n`).join(""));
    await sendOneByOne(s, batches, (n) => bytesIn(server, n));
    const closing = server.close({ timeout: 5000 });
    go.resolve();
    assert.equal(await fin, "FIN");
    const expected = batches.join("").replaceAll("line-", "done line-");
    assert.equal(got.text(), expected, "every line answered before the FIN");
    s.end();
    await closing;
  });

  it("forces the close with destroy() (a second Ctrl-C)", opts, async (t) => {
    const { server, endpoint } = await serve(
      t,
      workServer(() => {}),
    );
    const c = await connect(endpoint);
    t.after(() => c.destroy());
    await c.write("hang\n");
    await until(() => server.stats().bytesIn === 5, "the request to arrive");
    const closing = server.close({ timeout: 60_000 });
    server.destroy();
    await closing;
    assert.equal(await c.readLine(), null);
    assert.equal(server.stats().current, 0);
  });

  it("closes a server that never listened, and disposes idempotently", opts, async () => {
    const server = createEchoServer();
    await server.close();
    await server[Symbol.asyncDispose]();
    assert.equal(server.state, "closed");
  });
});
