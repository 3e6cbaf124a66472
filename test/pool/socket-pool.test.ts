import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  AbortError,
  AcquireTimeoutError,
  type Connection,
  InvalidArgumentError,
  InvalidEndpointError,
  NotBorrowedError,
  PoolClosedError,
  QueueFullError,
} from "sockpool";
import { SocketPool } from "../../src/pool/index.js";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets, echoServer, rejectsWith, TEST_TIMEOUT } from "../helpers/net.js";
import { ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
after(assertNoOpenSockets);

describe("SocketPool basics", () => {
  it("reuses an idle socket instead of dialing", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const a = await pool.acquire(server.endpoint);
    assert.equal(pool.isReused(a), false);
    assert.equal(await ping(a), "ping");
    await pool.release(a);
    const b = await pool.acquire(server.endpoint);
    assert.equal(b, a);
    assert.equal(pool.isReused(b), true);
    await pool.release(b);
    const s = pool.stats();
    assert.equal(s.created, 1);
    assert.equal(s.acquired, 2);
    assert.equal(s.reused, 1);
    assert.equal(s.released, 2);
    assert.equal(s.idle, 1);
    assert.equal(server.sockets.length, 1);
  });

  it("hands out the most recently used idle socket first", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const a = await pool.acquire(server.endpoint);
    const b = await pool.acquire(server.endpoint);
    await pool.release(a);
    await pool.release(b);
    assert.equal(await pool.acquire(server.endpoint), b);
    assert.equal(await pool.acquire(server.endpoint), a);
  });

  it("releases on scope exit with await using", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    {
      await using c = await pool.acquire(server.endpoint);
      assert.equal(await ping(c), "ping");
      assert.equal(pool.stats().borrowed, 1);
    }
    assert.equal(pool.stats().borrowed, 0);
    assert.equal(pool.stats().idle, 1);
  });

  it("keys endpoints by their normalised form", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const a = await pool.acquire(server.endpoint);
    await pool.release(a);
    const b = await pool.acquire({ host: "127.0.0.1", port: server.port });
    assert.equal(b, a);
    await pool.release(b);
    assert.deepEqual(Object.keys(pool.stats().endpoints), [server.endpoint]);
  });

  it("rejects a double release with NotBorrowedError and keeps the pool whole", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const c = await pool.acquire(server.endpoint);
    await pool.release(c);
    await rejectsWith(pool.release(c), NotBorrowedError, "ERR_SOCKPOOL_NOT_BORROWED", server.endpoint);
    await c[Symbol.asyncDispose](); // a late `await using` exit is a no-op
    const s = pool.stats();
    assert.equal(s.idle, 1);
    assert.equal(s.released, 1);
    assert.equal(await pool.acquire(server.endpoint), c);
  });

  it("rejects release and destroy of a connection it did not lend", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const other = testPool(t);
    const c = await other.acquire(server.endpoint);
    await rejectsWith(pool.release(c), NotBorrowedError, "ERR_SOCKPOOL_NOT_BORROWED");
    assert.throws(() => pool.destroy(c), NotBorrowedError);
    await other.release(c);
  });

  it("destroy() discards a borrowed socket and frees its slot", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const a = await pool.acquire(server.endpoint);
    const waiting = pool.acquire(server.endpoint);
    pool.destroy(a);
    const b = await waiting;
    assert.notEqual(b, a);
    assert.equal(a.state, "closed");
    assert.equal(pool.stats().destroyedBy.user, 1);
    await pool.release(b);
  });

  it("validates options, naming the key and the value", opts, () => {
    assert.throws(() => new SocketPool({ maxSocketsPerEndpoint: 0 }), /maxSocketsPerEndpoint.*got 0/);
    assert.throws(() => new SocketPool({ acquireTimeout: -1 }), InvalidArgumentError);
    assert.throws(() => new SocketPool({ bogus: 1 } as never), /unknown option "bogus"/);
    assert.throws(() => new SocketPool({ maxSocketsPerHost: 3 } as never), /use maxSocketsPerEndpoint/);
    assert.throws(() => new SocketPool({ connect: { noDelay: "yes" } } as never), /noDelay.*"yes"/);
    assert.throws(
      () => new SocketPool({ connect: { localAddress: "not-an-ip" } }),
      (e: unknown) => e instanceof InvalidArgumentError && /localAddress.*"not-an-ip"/.test(e.message),
    );
    assert.throws(() => new SocketPool({ minIdlePerEndpoint: 5, maxSocketsPerEndpoint: 2 }), /minIdlePerEndpoint/);
  });

  it("rejects a bad endpoint with InvalidEndpointError and opens nothing", opts, async (t) => {
    const pool = testPool(t);
    await rejectsWith(pool.acquire("127.0.0.1:99999"), InvalidEndpointError, "ERR_SOCKPOOL_INVALID_ENDPOINT", "99999");
    await rejectsWith(pool.acquire("nope"), InvalidEndpointError, "ERR_SOCKPOOL_INVALID_ENDPOINT", '"nope"');
    assert.equal(pool.stats().open, 0);
  });

  it("emits create, acquire, release and destroy", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const events: string[] = [];
    for (const e of ["create", "acquire", "release", "destroy"] as const) {
      pool.on(e, (_conn: unknown, key: string, extra?: unknown) =>
        events.push(`${e} ${key}${extra === undefined ? "" : ` ${extra}`}`),
      );
    }
    const c = await pool.acquire(server.endpoint);
    await pool.release(c);
    const d = await pool.acquire(server.endpoint);
    pool.destroy(d);
    const k = server.endpoint;
    assert.deepEqual(events, [
      `create ${k}`,
      `acquire ${k} false`,
      `release ${k}`,
      `acquire ${k} true`,
      `destroy ${k} user`,
    ]);
  });
});

