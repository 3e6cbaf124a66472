import assert from "node:assert/strict";
import type net from "node:net";
import { after, describe, it } from "node:test";
import { type Connection, ConnectionClosedError, ReadTimeoutError } from "sockpool";
import { assertNoOpenSockets, echoServer, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** Answers each line with the line, but kills the socket at its `killAt`-th line (no reply). */
function lineServer(
  t: Parameters<typeof echoServer>[0],
  onLine: (socket: net.Socket, line: string, n: number) => void,
) {
  const seen: string[] = [];
  return {
    seen,
    server: rawServer(t, (socket) => {
      let n = 0;
      let carry = "";
      socket.on("data", (chunk) => {
        carry += chunk.toString();
        for (let i = carry.indexOf("\n"); i >= 0; i = carry.indexOf("\n")) {
          const line = carry.slice(0, i);
          carry = carry.slice(i + 1);
          seen.push(line);
          onLine(socket, line, ++n);
        }
      });
    }),
  };
}

/** fn for use(): one request, a typed error when the socket died before answering. */
async function request(conn: Connection, text = "ping"): Promise<string> {
  const reply = await ping(conn, text);
  if (reply === null) throw new ConnectionClosedError("read reply", conn.where);
  return reply;
}

describe("dead idle sockets (RELIABILITY 1)", () => {
  it("evicts an idle socket the server closed (FIN) at once, and dials a live one", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.use(server.endpoint, request);
    server.sockets[0]?.end();
    await until(() => pool.stats().idle === 0, "the closed socket leaves the pool");
    assert.equal(pool.stats().destroyedBy["peer-closed"], 1);
    const c = await pool.acquire(server.endpoint);
    assert.equal(pool.isReused(c), false);
    assert.equal(await request(c), "ping");
    await pool.release(c);
  });

  it("evicts an idle socket the server reset (RST) at once", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.use(server.endpoint, request);
    server.sockets[0]?.resetAndDestroy();
    await until(() => pool.stats().idle === 0, "the reset socket leaves the pool");
    assert.equal(pool.stats().destroyedBy.error, 1);
    assert.equal(await pool.use(server.endpoint, request), "ping");
  });

  it("a FIN in the same tick as the checkout is caught by the stale retry", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.use(server.endpoint, request);
    server.sockets[0]?.end(); // the FIN is on its way while the socket is handed out
    const reply = await pool.use(server.endpoint, request, { retryOnStale: true });
    assert.equal(reply, "ping");
    assert.equal(server.sockets.length, 2);
    assert.equal(pool.stats().retries, 1, "the rerun is counted");
  });

  it("a stale socket found before anything was written is retried even without retryOnStale", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.use(server.endpoint, request);
    const first = server.sockets[0] as net.Socket;
    first.end();
    const reply = await pool.use(server.endpoint, async (c) => {
      if (pool.isReused(c)) {
        // The peer's FIN lands after the checkout; this borrower notices before writing.
        await until(() => c.readableEnded, "the FIN arrives");
        throw new ConnectionClosedError("write request", c.where);
      }
      return request(c);
    });
    assert.equal(reply, "ping");
  });
});

describe("unread bytes and cut-short reads (RELIABILITY 2)", () => {
  it("evicts an idle socket that receives stray bytes", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    await pool.use(server.endpoint, request);
    server.sockets[0]?.write("surprise\n");
    await until(() => pool.stats().idle === 0, "the socket with stray bytes leaves the pool");
    assert.equal(pool.stats().destroyedBy["stray-bytes"], 1);
    assert.equal(await pool.use(server.endpoint, request), "ping");
  });

  it("destroys a socket released with unread bytes; the next borrower reads its own reply", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const c = await pool.acquire(server.endpoint);
    await c.write("one\ntwo\n");
    assert.equal(await c.readLine(), "one");
    await until(() => c.bufferedLength > 0, "the second reply arrives");
    await pool.release(c);
    assert.equal(pool.stats().destroyedBy.unread, 1);
    await c.closed;
    assert.equal(await pool.use(server.endpoint, (d) => request(d, "three")), "three");
  });

  it("destroys a socket whose read timed out, so the late reply is never read by another", opts, async (t) => {
    const slow = lineServer(t, (socket, line) => setTimeout(() => socket.write(`${line}\n`), 100));
    const server = await slow.server;
    const pool = testPool(t);
    const c = await pool.acquire(server.endpoint);
    await c.write("first\n");
    await rejectsWith(c.readLine({ timeout: 10 }), ReadTimeoutError, "ERR_SOCKPOOL_READ_TIMEOUT", "10 ms");
    assert.equal(c.dirty, true);
    await pool.release(c);
    assert.equal(pool.stats().destroyedBy.dirty, 1);
    assert.equal(await pool.use(server.endpoint, (d) => request(d, "second")), "second");
  });

  it("destroys a socket released with a read still pending", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const c = await pool.acquire(server.endpoint);
    const pending = c.readLine();
    await pool.release(c);
    assert.equal(pool.stats().destroyedBy.busy, 1);
    await assert.rejects(pending);
  });

  it("destroys a socket the peer half-closed while it was borrowed", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t);
    const c = await pool.acquire(server.endpoint);
    (await server.nthConnection(1)).end();
    assert.equal(await c.readLine(), null);
    await pool.release(c);
    assert.equal(pool.stats().destroyedBy["peer-closed"], 1);
    assert.equal(pool.stats().open, 0);
  });
});

