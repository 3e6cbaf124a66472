import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ConnectError, ConnectionClosedError, InvalidArgumentError, PoolClosedError } from "sockpool";
import { ChannelPool } from "../../src/rpc/index.js";
import { assertNoOpenSockets, closedPort, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { gate, rpcServer } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("ChannelPool", () => {
  it("spreads concurrent requests over at most maxChannelsPerEndpoint sockets", opts, async (t) => {
    const hold = gate();
    const srv = await rpcServer(t, async (p) => {
      await hold.promise;
      return p;
    });
    const pool = new ChannelPool({ maxChannelsPerEndpoint: 3 });
    t.after(() => pool.destroy());
    const all = Array.from({ length: 30 }, (_, i) => pool.request(srv.endpoint, `p${i}`));
    await until(() => pool.stats().endpoints[srv.endpoint]?.channels === 3, "three channels open");
    await until(() => srv.sockets.length === 3, "the server accepted three sockets");
    assert.equal(pool.stats().endpoints[srv.endpoint]?.inFlight, 30);
    hold.open();
    assert.deepEqual(
      (await Promise.all(all)).map(String),
      Array.from({ length: 30 }, (_, i) => `p${i}`),
    );
    assert.equal(pool.stats().opened, 3);
  });

  it("sends to the least loaded channel and reuses idle ones instead of dialing", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    const pool = new ChannelPool({ maxChannelsPerEndpoint: 4 });
    t.after(() => pool.destroy());
    for (let i = 0; i < 20; i++) assert.equal((await pool.request(srv.endpoint, `s${i}`)).toString(), `s${i}`);
    assert.equal(srv.sockets.length, 1, "sequential requests share one idle channel");
  });

  it("reconnects for new requests when a channel dies; the requests on it fail typed", opts, async (t) => {
    const hold = gate();
    const srv = await rpcServer(t, async (p) => {
      if (p.toString() === "hold") await hold.promise;
      return p;
    });
    const pool = new ChannelPool({ maxChannelsPerEndpoint: 1 });
    t.after(() => pool.destroy());
    assert.equal((await pool.request(srv.endpoint, "first")).toString(), "first");
    const held = pool.request(srv.endpoint, "hold");
    await until(() => pool.stats().endpoints[srv.endpoint]?.inFlight === 1, "held request sent");
    (await srv.nthConnection(1)).resetAndDestroy();
    await rejectsWith(held, ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    await until(() => pool.stats().endpoints[srv.endpoint] === undefined, "dead channel left the pool");
    assert.equal((await pool.request(srv.endpoint, "again")).toString(), "again");
    assert.equal(srv.sockets.length, 2);
    assert.equal(pool.stats().opened, 2);
    hold.open();
  });

  it("dials anew for a retry made as soon as the only channel's request fails", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    const pool = new ChannelPool({ maxChannelsPerEndpoint: 1 });
    t.after(() => pool.destroy());
    assert.equal((await pool.request(srv.endpoint, "warm")).toString(), "warm");
    (await srv.nthConnection(1)).resetAndDestroy();
    const retried = await pool.request(srv.endpoint, "lost").then(
      () => "the request got through before the reset was noticed",
      async (err: unknown) => {
        assert.ok(err instanceof ConnectionClosedError, String(err));
        // Same turn as the failure: the dead channel's `closed` callbacks have not run yet.
        return (await pool.request(srv.endpoint, "retry")).toString();
      },
    );
    assert.equal(retried, "retry");
    assert.equal(pool.stats().opened, 2);
  });

  it("fails the requests waiting for a dial with ConnectError, then recovers", opts, async (t) => {
    const port = await closedPort();
    const pool = new ChannelPool({ maxChannelsPerEndpoint: 2 });
    t.after(() => pool.destroy());
    const ep = `127.0.0.1:${port}`;
    const errs = await Promise.allSettled([1, 2, 3].map(() => pool.request(ep, "x")));
    for (const r of errs) {
      assert.equal(r.status, "rejected");
      assert.ok(r.reason instanceof ConnectError && r.reason.message.includes(ep), String(r.reason));
    }
    assert.equal(pool.stats().openFailures, 2);
    assert.deepEqual(pool.stats().endpoints, {}, "a failed endpoint leaves the map");
  });

  it("close lets in-flight requests finish and refuses new ones", opts, async (t) => {
    const hold = gate();
    const srv = await rpcServer(t, async (p) => {
      await hold.promise;
      return p;
    });
    const pool = new ChannelPool();
    t.after(() => pool.destroy());
    const pending = pool.request(srv.endpoint, "inflight");
    await until(() => pool.stats().endpoints[srv.endpoint]?.inFlight === 1, "sent");
    const closing = pool.close();
    await rejectsWith(pool.request(srv.endpoint, "late"), PoolClosedError, "ERR_SOCKPOOL_POOL_CLOSED");
    hold.open();
    assert.equal((await pending).toString(), "inflight");
    await closing;
    assert.equal(pool.stats().state, "closed");
  });

  it("rejects bad options naming the key", opts, () => {
    assert.throws(
      () => new ChannelPool({ maxChannelsPerEndpoint: 0 }),
      (e: Error) => e instanceof InvalidArgumentError && e.message.includes("maxChannelsPerEndpoint"),
    );
    assert.throws(
      () => new ChannelPool({ channel: { maxInFlight: -1 } }),
      (e: Error) => e instanceof InvalidArgumentError && e.message.includes("maxInFlight"),
    );
  });
});
