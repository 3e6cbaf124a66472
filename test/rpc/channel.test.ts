import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import {
  AbortError,
  BadFrameError,
  ConnectionClosedError,
  ConnectionResetError,
  InvalidArgumentError,
  LimitExceededError,
  ReadTimeoutError,
  RemoteError,
  RequestTimeoutError,
} from "sockpool";
import {
  encodeFrame,
  FrameDecoder,
  FrameKind,
  openChannel,
  type RpcContext,
  UNDECODABLE_ERROR_CODE,
} from "../../src/rpc/index.js";
import { assertNoOpenSockets, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { gate, rpcServer, sleep } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const aborted = (ctx: RpcContext) =>
  new Promise<unknown>((resolve) =>
    ctx.signal.addEventListener("abort", () => resolve(ctx.signal.reason), { once: true }),
  );

describe("Channel requests", () => {
  it("gets 1,000 concurrent requests their own replies over one socket, out of order", opts, async (t) => {
    const finished: number[] = [];
    const srv = await rpcServer(
      t,
      async (payload) => {
        await sleep(Math.floor(Math.random() * 20));
        const n = Number(payload.toString());
        finished.push(n);
        return `reply to ${n}`;
      },
      { maxConcurrent: 1000 },
    );
    const ch = await openChannel(srv.endpoint, { maxInFlight: 1000 });
    t.after(() => ch.destroy());
    const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => ch.request(String(i))));
    for (const [i, r] of replies.entries()) assert.equal(r.toString(), `reply to ${i}`);
    assert.equal(srv.sockets.length, 1, "one socket carried every request");
    assert.notDeepEqual(
      finished,
      [...finished].sort((a, b) => a - b),
      "replies came back out of order",
    );
    const s = ch.stats();
    assert.equal(s.sent, 1000);
    assert.equal(s.replies, 1000);
    assert.equal(s.inFlight, 0);
  });

  it("resolves a later request first when its reply comes first", opts, async (t) => {
    const slow = gate();
    const srv = await rpcServer(t, async (p) => {
      if (p.toString() === "slow") await slow.promise;
      return p;
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const order: string[] = [];
    const a = ch.request("slow").then((r) => order.push(r.toString()));
    const b = ch.request("fast").then((r) => order.push(r.toString()));
    await b;
    slow.open();
    await a;
    assert.deepEqual(order, ["fast", "slow"]);
  });

  it("holds callers beyond maxInFlight and sends them in arrival order", opts, async (t) => {
    const started: string[] = [];
    const release = gate();
    const srv = await rpcServer(t, async (p) => {
      started.push(p.toString());
      await release.promise;
      return p;
    });
    const ch = await openChannel(srv.endpoint, { maxInFlight: 2 });
    t.after(() => ch.destroy());
    const all = ["a", "b", "c", "d", "e"].map((x) => ch.request(x));
    await until(() => started.length === 2, "two handlers started");
    assert.deepEqual(ch.stats().waiting, 3);
    assert.equal(ch.stats().inFlight, 2);
    release.open();
    assert.deepEqual((await Promise.all(all)).map(String), ["a", "b", "c", "d", "e"]);
    assert.deepEqual(started, ["a", "b", "c", "d", "e"]);
  });

  it("times out one request, cancels it on the server, and keeps serving the others", opts, async (t) => {
    let reason: unknown;
    const srv = await rpcServer(t, async (p, ctx) => {
      if (p.toString() === "hang") {
        reason = await aborted(ctx);
        return "too late";
      }
      return p;
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    await rejectsWith(
      ch.request("hang", { timeout: 50 }),
      RequestTimeoutError,
      "ERR_SOCKPOOL_REQUEST_TIMEOUT",
      "50 ms",
    );
    await until(() => reason !== undefined, "the cancel reached the handler");
    assert.ok(reason instanceof AbortError, String(reason));
    assert.equal((await ch.request("next")).toString(), "next");
    const s = ch.stats();
    assert.equal(s.timeouts, 1);
    assert.equal(s.cancelsSent, 1);
    assert.equal(s.lateReplies, 0, "the server sent nothing for the cancelled request");
  });

  it("aborts one request with the signal's reason and cancels it on the server", opts, async (t) => {
    let cancelled = false;
    const srv = await rpcServer(t, async (_p, ctx) => {
      await aborted(ctx);
      cancelled = true;
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const ac = new AbortController();
    const pending = ch.request("x", { signal: ac.signal });
    await until(() => srv.sockets.length === 1 && ch.stats().inFlight === 1, "request sent");
    ac.abort(new Error("user gave up"));
    const err = await rejectsWith(pending, AbortError, "ERR_SOCKPOOL_ABORTED", "request");
    assert.equal((err.cause as Error).message, "user gave up");
    await until(() => cancelled, "handler saw the cancel");
    assert.equal(ch.stats().aborts, 1);
  });

  it(
    "rejects an already aborted request at once and a request aborted while waiting without sending it",
    opts,
    async (t) => {
      const seen: string[] = [];
      const hold = gate();
      const srv = await rpcServer(t, async (p) => {
        seen.push(p.toString());
        await hold.promise;
        return p;
      });
      const ch = await openChannel(srv.endpoint, { maxInFlight: 1 });
      t.after(() => ch.destroy());
      await rejectsWith(ch.request("x", { signal: AbortSignal.abort() }), AbortError, "ERR_SOCKPOOL_ABORTED");
      const first = ch.request("first");
      const ac = new AbortController();
      const queued = ch.request("queued", { signal: ac.signal });
      const last = ch.request("last");
      ac.abort();
      await rejectsWith(queued, AbortError, "ERR_SOCKPOOL_ABORTED");
      assert.equal(ch.stats().waiting, 1);
      hold.open();
      assert.equal((await first).toString(), "first");
      assert.equal((await last).toString(), "last");
      assert.deepEqual(seen, ["first", "last"], "the aborted request never went out");
      assert.equal(ch.stats().cancelsSent, 0);
    },
  );

  it("turns a thrown error into RemoteError with its code and message; the channel goes on", opts, async (t) => {
    const srv = await rpcServer(t, (p) => {
      if (p.toString() === "coded") throw Object.assign(new Error("no such key: k1"), { code: "ERR_NOT_FOUND" });
      if (p.toString() === "plain") return Promise.reject(new Error("boom"));
      return p;
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const err = (await rejectsWith(
      ch.request("coded"),
      RemoteError,
      "ERR_SOCKPOOL_REMOTE",
      "no such key: k1",
    )) as RemoteError;
    assert.equal(err.remoteCode, "ERR_NOT_FOUND");
    const plain = (await rejectsWith(ch.request("plain"), RemoteError, "ERR_SOCKPOOL_REMOTE", "boom")) as RemoteError;
    assert.equal(plain.remoteCode, "ERR_RPC_HANDLER");
    assert.equal((await ch.request("ok")).toString(), "ok");
    assert.equal(ch.stats().errorReplies, 2);
  });

  it("rejects all 100 requests in flight, once each, when the connection is reset", opts, async (t) => {
    const started = gate();
    let count = 0;
    const srv = await rpcServer(t, () => {
      if (++count === 100) started.open();
      return new Promise(() => {});
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    let settled = 0;
    const all = Array.from({ length: 100 }, (_, i) =>
      ch.request(String(i)).then(
        () => assert.fail("resolved"),
        (err: Error) => {
          settled++;
          return err;
        },
      ),
    );
    await started.promise;
    (await srv.nthConnection(1)).resetAndDestroy();
    const errors = await Promise.all(all);
    assert.equal(settled, 100);
    for (const err of errors) {
      assert.ok(err instanceof ConnectionClosedError, String(err));
      assert.equal((err as ConnectionClosedError).code, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    }
    assert.ok(errors[0]?.cause instanceof ConnectionResetError, String(errors[0]?.cause));
    assert.equal(ch.state, "closed");
    assert.equal(ch.stats().failed, 100);
    assert.ok((await ch.closed) instanceof ConnectionResetError);
    await rejectsWith(ch.request("after"), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
  });

  it("rejects only its request with RemoteError when an error reply cannot be decoded", opts, async (t) => {
    const bad: Record<string, string> = { overrun: "00ff41", short: "00", split: "0001" };
    const srv = await rawServer(t, (socket) => {
      const d = new FrameDecoder();
      socket.on("data", (chunk: Buffer) => {
        for (const f of d.push(chunk)) {
          const hex = bad[f.payload.toString()];
          if (hex === undefined) socket.write(encodeFrame(FrameKind.reply, f.id, f.payload));
          else socket.write(encodeFrame(FrameKind.error, f.id, Buffer.from(hex, "hex")));
        }
      });
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    for (const [name, hex] of Object.entries(bad)) {
      const err = (await rejectsWith(
        ch.request(name),
        RemoteError,
        "ERR_SOCKPOOL_REMOTE",
        `${hex.length / 2} bytes`,
      )) as RemoteError;
      assert.equal(err.remoteCode, UNDECODABLE_ERROR_CODE, name);
    }
    assert.equal((await ch.request("fine")).toString(), "fine");
    assert.equal(ch.state, "open");
    assert.equal(ch.stats().errorReplies, 3);
  });

  it("rejects a payload over maxFrameSize without sending it", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    const ch = await openChannel(srv.endpoint, { maxFrameSize: 1024 });
    t.after(() => ch.destroy());
    await rejectsWith(ch.request(Buffer.alloc(1020)), LimitExceededError, "ERR_SOCKPOOL_LIMIT_EXCEEDED", "1025");
    assert.equal((await ch.request(Buffer.alloc(1019))).length, 1019);
    assert.equal(ch.stats().sent, 1);
  });

  it("closes the channel with a typed cause when a reply exceeds maxFrameSize", opts, async (t) => {
    const srv = await rpcServer(t, (p) => (p.toString() === "big" ? Buffer.alloc(5000) : p));
    const ch = await openChannel(srv.endpoint, { maxFrameSize: 1024 });
    t.after(() => ch.destroy());
    const err = await rejectsWith(ch.request("big"), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    assert.ok(err.cause instanceof LimitExceededError, String(err.cause));
    assert.ok((err.cause as Error).message.includes("5005"), (err.cause as Error).message);
    assert.equal(ch.state, "closed");
    const other = await openChannel(srv.endpoint, { maxFrameSize: 1024 });
    t.after(() => other.destroy());
    assert.equal((await other.request("small")).toString(), "small", "the server and other channels go on");
  });

  it("runs 20 one-second requests at once over one socket in about one second", { timeout: 30_000 }, async (t) => {
    const srv = await rpcServer(t, async (p) => {
      await sleep(1000);
      return p;
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const start = performance.now();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => ch.request(`m${i}`)));
    const elapsed = performance.now() - start;
    for (const [i, r] of replies.entries()) assert.equal(r.toString(), `m${i}`);
    assert.equal(srv.sockets.length, 1);
    assert.ok(elapsed >= 990, `took ${elapsed} ms`);
    assert.ok(elapsed < 1800, `20 concurrent 1 s requests took ${elapsed.toFixed(0)} ms, expected about 1000`);
  });
});

describe("Channel liveness and lifecycle", () => {
  it("pings an idle channel and stays open while the peer answers", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    const ch = await openChannel(srv.endpoint, { pingInterval: 20, pingTimeout: 200 });
    t.after(() => ch.destroy());
    await until(() => ch.stats().pingsSent >= 3, "three pings");
    assert.equal(ch.state, "open");
    assert.equal((await ch.request("still")).toString(), "still");
  });

  it("declares a silent peer dead after pingTimeout and fails what is outstanding", opts, async (t) => {
    const srv = await rawServer(t, () => {}); // reads nothing, answers nothing
    const ch = await openChannel(srv.endpoint, { pingInterval: 30, pingTimeout: 60 });
    t.after(() => ch.destroy());
    const err = await rejectsWith(ch.request("anyone?"), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    assert.ok(err.cause instanceof ReadTimeoutError, String(err.cause));
    assert.ok((err.cause as Error).message.includes("ping timed out after 60 ms"), (err.cause as Error).message);
    assert.equal(ch.stats().pingsSent, 1);
  });

  it("ignores a reply that crossed its cancel on the wire", opts, async (t) => {
    const srv = await rawServer(t, (s) => {
      const d = new FrameDecoder();
      s.on("data", (chunk: Buffer) => {
        for (const f of d.push(chunk)) {
          if (f.kind === FrameKind.cancel) s.write(encodeFrame(FrameKind.reply, f.id, "late"));
          if (f.kind === FrameKind.request && f.payload.toString() === "ok")
            s.write(encodeFrame(FrameKind.reply, f.id, "ok"));
        }
      });
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    await rejectsWith(ch.request("x", { timeout: 20 }), RequestTimeoutError, "ERR_SOCKPOOL_REQUEST_TIMEOUT");
    await until(() => ch.stats().lateReplies === 1, "the late reply arrived");
    assert.equal((await ch.request("ok")).toString(), "ok");
  });

  it("closes on a frame kind a server must not send", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.once("data", () => s.write(encodeFrame(FrameKind.request, 1, "?"))));
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const err = await rejectsWith(ch.request("x"), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    assert.ok(err.cause instanceof BadFrameError && err.cause.message.includes("request"), String(err.cause));
  });

  it("closes gracefully: in-flight requests finish, new ones are refused, the socket ends", opts, async (t) => {
    const hold = gate();
    const srv = await rpcServer(t, async (p) => {
      await hold.promise;
      return p;
    });
    const ch = await openChannel(srv.endpoint);
    t.after(() => ch.destroy());
    const pending = ch.request("in flight");
    await until(() => ch.stats().inFlight === 1, "sent");
    const closing = ch.close();
    assert.equal(ch.close(), closing, "every caller gets the same promise");
    assert.equal(ch.state, "closing");
    await rejectsWith(ch.request("new"), ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    hold.open();
    assert.equal((await pending).toString(), "in flight");
    await closing;
    assert.equal(ch.state, "closed");
    assert.equal(await ch.closed, undefined);
    assert.equal(await srv.outcomes[0], undefined, "the server saw a clean end");
  });

  it("closes through await using", opts, async (t) => {
    const srv = await rpcServer(t, (p) => p);
    let ch: Awaited<ReturnType<typeof openChannel>>;
    {
      await using c = await openChannel(srv.endpoint);
      ch = c;
      assert.equal((await c.request("x")).toString(), "x");
    }
    assert.equal(ch.state, "closed");
  });

  it("destroy rejects every outstanding request with ConnectionClosedError", opts, async (t) => {
    const srv = await rpcServer(t, () => new Promise(() => {}));
    const ch = await openChannel(srv.endpoint, { maxInFlight: 1 });
    const a = ch.request("a");
    const b = ch.request("b");
    ch.destroy(new Error("shutting down"));
    const err = await rejectsWith(a, ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    assert.equal((err.cause as Error).message, "shutting down");
    await rejectsWith(b, ConnectionClosedError, "ERR_SOCKPOOL_CONNECTION_CLOSED");
    await ch.close();
    await once(await srv.nthConnection(1), "close");
  });

  it("rejects bad options naming the key and the value", opts, async () => {
    await rejectsWith(
      openChannel("127.0.0.1:1", { maxInFlight: 0 }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "maxInFlight",
    );
    await rejectsWith(
      openChannel("127.0.0.1:1", { bogus: 1 } as never),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      '"bogus"',
    );
  });
});
