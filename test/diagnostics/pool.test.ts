import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  AcquireTimeoutError,
  DIAGNOSTICS_CHANNELS as CH,
  ConnectError,
  type Connection,
  type PoolAcquireMessage,
  type PoolDestroyMessage,
} from "sockpool";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets, closedPort, echoServer, rejectsWith, TEST_TIMEOUT } from "../helpers/net.js";
import { testPool } from "../pool/helpers.js";
import { phases, watchChannels, watchTrace } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const POOL_CHANNELS = [
  CH.poolCreate,
  CH.poolAcquire,
  CH.poolRelease,
  CH.poolDestroy,
  CH.poolConnectError,
  CH.poolAcquireTimeout,
];

describe("pool diagnostics channels", () => {
  it("publishes create, acquire, release and destroy in order, with the connection and endpoint", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const seen = watchChannels(t, POOL_CHANNELS);
    const endpoint = server.endpoint;
    const a = await pool.acquire(endpoint);
    await pool.release(a);
    const b = await pool.acquire(endpoint);
    pool.destroy(b);
    assert.equal(b, a);
    assert.deepEqual(seen, [
      ["sockpool:pool:create", { connection: a, endpoint }],
      ["sockpool:pool:acquire", { connection: a, endpoint, reused: false } satisfies PoolAcquireMessage],
      ["sockpool:pool:release", { connection: a, endpoint }],
      ["sockpool:pool:acquire", { connection: a, endpoint, reused: true } satisfies PoolAcquireMessage],
      [
        "sockpool:pool:destroy",
        { connection: a, endpoint, reason: "user", error: undefined } satisfies PoolDestroyMessage,
      ],
    ]);
  });

  it("traces an acquire: start and end at the call, asyncStart and asyncEnd with the connection", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const traced = watchTrace(t, CH.poolAcquire);
    const conn = await pool.acquire(server.endpoint);
    assert.deepEqual(phases(traced), ["start", "end", "asyncStart", "asyncEnd"]);
    assert.deepEqual(traced[0]?.[1], { target: server.endpoint });
    assert.deepEqual(traced[3]?.[1], { target: server.endpoint, result: conn });
    // use() acquires through the same span.
    await pool.use(server.endpoint, async () => {});
    assert.equal(traced.length, 8);
  });

  it("traces an acquire that times out with error, and publishes acquireTimeout and emits it", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { clock, maxSocketsPerEndpoint: 1, acquireTimeout: 1000 });
    const held = await pool.acquire(server.endpoint);
    const traced = watchTrace(t, CH.poolAcquire);
    const seen = watchChannels(t, [CH.poolAcquireTimeout]);
    const events: unknown[][] = [];
    pool.on("acquireTimeout", (...args) => events.push(args));
    const waiting = pool.acquire(server.endpoint);
    clock.advance(1001); // the deadline timer fires 1 ms past the deadline
    const err = await rejectsWith(waiting, AcquireTimeoutError, "ERR_SOCKPOOL_ACQUIRE_TIMEOUT", server.endpoint);
    assert.deepEqual(phases(traced), ["start", "end", "error", "asyncStart", "asyncEnd"]);
    assert.equal(traced[2]?.[1].error, err);
    assert.deepEqual(seen, [["sockpool:pool:acquireTimeout", { endpoint: server.endpoint, error: err }]]);
    assert.deepEqual(events, [[err, server.endpoint]]);
    await pool.release(held);
  });

  it("traces each dial attempt; a refused port gives error, connectError messages and events", opts, async (t) => {
    const port = await closedPort();
    const endpoint = `127.0.0.1:${port}`;
    const pool = testPool(t, { connectRetries: 1, retryDelay: 1 });
    const traced = watchTrace(t, CH.poolConnect);
    const seen = watchChannels(t, [CH.poolConnectError]);
    const events: unknown[][] = [];
    pool.on("connectError", (...args) => events.push(args));
    const err = await rejectsWith(pool.acquire(endpoint), ConnectError, "ERR_SOCKPOOL_CONNECT", endpoint);
    const attempt = ["start", "end", "error", "asyncStart", "asyncEnd"];
    assert.deepEqual(phases(traced), [...attempt, ...attempt]);
    assert.deepEqual(
      traced.map(([, c]) => c.attempt),
      [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
    );
    assert.equal(traced[0]?.[1].endpoint, endpoint);
    assert.ok(traced[2]?.[1].error instanceof ConnectError);
    assert.equal(traced[7]?.[1].error, err, "the last attempt's error is the acquire's");
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1], ["sockpool:pool:connectError", { endpoint, error: err }]);
    assert.deepEqual(events.at(-1), [err, endpoint]);
    assert.equal(events.length, 2);
  });

  it("traces a successful dial with the connection as its result", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const traced = watchTrace(t, CH.poolConnect);
    const conn: Connection = await pool.acquire(server.endpoint);
    assert.deepEqual(phases(traced), ["start", "end", "asyncStart", "asyncEnd"]);
    assert.deepEqual(traced[3]?.[1], { endpoint: server.endpoint, attempt: 0, result: conn });
  });
});
