import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it, type TestContext } from "node:test";
import tls from "node:tls";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Connection, InvalidArgumentError, RequestTimeoutError } from "sockpool";
import {
  createRpcServer,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameKind,
  openChannel,
  type RpcServer,
  serveRpc,
} from "../../src/rpc/index.js";
import { assertNoOpenSockets, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { gate, rpcServer } from "./helpers.js";

// Faults covered here: a peer that writes RPC frames and never reads what they cause
// (docs/architecture.md, "RPC: many requests on one socket", flow control).

const opts = { timeout: TEST_TIMEOUT };
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
after(assertNoOpenSockets);

const KiB = 1024;
const MiB = 1024 * KiB;
/** The server connections' read limit: a Connection pauses its socket past 2 × this many unread bytes. */
const LIMIT = 64 * KiB;
/** The largest read chunk serveRpc takes at once, whose pongs and replies may pass the mark. */
const READ_CHUNK = 64 * KiB;
/**
 * What the memory bounds allow beyond 2 × highWaterMark: the read buffer (≤ 2 × LIMIT + one
 * socket read), the flooder's own batch and unsent bytes, and allocator slack.
 */
const SLACK = 1 * MiB;
/** Frames per write of a flooder. */
const BATCH = 64;

const mib = (n: number) => `${(n / MiB).toFixed(2)} MiB`;

/**
 * Buffer memory after a full GC; `external` includes `arrayBuffers` (socket chunks, frames).
 * Two collections: V8 frees dead buffers' memory on a background sweeper, and the next
 * collection first waits for that sweep to finish, so the figures are then settled.
 */
function bufferMemory(): { arrayBuffers: number; external: number } {
  gc();
  gc();
  const { arrayBuffers, external } = process.memoryUsage();
  return { arrayBuffers, external };
}

/** Asserts that buffer memory grew by at most `bound` bytes since `before`, and reports the growth. */
function assertGrowth(
  t: TestContext,
  before: { arrayBuffers: number; external: number },
  bound: number,
  what: string,
): void {
  const now = bufferMemory();
  for (const key of ["arrayBuffers", "external"] as const) {
    const grown = now[key] - before[key];
    t.diagnostic(`${key} grew ${mib(grown)} ${what} (bound ${mib(bound)})`);
    assert.ok(grown <= bound, `${key} grew ${mib(grown)} ${what}; the bound is ${mib(bound)}`);
  }
}

/** A payload of `size` bytes that starts with its frame's id. */
function payloadFor(id: number, size: number): Buffer {
  const p = Buffer.alloc(size, 0x2e);
  p.write(`${id}:`);
  return p;
}

/** `count` frames of `kind` with ids from `first`, each with a `size`-byte payload, in one buffer. */
function frames(kind: FrameKind, first: number, count: number, size: number): Buffer {
  const out: Buffer[] = [];
  for (let id = first; id < first + count; id++) out.push(encodeFrame(kind, id, payloadFor(id, size)));
  return Buffer.concat(out);
}

/** Resolves true on the socket's `drain`, false once `stop()` holds (checked every turn) or it closes. */
function drainOr(socket: net.Socket, stop: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let timer: NodeJS.Immediate | undefined;
    const settle = (drained: boolean) => {
      if (timer) clearImmediate(timer);
      socket.off("drain", onDrain);
      socket.off("close", onClose);
      resolve(drained);
    };
    const onDrain = () => settle(true);
    const onClose = () => settle(false);
    socket.once("drain", onDrain);
    socket.once("close", onClose);
    const check = () => {
      if (stop()) settle(false);
      else timer = setImmediate(check);
    };
    check();
  });
}

/**
 * Writes frames of `kind` with ids `first … first + count − 1` on `socket`, in batches, and
 * honours the socket's own backpressure so the flooder itself stays small. Gives up once
 * `stop()` holds while a write waits for `drain`. Resolves with how many frames it wrote.
 */
async function flood(
  socket: net.Socket,
  kind: FrameKind,
  first: number,
  count: number,
  size: number,
  stop: () => boolean = () => false,
): Promise<number> {
  for (let id = first; id < first + count; id += BATCH) {
    const n = Math.min(BATCH, first + count - id);
    if (!socket.write(frames(kind, id, n, size)) && !(await drainOr(socket, stop))) return id + n - first;
  }
  return count;
}

/** A raw client socket to `port` that is not read until the test listens to it. */
async function rawClient(t: TestContext, port: number, secure = false): Promise<net.Socket> {
  const socket = secure
    ? tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false })
    : net.connect({ port, host: "127.0.0.1" });
  t.after(() => socket.destroy());
  socket.on("error", () => {});
  await once(socket, secure ? "secureConnect" : "connect");
  return socket;
}

async function listen(t: TestContext, server: RpcServer, secure = false): Promise<number> {
  await server.listen({ host: "127.0.0.1", port: 0, ...(secure && { tls: selfSigned() }) });
  t.after(() => server.close({ timeout: 0 }));
  return (server.address() as net.AddressInfo).port;
}

