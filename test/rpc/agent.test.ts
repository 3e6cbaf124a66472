import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, describe, it, type TestContext } from "node:test";
import { Agent, type Connection, createServer, PoolClosedError, serveRpc } from "sockpool";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/**
 * An rpc server answering "<payload>@<client address>", holding each request `hold` ms. It
 * keeps its server-side connections so a test can reset them.
 */
async function rpcServer(t: TestContext, hold = 0) {
  const live = new Set<Connection>();
  const server = createServer(async (conn) => {
    live.add(conn);
    try {
      await serveRpc(conn, async (payload, ctx) => {
        if (hold > 0) await new Promise((r) => setTimeout(r, hold));
        return `${payload.toString()}@${ctx.remoteAddress}`;
      });
    } finally {
      live.delete(conn);
    }
  });
  server.on("error", () => {});
  await server.listen({ host: "127.0.0.1", port: 0 });
  t.after(() => server.close({ timeout: 100 }));
  const port = (server.address() as AddressInfo).port;
  return { endpoint: `127.0.0.1:${port}`, live, accepted: () => server.stats().total };
}

describe("Agent.channel", () => {
  it("spreads concurrent requests over at most maxSocketsPerEndpoint multiplexed sockets", opts, async (t) => {
    const { endpoint, accepted } = await rpcServer(t, 20);
    const agent = new Agent({ maxSocketsPerEndpoint: 3 });
    t.after(() => agent.close({ timeout: 100 }));
    const ch = agent.channel(endpoint);
    assert.equal(ch.endpoint, endpoint);
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => ch.request(`r${i}`)));
    for (const [i, r] of replies.entries()) assert.equal(r.toString(), `r${i}@127.0.0.1`);
    assert.ok(accepted() >= 1 && accepted() <= 3, `${accepted()} sockets`);
    const stats = agent.stats();
    assert.equal(stats.pool.created, 0, "channel sockets are not checkout sockets");
    assert.ok(stats.channels.opened >= 1 && stats.channels.opened <= 3);
  });

  it("replaces a socket that died, for new requests", opts, async (t) => {
    const srv = await rpcServer(t);
    const agent = new Agent({ maxSocketsPerEndpoint: 2 });
    t.after(() => agent.close({ timeout: 100 }));
    const ch = agent.channel(srv.endpoint);
    assert.equal((await ch.request("a")).toString(), "a@127.0.0.1");
    assert.equal(srv.accepted(), 1);
    for (const conn of srv.live) conn.socket.resetAndDestroy();
    await until(() => srv.live.size === 0, "server-side sockets reset");
    // The dead channel may still be noticed by this request; a new one must then succeed.
    const retry = async (): Promise<string> => {
      for (let i = 0; ; i++) {
        try {
          return (await ch.request("b", { timeout: 2_000 })).toString();
        } catch (err) {
          assert.equal((err as { code?: string }).code, "ERR_SOCKPOOL_CONNECTION_CLOSED");
          assert.ok(i < 1, "only a request already on the dead socket may fail");
        }
      }
    };
    assert.equal(await retry(), "b@127.0.0.1");
    assert.equal(srv.accepted(), 2, "a fresh socket was dialed");
  });

  it("refuses channels and requests once the agent is closing", opts, async (t) => {
    const { endpoint } = await rpcServer(t);
    const agent = new Agent();
    const ch = agent.channel(endpoint);
    assert.equal((await ch.request("x")).toString(), "x@127.0.0.1");
    await agent.close({ timeout: 100 });
    assert.throws(() => agent.channel(endpoint), PoolClosedError);
    await rejectsWith(ch.request("y"), PoolClosedError, "ERR_SOCKPOOL_POOL_CLOSED");
  });

  it("checks out sockets through its pool beside the channels", opts, async (t) => {
    const { endpoint } = await rpcServer(t);
    const agent = new Agent({ channel: { maxInFlight: 4 } });
    t.after(() => agent.close({ timeout: 100 }));
    const conn = await agent.pool.acquire(endpoint);
    assert.equal(agent.stats().pool.borrowed, 1);
    await agent.pool.release(conn);
    assert.equal((await agent.channel(endpoint).request("z")).toString(), "z@127.0.0.1");
  });
});