describe("saturation (RELIABILITY 6)", () => {
  it("never opens more than maxSocketsPerEndpoint and serves waiters FIFO", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 2 });
    const a = await pool.acquire(server.endpoint);
    const b = await pool.acquire(server.endpoint);
    const order: number[] = [];
    const waiters = [1, 2, 3, 4].map((i) =>
      pool.acquire(server.endpoint).then(async (c) => {
        order.push(i);
        await pool.release(c);
      }),
    );
    assert.equal(pool.stats().pending, 4);
    assert.equal(pool.stats().open, 2);
    await pool.release(a);
    await pool.release(b);
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3, 4]);
    assert.equal(pool.stats().created, 2);
    assert.equal(server.sockets.length, 2);
  });

  it("times out a waiter with AcquireTimeoutError naming the endpoint and the load", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, acquireTimeout: 50 });
    const held = await pool.acquire(server.endpoint);
    const err = (await rejectsWith(
      pool.acquire(server.endpoint),
      AcquireTimeoutError,
      "ERR_SOCKPOOL_ACQUIRE_TIMEOUT",
      `50 ms for ${server.endpoint} (1/1 borrowed`,
    )) as AcquireTimeoutError;
    assert.equal(err.timeout, 50);
    const s = pool.stats();
    assert.equal(s.pending, 0);
    assert.equal(s.timeouts, 1);
    // The socket released later goes to the idle stack, not to the waiter that gave up.
    await pool.release(held);
    assert.equal(pool.stats().idle, 1);
  });

  it("a per-call timeout overrides acquireTimeout", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const held = await pool.acquire(server.endpoint);
    await rejectsWith(
      pool.acquire(server.endpoint, { timeout: 20 }),
      AcquireTimeoutError,
      "ERR_SOCKPOOL_ACQUIRE_TIMEOUT",
      "20 ms",
    );
    await pool.release(held);
  });

  it("rejects the overflow at once with QueueFullError beyond maxWaiting", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, maxWaiting: 2 });
    const held = await pool.acquire(server.endpoint);
    const queued = [pool.acquire(server.endpoint), pool.acquire(server.endpoint)];
    const err = (await rejectsWith(
      pool.acquire(server.endpoint),
      QueueFullError,
      "ERR_SOCKPOOL_QUEUE_FULL",
      "maxWaiting 2",
    )) as QueueFullError;
    assert.equal(err.limit, 2);
    await pool.release(held);
    for (const q of queued) await pool.release(await q);
  });

  it("a waiter that times out just as a socket is released leaves nothing behind", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, clock });
    for (const timeoutFirst of [true, false]) {
      const held = await pool.acquire(server.endpoint);
      const waiter = pool.acquire(server.endpoint, { timeout: 5 }).catch((e: Error) => e);
      // The timer and the release in the same turn, in both orders.
      if (timeoutFirst) clock.advance(5);
      await pool.release(held);
      if (!timeoutFirst) clock.advance(5);
      const got = await waiter;
      if (timeoutFirst) {
        assert.ok(got instanceof AcquireTimeoutError, String(got));
        assert.equal(pool.stats().idle, 1);
      } else {
        assert.equal(got, held);
        await pool.release(held);
      }
      const s = pool.stats();
      assert.deepEqual([s.pending, s.borrowed, s.open], [0, 0, 1]);
    }
  });

  it("aborting a queued acquire rejects with the signal's reason and skips that waiter", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const held = await pool.acquire(server.endpoint);
    const ac = new AbortController();
    const gaveUp = pool.acquire(server.endpoint, { signal: ac.signal });
    const next = pool.acquire(server.endpoint);
    ac.abort(new Error("user left"));
    const err = await rejectsWith(gaveUp, AbortError, "ERR_SOCKPOOL_ABORTED", server.endpoint);
    assert.equal((err.cause as Error).message, "user left");
    await pool.release(held);
    assert.equal(await next, held);
    await pool.release(held);
  });

  it("a waiter is served before 'acquire' is emitted, so a listener cannot strand the socket", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const held = await pool.acquire(server.endpoint);
    const ac = new AbortController();
    const waiting = pool.acquire(server.endpoint, { signal: ac.signal });
    pool.on("acquire", () => ac.abort("cancelled by an acquire listener")); // too late: the waiter holds it
    await pool.release(held);
    const got = await waiting;
    assert.equal(got, held, "the waiter got the released socket");
    assert.equal(pool.stats().borrowed, 1);
    assert.equal(await ping(got), "ping");
    await pool.release(got);
    assert.deepEqual([pool.stats().borrowed, pool.stats().idle], [0, 1], "no socket is lent to nobody");
  });

  it("rejects at once when the signal is already aborted", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    const held = await pool.acquire(server.endpoint);
    await rejectsWith(
      pool.acquire(server.endpoint, { signal: AbortSignal.abort() }),
      AbortError,
      "ERR_SOCKPOOL_ABORTED",
    );
    assert.equal(pool.stats().pending, 0);
    await pool.release(held);
  });

  it("bounds sockets across endpoints with maxSockets, closing an idle one to make room", opts, async (t) => {
    const s1 = await echoServer(t);
    const s2 = await echoServer(t);
    const pool = testPool(t, { maxSockets: 2 });
    const a = await pool.acquire(s1.endpoint);
    const b = await pool.acquire(s1.endpoint);
    await pool.release(b);
    const c = await pool.acquire(s2.endpoint); // b is idle: closed to make room
    assert.equal(pool.stats().destroyedBy["max-sockets"], 1);
    const waiting = pool.acquire(s2.endpoint); // nothing idle: waits for a slot
    assert.equal(pool.stats().open, 2);
    pool.destroy(a);
    const d = await waiting;
    assert.equal(pool.stats().open, 2);
    await pool.release(c);
    await pool.release(d);
  });
});

