import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  AbortError,
  ConnectionClosedError,
  ConnectionResetError,
  connect,
  IncompleteReadError,
  InvalidArgumentError,
  LimitExceededError,
  ReadInProgressError,
  ReadTimeoutError,
  WriteTimeoutError,
} from "sockpool";
import { watchIdle } from "../../src/connection/connection.js";
import { assertNoOpenSockets, echoServer, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("Connection reads", () => {
  it("reads lines, exact counts, separators and chunks from one stream", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.end("one\r\ntwo\nABCDEFxy|rest"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    assert.equal(await c.readLine(), "one");
    assert.equal(await c.readLine(), "two");
    assert.equal((await c.readExactly(6)).toString(), "ABCDEF");
    assert.equal((await c.readUntil("|")).toString(), "xy|");
    assert.equal((await c.read()).toString(), "rest");
    assert.equal((await c.read()).length, 0, "empty buffer at EOF");
    assert.equal(await c.readLine(), null, "null line at EOF");
  });

  it("iterates chunks until the peer ends", opts, async (t) => {
    const srv = await rawServer(t, (s) => {
      s.write("a");
      setImmediate(() => s.end("b"));
    });
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const chunks: string[] = [];
    for await (const chunk of c) chunks.push(chunk.toString());
    assert.equal(chunks.join(""), "ab");
  });

  it("fails readExactly with IncompleteReadError holding the partial bytes at EOF", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.end("abc"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const err = (await rejectsWith(
      c.readExactly(10),
      IncompleteReadError,
      "ERR_SOCKPOOL_INCOMPLETE_READ",
    )) as IncompleteReadError;
    assert.equal(err.partial.toString(), "abc");
    assert.equal(err.expected, 10);
  });

  it("fails readUntil with IncompleteReadError when EOF comes before the separator", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.end("no separator"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const err = (await rejectsWith(
      c.readUntil("\n\n"),
      IncompleteReadError,
      "ERR_SOCKPOOL_INCOMPLETE_READ",
    )) as IncompleteReadError;
    assert.equal(err.partial.toString(), "no separator");
  });

  it("returns the unterminated last line at EOF", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.end("tail"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    assert.equal(await c.readLine(), "tail");
    assert.equal(await c.readLine(), null);
  });

  it("rejects a pending read with ConnectionResetError when the peer resets", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const pending = c.readLine();
    (await srv.nthConnection(1)).resetAndDestroy();
    await rejectsWith(pending, ConnectionResetError, "ERR_SOCKPOOL_CONNECTION_RESET", srv.endpoint);
    assert.equal(c.readableEnded, true);
  });

  it("refuses an oversized line with LimitExceededError and stops buffering", opts, async (t) => {
    let writes = 0;
    const srv = await rawServer(t, (s) => {
      const blob = Buffer.alloc(16 * 1024, 0x78);
      const pump = () => {
        while (writes < 2000 && s.write(blob)) writes++;
        if (writes < 2000) s.once("drain", pump);
      };
      pump();
    });
    const c = await connect(srv.endpoint, { limit: 1024 });
    t.after(() => c.destroy());
    const err = (await rejectsWith(
      c.readLine(),
      LimitExceededError,
      "ERR_SOCKPOOL_LIMIT_EXCEEDED",
      "1024",
    )) as LimitExceededError;
    assert.equal(err.limit, 1024);
    assert.equal(c.dirty, true);
    await new Promise((r) => setTimeout(r, 100)); // the server keeps pushing; we must not take it in
    // Paused at 2 × limit; at most one more socket read (64 KiB) lands while waiting and one after.
    assert.ok(c.bufferedLength <= 2 * 1024 + 2 * 64 * 1024, `buffered ${c.bufferedLength} bytes`);
    assert.ok(writes < 2000, "the server was held back by TCP flow control");
  });

  it("honours a per-call max on readUntil and readLine", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.write("0123456789\n"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await rejectsWith(c.readLine({ max: 5 }), LimitExceededError, "ERR_SOCKPOOL_LIMIT_EXCEEDED", "limit of 5");
    assert.equal(c.bufferedLength, 11, "the bytes stay buffered");
    assert.equal(await c.readLine({ max: 10 }), "0123456789");
  });

  it("times a read out with ReadTimeoutError, consuming nothing", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await rejectsWith(c.readExactly(4, { timeout: 30 }), ReadTimeoutError, "ERR_SOCKPOOL_READ_TIMEOUT", "30 ms");
    assert.equal(c.dirty, true, "a cancelled read marks the stream out of step");
    (await srv.nthConnection(1)).write("late");
    assert.equal((await c.readExactly(4)).toString(), "late");
  });

  it("applies the connection's default readTimeout", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint, { readTimeout: 20 });
    t.after(() => c.destroy());
    await rejectsWith(c.readLine(), ReadTimeoutError, "ERR_SOCKPOOL_READ_TIMEOUT");
  });

  it("aborts a read with AbortError carrying the signal's reason", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.write("ab"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await until(() => c.bufferedLength === 2, "two bytes buffered");
    const ac = new AbortController();
    const pending = c.readExactly(3, { signal: ac.signal });
    ac.abort("user cancelled");
    const err = await rejectsWith(pending, AbortError, "ERR_SOCKPOOL_ABORTED");
    assert.equal(err.name, "AbortError");
    assert.equal(err.cause, "user cancelled");
    assert.equal(c.bufferedLength, 2, "an aborted read consumes nothing");
    await rejectsWith(c.read(1, { signal: ac.signal }), AbortError, "ERR_SOCKPOOL_ABORTED");
  });

  it("rejects a second concurrent read with ReadInProgressError", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const first = c.readLine();
    await rejectsWith(c.read(), ReadInProgressError, "ERR_SOCKPOOL_READ_IN_PROGRESS", "readLine()");
    (await srv.nthConnection(1)).write("x\n");
    assert.equal(await first, "x");
  });

  it("a refused second read leaves the pending read's size alone", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const peer = await srv.nthConnection(1);
    // A pending readExactly(4) keeps its 4 when a readLine with another max is refused.
    const exactly = c.readExactly(4);
    await rejectsWith(c.readLine({ max: 100 }), ReadInProgressError, "ERR_SOCKPOOL_READ_IN_PROGRESS", "readExactly()");
    peer.write("abcd");
    assert.equal((await exactly).toString(), "abcd");
    // A pending readLine keeps its max of 4 when a readExactly(100) is refused.
    const line = c.readLine({ max: 4 });
    await rejectsWith(c.readExactly(100), ReadInProgressError, "ERR_SOCKPOOL_READ_IN_PROGRESS", "readLine()");
    peer.write("0123456789");
    await rejectsWith(line, LimitExceededError, "ERR_SOCKPOOL_LIMIT_EXCEEDED", "limit of 4");
  });

  it("rejects bad read arguments with InvalidArgumentError", opts, async (t) => {
    const srv = await echoServer(t);
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await rejectsWith(c.readExactly(-1), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT", "-1");
    await rejectsWith(c.read(0), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT", "0");
    await rejectsWith(c.readUntil(""), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT");
    await rejectsWith(c.readLine({ max: Number.NaN }), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT", "NaN");
    await rejectsWith(c.readUntil("\n", { max: 0 }), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT", "got 0");
  });

  it("reads a frame larger than the flow-control limit with readExactly", opts, async (t) => {
    const big = Buffer.alloc(1024 * 1024, 7);
    const srv = await rawServer(t, (s) => s.end(big));
    const c = await connect(srv.endpoint, { limit: 4096 });
    t.after(() => c.destroy());
    const got = await c.readExactly(big.length);
    assert.ok(got.equals(big));
  });
});

describe("Connection writes and closing", () => {
  it("round-trips through an echo server", opts, async (t) => {
    const srv = await echoServer(t);
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await c.write("ping\n");
    assert.equal(await c.readLine(), "ping");
    assert.equal(c.remotePort, srv.port);
    assert.equal(c.remoteAddress, "127.0.0.1");
  });

  it("rejects a write with an already aborted signal at once and writes nothing", opts, async (t) => {
    const srv = await echoServer(t);
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const err = await rejectsWith(
      c.write("never sent\n", { signal: AbortSignal.abort("too late") }),
      AbortError,
      "ERR_SOCKPOOL_ABORTED",
      "write()",
    );
    assert.equal(err.cause, "too late");
    assert.equal(c.bytesWritten, 0, "nothing went out");
    assert.equal(c.dirty, false, "the stream is still in step: nothing was written");
    await c.write("ping\n");
    assert.equal(await c.readLine(), "ping", "the next write is the first the peer sees");
  });

  it("waits for drain when the peer does not read, then resolves once it does", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.pause());
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const chunk = Buffer.alloc(256 * 1024);
    let resolved = 0;
    let pending: Promise<void> | undefined;
    for (let i = 0; i < 200 && pending === undefined; i++) {
      const p = c.write(chunk);
      let done = false;
      p.then(() => (done = true));
      await new Promise((r) => setImmediate(r));
      if (done) resolved++;
      else pending = p;
    }
    assert.ok(pending, "a write eventually waits for drain");
    assert.ok(c.busy);
    const heldBack = c.socket.writableLength;
    assert.ok(heldBack <= 2 * chunk.length, `user-space buffer stays bounded (${heldBack} bytes)`);
    (await srv.nthConnection(1)).resume();
    await pending;
    assert.ok(resolved >= 1);
  });

  it("times a blocked write out with WriteTimeoutError and marks the connection dirty", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.pause());
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const chunk = Buffer.alloc(1024 * 1024);
    let err: unknown;
    for (let i = 0; i < 100 && err === undefined; i++) {
      await c.write(chunk, { timeout: 50 }).catch((e) => (err = e));
    }
    assert.ok(err instanceof WriteTimeoutError, String(err));
    assert.equal(err.code, "ERR_SOCKPOOL_WRITE_TIMEOUT");
    assert.equal(c.dirty, true);
  });

  it("half-closes with end() and still reads the reply", opts, async (t) => {
    const srv = await rawServer(
      t,
      (s) => {
        let got = "";
        s.on("data", (d) => (got += d));
        s.on("end", () => s.end(`got ${got}`));
      },
      { allowHalfOpen: true },
    );
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await c.write("request");
    await c.end();
    assert.equal(c.writable, false);
    assert.equal((await c.read()).toString(), "got request");
  });

  it("closes gracefully: idempotent, one promise, closed resolves, writes then fail", opts, async (t) => {
    const srv = await echoServer(t);
    const c = await connect(srv.endpoint);
    const a = c.close();
    const b = c.close();
    assert.equal(a, b);
    await a;
    await c.closed;
    assert.equal(c.state, "closed");
    await rejectsWith(c.write("x"), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED", srv.endpoint);
    await rejectsWith(c.readLine(), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    void t;
  });

  it("destroys after closeTimeout when the peer never closes its side", opts, async (t) => {
    const srv = await rawServer(t, () => {}, { allowHalfOpen: true });
    const c = await connect(srv.endpoint, { closeTimeout: 30 });
    await c.close();
    assert.equal(c.state, "closed");
  });

  it("destroy() rejects a pending read", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint);
    const pending = c.readLine();
    c.destroy();
    await rejectsWith(pending, ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    await c.closed;
  });

  it("closes on scope exit with await using", opts, async (t) => {
    const srv = await echoServer(t);
    let outer: Awaited<ReturnType<typeof connect>> | undefined;
    {
      await using c = await connect(srv.endpoint);
      outer = c;
      await c.write("hi\n");
      assert.equal(await c.readLine(), "hi");
    }
    assert.equal(outer.state, "closed");
  });

  it("tells an idle watcher about EOF and stray bytes", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    let events = 0;
    watchIdle(c, () => events++);
    const peer = await srv.nthConnection(1);
    peer.write("stray");
    await until(() => events === 1, "stray bytes noticed");
    assert.equal(c.bufferedLength, 5);
    peer.end();
    await until(() => events >= 2 && c.readableEnded, "EOF noticed");
    watchIdle(c, undefined);
  });

  it("endInput() lets buffered bytes be read, then reports EOF, and writing goes on", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.write("one\ntwo\n"));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await until(() => c.bufferedLength === 8, "both lines buffered");
    c.endInput();
    assert.equal(c.readableEnded, true);
    (await srv.nthConnection(1)).write("late\n");
    assert.equal(await c.readLine(), "one");
    assert.equal(await c.readLine(), "two");
    assert.equal(await c.readLine(), null, "EOF after what was buffered; later bytes are dropped");
    assert.equal(c.writable, true);
    await c.write("still writable\n");
  });
});