describe("an RPC server and a client that does not read", () => {
  it(
    "stops reading a client that floods requests then pings, stays bounded, and serves the others",
    opts,
    async (t) => {
      const HWM = 256 * KiB;
      const server = createRpcServer((p) => p, { highWaterMark: HWM, connection: { limit: LIMIT } });
      const port = await listen(t, server);
      const good = await openChannel(`127.0.0.1:${port}`);
      t.after(() => good.destroy());
      assert.equal((await good.request("warm-up")).toString(), "warm-up");
      const flooder = await rawClient(t, port);
      await until(() => server.stats().current === 2, "the flooder to be accepted");
      const conn = server.clients()[1] as Connection; // accept order: the good client first
      const before = bufferMemory();

      let replies = 0;
      let serving = true;
      const goodClient = (async () => {
        while (serving) {
          const text = `good ${replies}`;
          assert.equal((await good.request(text)).toString(), text);
          replies++;
        }
      })();

      // 100,000 requests then 20,000 pings, 265 bytes each: about 30 MiB of replies and pongs if
      // all were read. Stops once the server has stopped reading and the flooder is stuck.
      const [REQUESTS, PINGS, SIZE] = [100_000, 20_000, 256];
      const total = (REQUESTS + PINGS) * (9 + SIZE);
      const stopped = () =>
        (server.stats().slowReaderPauses > 0 && conn.bufferedLength > 2 * LIMIT) || conn.bytesRead >= total;
      let written = await flood(flooder, FrameKind.request, 1, REQUESTS, SIZE, stopped);
      if (written === REQUESTS) written += await flood(flooder, FrameKind.ping, 1, PINGS, SIZE, stopped);
      await until(stopped, "the server to stop reading the flooder (or to read all of it)", 15_000);
      const servedDuringFlood = replies;
      await until(() => replies >= servedDuringFlood + 100, "100 more replies to the good client");
      serving = false;
      await goodClient;

      // Bound: the unsent replies and pongs (≤ HWM + those of one read chunk) plus the read
      // buffer and slack: about 2 × HWM + a small constant, whatever the flooder sends.
      assertGrowth(t, before, 2 * HWM + SLACK, `while a client flooded ${written} frames without reading`);
      assert.ok(
        conn.writableLength <= HWM + READ_CHUNK + 9 + SIZE,
        `${conn.writableLength} bytes unsent to the flooder, highWaterMark ${HWM}`,
      );
      assert.ok(written < REQUESTS + PINGS, "the flooder was stopped by TCP flow control");
      assert.ok(servedDuringFlood > 0, "the good client got replies during the flood");
      assert.ok(server.stats().slowReaderPauses >= 1);

      flooder.destroy();
      await until(() => server.stats().current === 1, "the flooder's session to end");
      assert.equal((await good.request("after")).toString(), "after");
    },
  );

  it("counts pongs toward the default 1 MiB mark: a ping flood is stopped too", opts, async (t) => {
    const HWM = 1 * MiB; // serveRpc's documented default
    const srv = await rpcServer(t, (p) => p);
    const flooder = await rawClient(t, srv.port);
    await until(() => srv.connections.length === 1, "the flooder to be accepted");
    const conn = srv.connections[0] as Connection;
    const before = bufferMemory();
    const [PINGS, SIZE] = [100_000, 256];
    const total = PINGS * (9 + SIZE);
    const stopped = () => (conn.writableLength > HWM && conn.bufferedLength > 2 * LIMIT) || conn.bytesRead >= total;
    const written = await flood(flooder, FrameKind.ping, 1, PINGS, SIZE, stopped);
    await until(stopped, "the server to stop reading the ping flood (or to read all of it)", 15_000);

    assertGrowth(t, before, 2 * HWM + SLACK, `while a client flooded ${written} pings without reading`);
    assert.ok(
      conn.writableLength <= HWM + READ_CHUNK + 9 + SIZE,
      `${conn.writableLength} pong bytes unsent, highWaterMark ${HWM}`,
    );
    assert.ok(written < PINGS, "the flooder was stopped by TCP flow control");
    flooder.destroy();
    assert.equal(await srv.outcomes[0], undefined, "a peer that went away is not a server error");
  });

  for (const secure of [false, true]) {
    it(
      `resumes a slow reader once it reads${secure ? " (TLS)" : ""}: every reply arrives, in order`,
      opts,
      async (t) => {
        const HWM = 64 * KiB;
        const server = createRpcServer((p) => p, { highWaterMark: HWM, connection: { limit: LIMIT } });
        const port = await listen(t, server, secure);
        const client = await rawClient(t, port, secure);
        await until(() => server.stats().current === 1, "the client to be accepted");
        const conn = server.clients()[0] as Connection;
        const [REQUESTS, SIZE] = [20_000, 1 * KiB];
        const paused = () => server.stats().slowReaderPauses > 0 && conn.bufferedLength > 2 * LIMIT;
        const first = await flood(client, FrameKind.request, 1, REQUESTS, SIZE, paused);
        assert.ok(first < REQUESTS, "the server stopped reading before the client finished");

        // Now read: the server drains, reads again, and answers the rest.
        const replies: Frame[] = [];
        const decoder = new FrameDecoder();
        client.on("data", (chunk: Buffer) => replies.push(...decoder.push(chunk)));
        const ended = once(client, "end");
        assert.equal(await flood(client, FrameKind.request, first + 1, REQUESTS - first, SIZE), REQUESTS - first);
        client.end();
        await ended;

        assert.equal(replies.length, REQUESTS);
        for (const [i, f] of replies.entries()) {
          if (f.kind !== FrameKind.reply || f.id !== i + 1 || !f.payload.equals(payloadFor(i + 1, SIZE))) {
            assert.fail(`reply ${i}: got kind ${f.kind} id ${f.id}, want reply ${i + 1} with its payload`);
          }
        }
        assert.ok(server.stats().slowReaderPauses >= 1);
        assert.equal(server.stats().replies, REQUESTS);
      },
    );
  }

  it("rejects a bad highWaterMark naming the key and the value", opts, async () => {
    const bad = (fn: () => unknown, key: string) =>
      assert.throws(fn, (err: Error) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.equal(err.code, "ERR_SOCKPOOL_INVALID_ARGUMENT");
        assert.ok(err.message.includes(key) && err.message.includes("1.5"), err.message);
        return true;
      });
    bad(() => serveRpc({} as Connection, (p) => p, { highWaterMark: 1.5 }), "serveRpc options.highWaterMark");
    bad(() => createRpcServer((p) => p, { highWaterMark: 1.5 }), "server options.highWaterMark");
    await rejectsWith(
      openChannel("127.0.0.1:1", { highWaterMark: 1.5 }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "channel options.highWaterMark must be an integer ≥ 1, got 1.5",
    );
  });
});