describe("use()", () => {
  it("returns what fn returns and releases the socket", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const reply = await pool.use(server.endpoint, (c) => ping(c, "hello"));
    assert.equal(reply, "hello");
    assert.equal(pool.stats().idle, 1);
  });

  it("destroys the socket when fn throws, and rethrows", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const boom = new Error("boom");
    await assert.rejects(
      pool.use(server.endpoint, async (c) => {
        await c.write("half a request");
        throw boom;
      }),
      (err) => err === boom,
    );
    const s = pool.stats();
    assert.equal(s.open, 0);
    assert.equal(s.destroyedBy.user, 1);
  });

  it("an abort while fn runs destroys the socket and fails its pending read", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const ac = new AbortController();
    let started!: () => void;
    const fnStarted = new Promise<void>((r) => (started = r));
    const running = pool.use(
      server.endpoint,
      (c) => {
        const line = c.readLine(); // pending: the echo server has nothing to say yet
        started();
        return line;
      },
      { signal: ac.signal },
    );
    await fnStarted; // fn runs, its read is pending
    ac.abort();
    await rejectsWith(running, AbortError, "ERR_SOCKPOOL_ABORTED");
    assert.equal(pool.stats().open, 0);
    assert.equal(pool.stats().destroyed, 1, "the socket was destroyed, not returned");
  });

  it("rejects after close with PoolClosedError", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.close();
    await rejectsWith(pool.use(server.endpoint, ping), PoolClosedError, "ERR_SOCKPOOL_POOL_CLOSED");
  });
});

