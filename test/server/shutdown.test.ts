import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ConnectError, type Connection, connect } from "sockpool";
import { deferred } from "../../src/internal/deferred.js";
import { createEchoServer, createServer } from "../../src/server/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { collect, dial, serve } from "./helpers.js";

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