describe("a Channel and a server that does not read", () => {
  it(
    "answers a ping flood with one pong per drain, stays bounded, and finishes or fails its own requests",
    opts,
    async (t) => {
      const HWM = 1 * MiB; // the channel's documented default
      const [PINGS, SIZE] = [800, 32 * KiB]; // 25 MiB of pongs if every ping were answered
      let served: Promise<void> | undefined;
      const start = gate(); // the flood starts once the channel's first request is written
      const srv = await rawServer(t, (socket) => {
        served = (async () => {
          await start.promise;
          await flood(socket, FrameKind.ping, 1, PINGS, SIZE);
          socket.write(encodeFrame(FrameKind.reply, 1, "first reply")); // the channel's first id
        })();
      });
      const before = bufferMemory();
      const ch = await openChannel(srv.endpoint);
      t.after(() => ch.destroy());
      const first = ch.request("first");
      start.open();
      // Answered after every ping: by then the channel has read (and answered or not) all of them.
      assert.equal((await first).toString(), "first reply");
      await served;

      assertGrowth(
        t,
        before,
        2 * HWM + SLACK,
        `while a server flooded ${PINGS} pings of ${SIZE} bytes without reading`,
      );
      const s = ch.stats();
      assert.ok(s.unsentBytes <= HWM + 9 + SIZE + 64, `${s.unsentBytes} bytes unsent, highWaterMark ${HWM}`);
      assert.ok(s.drainWaits >= 1 && s.pongsSkipped > 0, `drainWaits ${s.drainWaits}, pongsSkipped ${s.pongsSkipped}`);
      // A new request waits for the drain that never comes, then fails cleanly on its timeout.
      await rejectsWith(
        ch.request("second", { timeout: 50 }),
        RequestTimeoutError,
        "ERR_SOCKPOOL_REQUEST_TIMEOUT",
        `highWaterMark ${HWM}`,
      );
      assert.equal(ch.stats().sent, 1, "the second request was never written");
      ch.destroy();
      assert.equal(ch.state, "closed");
    },
  );

  it(
    "cannot deadlock: a channel and a server both past their marks keep reading, so every request completes",
    opts,
    async (t) => {
      const HWM = 64 * KiB;
      const server = createRpcServer((p) => p, { highWaterMark: HWM });
      const port = await listen(t, server);
      const ch = await openChannel(`127.0.0.1:${port}`, { highWaterMark: HWM });
      t.after(() => ch.destroy());
      // 200 requests of 256 KiB: each side writes 50 MiB, far past its mark and the kernel's buffers.
      const payloads = Array.from({ length: 200 }, (_, i) => Buffer.alloc(256 * KiB, i % 251));
      const replies = await Promise.all(payloads.map((p) => ch.request(p)));
      for (const [i, r] of replies.entries()) assert.ok(r.equals(payloads[i] as Buffer), `reply ${i}`);
      assert.ok(ch.stats().drainWaits > 0, "the channel stopped sending at its mark");
      assert.ok(server.stats().slowReaderPauses > 0, "the server stopped reading at its mark");
      await ch.close();
    },
  );
});