describe("a reused socket dies mid-request (RELIABILITY 3)", () => {
  // Each socket answers its first line and dies (no reply) on its second.
  const dyingServer = (t: Parameters<typeof echoServer>[0], reset: boolean) =>
    lineServer(t, (socket, line, n) => {
      if (n === 1) socket.write(`${line}\n`);
      else if (reset) socket.resetAndDestroy();
      else socket.destroy();
    });

  it("retries once on a fresh socket when the caller marked the request idempotent", opts, async (t) => {
    const s = dyingServer(t, true);
    const server = await s.server;
    const pool = testPool(t);
    await pool.use(server.endpoint, (c) => request(c, "a"));
    assert.equal(await pool.use(server.endpoint, (c) => request(c, "b"), { retryOnStale: true }), "b");
    assert.deepEqual(s.seen, ["a", "b", "b"]);
    assert.equal(pool.stats().created, 2);
  });

  it("never sends a message twice unasked: a typed error instead", opts, async (t) => {
    const s = dyingServer(t, false);
    const server = await s.server;
    const pool = testPool(t);
    await pool.use(server.endpoint, (c) => request(c, "a"));
    await rejectsWith(
      pool.use(server.endpoint, (c) => request(c, "b")),
      ConnectionClosedError,
      "ERR_SOCKPOOL_CONNECTION_CLOSED",
    );
    assert.deepEqual(s.seen, ["a", "b"]);
    assert.equal(pool.stats().open, 0);
  });

  it("does not retry once a reply byte arrived, even for idempotent requests", opts, async (t) => {
    const s = lineServer(t, (socket, line, n) => {
      if (n === 1) socket.write(`${line}\n`);
      else socket.end("partial"); // some reply, then EOF without a newline
    });
    const server = await s.server;
    const pool = testPool(t);
    await pool.use(server.endpoint, (c) => request(c, "a"));
    const strict = async (c: Connection) => {
      const reply = await request(c, "b");
      if (reply !== "b") throw new ConnectionClosedError(`read (got ${JSON.stringify(reply)})`, c.where);
      return reply;
    };
    await rejectsWith(
      pool.use(server.endpoint, strict, { retryOnStale: true }),
      ConnectionClosedError,
      "ERR_SOCKPOOL_CONNECTION_CLOSED",
      "partial",
    );
    assert.deepEqual(s.seen, ["a", "b"]);
  });

  it("does not retry a fresh socket", opts, async (t) => {
    const s = lineServer(t, (socket) => socket.destroy());
    const server = await s.server;
    const pool = testPool(t);
    await rejectsWith(
      pool.use(server.endpoint, request, { retryOnStale: true }),
      ConnectionClosedError,
      "ERR_SOCKPOOL_CONNECTION_CLOSED",
    );
    assert.deepEqual(s.seen, ["ping"]);
  });
});

describe("a server that closes each connection right after its reply", () => {
  it("serves 20 idempotent requests with retryOnStale, never reusing a closed socket", opts, async (t) => {
    const s = lineServer(t, (socket, line) => socket.end(`${line}\n`));
    const server = await s.server;
    const pool = testPool(t, { maxSocketsPerEndpoint: 5 });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        pool.use(server.endpoint, (c) => request(c, `m${i}`), { retryOnStale: true }),
      ),
    );
    assert.deepEqual(
      replies,
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    const st = pool.stats();
    assert.ok(st.created >= 20, `created ${st.created}`);
    assert.equal(st.borrowed, 0);
    await until(() => pool.stats().open === 0, "every one-shot socket is gone");
  });
});