describe("use() ends only its own borrow", () => {
  it("does not release a socket fn gave back that a waiter now holds", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    let next: Promise<Connection> | undefined;
    const result = await pool.use(server.endpoint, async (c) => {
      next = pool.acquire(server.endpoint); // queues behind this borrow
      await pool.release(c); // fn gives the socket back itself (a helper's `await using`)
      return c;
    });
    const b = await (next as Promise<Connection>);
    assert.equal(b, result);
    assert.equal(pool.stats().borrowed, 1, "the waiter still holds it");
    await rejectsWith(
      pool.acquire(server.endpoint, { timeout: 50 }),
      AcquireTimeoutError,
      "ERR_SOCKPOOL_ACQUIRE_TIMEOUT",
      server.endpoint,
    );
    assert.equal(await ping(b), "ping");
    await pool.release(b);
    assert.deepEqual([pool.stats().borrowed, pool.stats().idle], [0, 1]);
  });

  it("does not destroy a socket fn gave back when fn then throws", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    let next: Promise<Connection> | undefined;
    const boom = new Error("boom");
    await assert.rejects(
      pool.use(server.endpoint, async (c) => {
        next = pool.acquire(server.endpoint);
        await pool.release(c);
        await next;
        throw boom;
      }),
      boom,
    );
    const b = await (next as Promise<Connection>);
    assert.equal(b.state, "open");
    assert.equal(pool.stats().destroyed, 0);
    assert.equal(await ping(b), "ping");
    await pool.release(b);
  });
});

describe("cancelled acquires while no socket comes back", () => {
  it("are not kept: 50,000 aborted waiters leave the heap and the queue as they were", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, maxWaiting: 10 });
    const held = await pool.acquire(server.endpoint);
    const abortedAcquire = async () => {
      const ac = new AbortController();
      const p = pool.acquire(server.endpoint, { signal: ac.signal });
      ac.abort();
      await rejectsWith(p, AbortError, "ERR_SOCKPOOL_ABORTED");
    };
    const round = () => Promise.all(Array.from({ length: 10 }, abortedAcquire));
    await round(); // warm up
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 5_000; i++) await round();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Each kept waiter holds its promise, closures and an AbortError: ~3 kB, so ~150 MB.
    assert.ok(grown < 30e6, `heap grew ${(grown / 1e6).toFixed(1)} MB`);
    assert.equal(pool.stats().pending, 0);
    assert.equal(await ping(held), "ping"); // the held socket is untouched
    await pool.release(held);
  });
});

describe("an aborted signal wins over an idle socket", () => {
  it("acquire rejects at once with AbortError and leaves the idle socket idle", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.release(await pool.acquire(server.endpoint));
    const reason = new Error("caller gave up");
    const err = await rejectsWith(
      pool.acquire(server.endpoint, { signal: AbortSignal.abort(reason) }),
      AbortError,
      "ERR_SOCKPOOL_ABORTED",
      server.endpoint,
    );
    assert.equal(err.cause, reason);
    const s = pool.stats();
    assert.deepEqual([s.idle, s.borrowed, s.acquired], [1, 0, 1]);
  });

  it("use() does not run fn when the signal aborts as the socket is handed over", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.release(await pool.acquire(server.endpoint));
    const ac = new AbortController();
    pool.once("acquire", () => ac.abort()); // after the acquire's own check, before use() listens
    let ran = false;
    await rejectsWith(
      pool.use(server.endpoint, async () => (ran = true), { signal: ac.signal }),
      AbortError,
      "ERR_SOCKPOOL_ABORTED",
    );
    assert.equal(ran, false);
    assert.equal(pool.stats().borrowed, 0);
  });
});
