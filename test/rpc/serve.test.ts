import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it } from "node:test";
import { BadFrameError, LimitExceededError, RemoteError } from "sockpool";
import {
  decodeErrorPayload,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameKind,
  openChannel,
  type RpcContext,
} from "../../src/rpc/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { gate, rpcServer } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** A raw client socket that collects the frames it receives. */
async function rawClient(t: { after(fn: () => void): void }, port: number) {
  const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  t.after(() => socket.destroy());
  await once(socket, "connect");
  const frames: Frame[] = [];
  const d = new FrameDecoder();
  socket.on("data", (c: Buffer) => frames.push(...d.push(c)));
  const ended = once(socket, "end").then(() => true);
  return { socket, frames, ended };
}

describe("serveRpc", () => {
  it("runs at most maxConcurrent handlers per connection and answers every request", opts, async (t) => {
    let running = 0;
    let peak = 0;
    const srv = await rpcServer(
      t,
      async (p) => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return p;
      },
      { maxConcurrent: 3 },
    );
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => ch.request(`r${i}`)));
    for (const [i, r] of replies.entries()) assert.equal(r.toString(), `r${i}`);
    assert.equal(peak, 3);
  });

  it("queues requests past the handler limit and honours a cancel for a queued one", opts, async (t) => {
    const started: string[] = [];
    const hold = gate();
    const srv = await rpcServer(
      t,
      async (p) => {
        started.push(p.toString());
        await hold.promise;
        return p;
      },
      { maxConcurrent: 1 },
    );
    const c = await rawClient(t, srv.port);
    // One chunk: two requests and a cancel of the second. The second is queued, then cancelled.
    c.socket.write(
      Buffer.concat([
        encodeFrame(FrameKind.request, 1, "one"),
        encodeFrame(FrameKind.request, 2, "two"),
        encodeFrame(FrameKind.cancel, 2),
        encodeFrame(FrameKind.request, 3, "three"),
      ]),
    );
    await until(() => started.length === 1, "first handler");
    hold.open();
    await until(() => c.frames.length === 2, "two replies");
    assert.deepEqual(started, ["one", "three"]);
    assert.deepEqual(
      c.frames.map((f) => [f.kind, f.id, f.payload.toString()]),
      [
        [FrameKind.reply, 1, "one"],
        [FrameKind.reply, 3, "three"],
      ],
    );
  });

  it("reads cancels and pings while at maxConcurrent: a running handler is aborted", opts, async (t) => {
    const reasons: unknown[] = [];
    let started = 0;
    const srv = await rpcServer(
      t,
      (_p, ctx: RpcContext) => {
        started++;
        return new Promise((resolve) =>
          ctx.signal.addEventListener("abort", () => {
            reasons.push(ctx.signal.reason);
            resolve("discarded");
          }),
        );
      },
      { maxConcurrent: 1 },
    );
    const c = await rawClient(t, srv.port);
    c.socket.write(encodeFrame(FrameKind.request, 1, "held"));
    await until(() => started === 1, "the one handler slot taken");
    c.socket.write(Buffer.concat([encodeFrame(FrameKind.ping, 7, "alive?"), encodeFrame(FrameKind.cancel, 1)]));
    await until(() => reasons.length === 1, "the running handler aborted by the cancel");
    assert.equal((reasons[0] as { code?: string }).code, "ERR_SOCKPOOL_ABORTED");
    await until(() => c.frames.length === 1, "pong");
    assert.deepEqual(
      [c.frames[0]?.kind, c.frames[0]?.id, c.frames[0]?.payload.toString()],
      [FrameKind.pong, 7, "alive?"],
    );
    c.socket.end();
    assert.equal(await c.ended, true);
    assert.equal(c.frames.length, 1, "no reply for the cancelled request");
    assert.equal(await srv.outcomes[0], undefined);
  });

  it("aborts every handler's signal when the client goes away", opts, async (t) => {
    const reasons: unknown[] = [];
    const srv = await rpcServer(t, (_p, ctx: RpcContext) => {
      return new Promise((resolve) =>
        ctx.signal.addEventListener("abort", () => {
          reasons.push(ctx.signal.reason);
          resolve(undefined);
        }),
      );
    });
    const c = await rawClient(t, srv.port);
    c.socket.write(Buffer.concat([encodeFrame(FrameKind.request, 1, "a"), encodeFrame(FrameKind.request, 2, "b")]));
    await until(() => srv.sockets.length === 1, "accepted");
    await new Promise((r) => setTimeout(r, 20));
    c.socket.resetAndDestroy();
    await until(() => reasons.length === 2, "both handlers aborted");
    assert.equal((reasons[0] as { code?: string }).code, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    assert.equal(await srv.outcomes[0], undefined, "a vanished client is not a server error");
  });

  it("answers pings with pongs carrying the same id and payload", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    const c = await rawClient(t, srv.port);
    c.socket.write(encodeFrame(FrameKind.ping, 99, "hello"));
    await until(() => c.frames.length === 1, "pong");
    assert.deepEqual(
      [c.frames[0]?.kind, c.frames[0]?.id, c.frames[0]?.payload.toString()],
      [FrameKind.pong, 99, "hello"],
    );
  });

  it("finishes every request read before a half-close, then closes", opts, async (t) => {
    const srv = await rpcServer(t, async (p) => {
      await new Promise((r) => setTimeout(r, Math.random() * 10));
      return p;
    });
    const c = await rawClient(t, srv.port);
    const wire = Buffer.concat(Array.from({ length: 200 }, (_, i) => encodeFrame(FrameKind.request, i + 1, `q${i}`)));
    c.socket.end(wire);
    assert.equal(await c.ended, true);
    assert.equal(c.frames.length, 200);
    const byId = new Map(c.frames.map((f) => [f.id, f.payload.toString()]));
    for (let i = 0; i < 200; i++) assert.equal(byId.get(i + 1), `q${i}`);
    assert.equal(await srv.outcomes[0], undefined);
  });

  it("closes a connection that sends garbage, rejecting with BadFrameError; others go on", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    const good = await openChannel(srv.endpoint);
    t.after(() => good.destroy());
    assert.equal((await good.request("before")).toString(), "before");
    const c = await rawClient(t, srv.port);
    c.socket.write(Buffer.from("0000000aff0102030405060708090a", "hex")); // a plausible length, then junk
    assert.equal(await c.ended, true, "the server closed the connection");
    const err = await srv.outcomes[1];
    assert.ok(err instanceof BadFrameError, String(err));
    assert.equal((err as BadFrameError).code, "ERR_SOCKPOOL_BAD_FRAME");
    assert.equal((await good.request("after")).toString(), "after");
  });

  it("closes a connection that declares a frame over maxFrameSize, with LimitExceededError", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p, { maxFrameSize: 4096 });
    const good = await openChannel(srv.endpoint);
    t.after(() => good.destroy());
    const c = await rawClient(t, srv.port);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(10 * 1024 * 1024);
    c.socket.write(head);
    assert.equal(await c.ended, true, "the server closed the connection");
    const err = await srv.outcomes[1];
    assert.ok(err instanceof LimitExceededError, String(err));
    assert.ok(err.message.includes("4096") && err.message.includes(String(10 * 1024 * 1024)), err.message);
    assert.equal((await good.request("fine")).toString(), "fine");
  });

  it("closes a connection that reuses an id still in flight", opts, async (t) => {
    const srv = await rpcServer(t, () => new Promise(() => {}));
    const c = await rawClient(t, srv.port);
    c.socket.write(Buffer.concat([encodeFrame(FrameKind.request, 5, "a"), encodeFrame(FrameKind.request, 5, "b")]));
    assert.equal(await c.ended, true, "the server closed the connection");
    const err = await srv.outcomes[0];
    assert.ok(err instanceof BadFrameError && err.message.includes("id 5"), String(err));
  });

  it("answers a reply over its own maxFrameSize with an error reply instead", opts, async (t) => {
    const srv = await rpcServer(t, () => Buffer.alloc(2000), { maxFrameSize: 1000 });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const err = (await rejectsWith(ch.request("x"), RemoteError, "ERR_SOCKPOOL_REMOTE", "1000")) as RemoteError;
    assert.equal(err.remoteCode, "ERR_SOCKPOOL_LIMIT_EXCEEDED");
    assert.equal(ch.state, "open");
  });

  it(
    "cuts an error reply to maxFrameSize at a character boundary of the message, keeping the code",
    opts,
    async (t) => {
      // Room for 11 payload bytes: 2 (code length) + "E1" + 7 bytes, which would split the 4th "é".
      const srv = await rpcServer(
        t,
        () => {
          throw Object.assign(new Error("éééééé"), { code: "E1" });
        },
        { maxFrameSize: 16 },
      );
      const c = await rawClient(t, srv.port);
      c.socket.write(encodeFrame(FrameKind.request, 1, ""));
      await until(() => c.frames.length === 1, "error reply");
      const f = c.frames[0] as Frame;
      assert.equal(f.kind, FrameKind.error);
      assert.deepEqual(decodeErrorPayload(f.payload), { code: "E1", message: "ééé" });
    },
  );

  it("keeps an error reply decodable even when its code alone overflows maxFrameSize", opts, async (t) => {
    // The 2000-byte reply becomes ERR_SOCKPOOL_LIMIT_EXCEEDED (27 bytes), over the 15-byte room.
    const srv = await rpcServer(t, () => Buffer.alloc(2000), { maxFrameSize: 20 });
    const c = await rawClient(t, srv.port);
    c.socket.write(encodeFrame(FrameKind.request, 1, ""));
    await until(() => c.frames.length === 1, "error reply");
    const f = c.frames[0] as Frame;
    assert.equal(f.kind, FrameKind.error);
    assert.ok(f.payload.length <= 15, `payload of ${f.payload.length} bytes`);
    assert.deepEqual(decodeErrorPayload(f.payload), { code: "ERR_SOCKPOOL_", message: "" });
  });

  it("lays out an error reply as code length, code, message", opts, async (t) => {
    const srv = await rpcServer(t, () => {
      throw Object.assign(new Error("nope"), { code: "E1" });
    });
    const c = await rawClient(t, srv.port);
    c.socket.write(encodeFrame(FrameKind.request, 1, ""));
    await until(() => c.frames.length === 1, "error reply");
    const f = c.frames[0] as Frame;
    assert.equal(f.kind, FrameKind.error);
    assert.equal(f.payload.toString("hex"), "0002" + Buffer.from("E1nope").toString("hex"));
    assert.deepEqual(decodeErrorPayload(f.payload), { code: "E1", message: "nope" });
  });
});
