/**
 * The fast read path (docs/architecture.md, "The fast read path"): accepted TCP and Unix
 * sockets read into one reused buffer, given to them as the `onread` option would. These tests state which
 * path runs on this Node, prove that no reused bytes reach a client or a handler corrupted,
 * and check counts, limits, close() and TLS on the fast path and on the public fallback
 * (forced by the option, and by the feature detection failing).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import tls from "node:tls";
import { type Connection, connect, InvalidArgumentError } from "sockpool";
import { deferred } from "../../src/internal/deferred.js";
import {
  adoptSocket,
  type OnreadKeys,
  probeFastRead,
  probeRunningNode,
  TESTED_NODE_MAJORS,
} from "../../src/server/fast-read.js";
import { createEchoServer, createServer, type Protocol, type Server, type Transport } from "../../src/server/index.js";
import { assertNoOpenSockets, rawServer, TEST_TIMEOUT, until } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { collect, dial, finOrReset, received, sendOneByOne, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const PATHS = [
  { fastRead: true, readPath: "onread" },
  { fastRead: false, readPath: "data" },
] as const;

const streamEcho = async (conn: Connection) => {
  for await (const chunk of conn) await conn.write(chunk);
};

/** Keeps every chunk it is given and writes them all back at EOF: chunks are its own. */
class KeepAll implements Protocol {
  readonly #chunks: Buffer[] = [];
  dataReceived(data: Buffer): void {
    this.#chunks.push(data);
  }
  eofReceived(transport: Transport): undefined {
    for (const c of this.#chunks) transport.write(c);
    return undefined;
  }
}

/** Borrows its chunks and writes each back in two parts: a view of a view, written twice. */
const halves: Protocol = {
  borrowsChunks: true,
  dataReceived(data: Buffer, transport: Transport): void {
    const middle = data.length >> 1;
    transport.write(data.subarray(0, middle));
    transport.write(data.subarray(middle));
  },
};

/** Resolves with every byte `s` receives until the server's FIN. */
function drain(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    s.once("end", () => resolve(Buffer.concat(chunks)));
    s.once("close", () => reject(new Error(`closed before FIN after ${Buffer.concat(chunks).length} bytes`)));
  });
}

/** Asserts that each client got back exactly the bytes it sent. */
function assertEchoes(sent: Buffer[], received: Buffer[]): void {
  sent.forEach((data, i) => {
    const got = received[i] as Buffer;
    if (got.equals(data)) return;
    let at = 0;
    while (at < Math.min(got.length, data.length) && got[at] === data[at]) at++;
    assert.fail(`client ${i}: ${got.length} of ${data.length} bytes came back, first difference at byte ${at}`);
  });
}

/**
 * `clients` clients each send `bytes` random bytes in 256 KiB writes and half-close; client
 * i starts reading only once client i - 1 has its whole echo, so the server's replies to the
 * waiting clients sit unsent while it goes on reading the others into the reused buffer.
 * Returns each client's bytes sent and received.
 */
async function slowReaders(t: TestContext, port: number, clients: number, bytes: number) {
  const sockets = await Promise.all(Array.from({ length: clients }, () => dial(t, port)));
  const sent = sockets.map(() => randomBytes(bytes));
  const results: Promise<Buffer>[] = [];
  sockets.forEach((s, i) => {
    s.pause();
    const data = sent[i] as Buffer;
    for (let at = 0; at < data.length; at += 256 * 1024) s.write(data.subarray(at, at + 256 * 1024));
    s.end();
    const previous = results[i - 1];
    const got = drain(s);
    results.push(got);
    if (previous === undefined) s.resume();
    else void previous.finally(() => s.resume());
  });
  return { sent, received: await Promise.all(results) };
}

describe("Which read path runs", () => {
  it(`reads TCP clients through onread on this Node (${process.version})`, opts, async (t) => {
    assert.equal(
      typeof probeRunningNode(),
      "object",
      `this Node's internals are the ones tested: ${probeRunningNode()}`,
    );
    const { server, port } = await serve(t, createEchoServer());
    assert.equal(server.stats().readPath, "onread");
    const s = await dial(t, port);
    const got = collect(s);
    s.write("hello");
    await until(() => got.text() === "hello", "the echo");
    assert.equal(server.stats().readPath, "onread", "the accepted socket was adopted");
  });

  it("reads Unix socket clients through onread too", opts, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sockpool-fast-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const where = path.join(dir, "echo.sock");
    const server = createServer(streamEcho);
    t.after(() => server.close({ timeout: 0 }));
    await server.listen({ path: where });
    const c = await connect(`unix:${where}`);
    t.after(() => c.destroy());
    await c.write("over unix");
    assert.equal((await c.readExactly(9)).toString(), "over unix");
    assert.equal(server.stats().readPath, "onread");
    await c.close();
    await until(() => server.stats().current === 0, "the client to leave");
    await server.close();
  });

  it("keeps TLS on Node's public path", opts, async (t) => {
    const { key, cert } = selfSigned();
    const server = createEchoServer();
    t.after(() => server.close({ timeout: 0 }));
    await server.listen({ port: 0, tls: { key, cert } });
    assert.equal(server.stats().readPath, "data");
    const port = (server.address() as net.AddressInfo).port;
    const s = tls.connect({ host: "127.0.0.1", port, ca: cert, servername: "localhost" });
    t.after(() => s.destroy());
    await once(s, "secureConnect");
    const got = collect(s);
    s.write("secret");
    await until(() => got.text() === "secret", "the echo over TLS");
    s.end();
    await got.ended;
    await until(() => server.stats().current === 0, "the client to leave");
    await server.close();
    assert.equal(server.stats().readPath, "data");
  });

  it("uses the public path with fastRead: false, and refuses a non-boolean", opts, async (t) => {
    const { server, port } = await serve(t, createEchoServer({ fastRead: false }));
    assert.equal(server.stats().readPath, "data");
    const s = await dial(t, port);
    const got = collect(s);
    s.write("plain");
    await until(() => got.text() === "plain", "the echo");
    assert.throws(
      () => createServer(streamEcho, { fastRead: "yes" as never }),
      (e: Error) =>
        e instanceof InvalidArgumentError &&
        e.code === "ERR_SOCKPOOL_INVALID_ARGUMENT" &&
        /fastRead.*"yes"/.test(e.message),
    );
  });
});

describe("The feature detection", () => {
  it("accepts the running Node and refuses untested versions and changed internals", opts, () => {
    const here = process.versions.node;
    assert.ok(TESTED_NODE_MAJORS.includes(Number(here.split(".")[0])));
    const keys = probeFastRead({ version: here, Socket: net.Socket }) as OnreadKeys;
    assert.deepEqual([keys.buffer.description, keys.callback.description], ["kBuffer", "kBufferCb"]);
    assert.match(String(probeFastRead({ version: "99.0.0", Socket: net.Socket })), /Node 99\.0\.0 is not one/);
    class IgnoresOnread extends net.Socket {
      constructor(options?: net.SocketConstructorOpts) {
        const { onread: _ignored, ...rest } = (options ?? {}) as { onread?: unknown };
        super(rest);
      }
    }
    assert.match(String(probeFastRead({ version: here, Socket: IgnoresOnread })), /no longer keeps its onread/);
    class KeepsItElsewhere extends net.Socket {
      constructor(options?: net.SocketConstructorOpts) {
        const { onread, ...rest } = (options ?? {}) as { onread?: { buffer: unknown; callback: unknown } };
        super(rest);
        const fields = this as unknown as Record<symbol, unknown>;
        fields[Symbol("readBuffer")] = onread?.buffer;
        fields[Symbol("readCallback")] = onread?.callback;
      }
    }
    assert.match(String(probeFastRead({ version: here, Socket: KeepsItElsewhere })), /kBuffer and kBufferCb/);
    class PausesOnlyTheStream extends net.Socket {
      override pause(): this {
        return this;
      }
    }
    assert.match(String(probeFastRead({ version: here, Socket: PausesOnlyTheStream })), /pause\/resume/);
  });

  it("serves on the public path, with counts and close() right, when the detection fails", opts, async (t) => {
    // A Node whose Socket#pause no longer stops an onread socket's handle.
    const proto = net.Socket.prototype as unknown as { pause: (...args: unknown[]) => unknown };
    const original = proto.pause;
    proto.pause = function (this: net.Socket, ...args: unknown[]) {
      return original.apply(this, args);
    };
    let server: Server;
    try {
      server = createEchoServer(LIMITS);
    } finally {
      proto.pause = original;
    }
    assert.equal(server.stats().readPath, "data");
    await checkCountsAndClose(t, server, "data");
  });

  it("leaves a socket that is not as tested alone, and falls back for good", opts, async (t) => {
    // A listener that does not pause what it accepts: its sockets' handles are reading.
    const descriptor = { get: () => false, set: () => {}, configurable: true };
    Object.defineProperty(net.Server.prototype, "pauseOnConnect", descriptor);
    const server = createEchoServer(LIMITS);
    try {
      t.after(() => server.close({ timeout: 0 }));
      await server.listen({ port: 0 });
    } finally {
      delete (net.Server.prototype as { pauseOnConnect?: boolean }).pauseOnConnect;
    }
    assert.equal(server.stats().readPath, "onread", "nothing accepted yet");
    await checkCountsAndClose(t, server, "data");
  });

  it("adoptSocket refuses a socket that is already reading and changes nothing", opts, async (t) => {
    const accepted = deferred<net.Socket>();
    const raw = await rawServer(t, (socket) => accepted.resolve(socket));
    const client = await dial(t, raw.port);
    const socket = await accepted.promise;
    const keys = probeRunningNode() as OnreadKeys;
    assert.equal(
      adoptSocket(socket, keys, () => {}),
      false,
    );
    const fields = socket as unknown as Record<symbol, unknown>;
    assert.deepEqual([fields[keys.buffer], fields[keys.callback]], [null, null], "the socket is unchanged");
    const got = collect(client);
    socket.on("data", (d: Buffer) => socket.write(d));
    client.write("still served");
    await until(() => got.text() === "still served", "the untouched socket to echo");
  });
});

const LIMITS = { maxConnections: 3, maxConnectionsPerAddress: 2 };

/** Whether the server answers `s` (an echo of one byte) or ends it (FIN or close). */
async function servedOrClosed(s: net.Socket): Promise<string> {
  if (s.readableEnded || s.destroyed) return "closed";
  const ended = new Promise<string>((resolve) => {
    s.once("end", () => resolve("closed"));
    s.once("close", () => resolve("closed"));
  });
  s.write("x");
  return Promise.race([
    received(s, 1).then(
      () => "served",
      () => "closed",
    ),
    ended,
  ]);
}

/**
 * Limits, counts and close() of an echo server made with {@link LIMITS}, whose new clients
 * are read on `readPath`: two clients per address, three in all; close() resolves once the
 * listener has counted every socket closed (it never would with a count left over).
 */
async function checkCountsAndClose(t: TestContext, server: Server, readPath: string): Promise<void> {
  if (server.state === "idle") {
    t.after(() => server.close({ timeout: 0 }));
    await server.listen({ port: 0 });
  }
  const port = (server.address() as net.AddressInfo).port;
  const [a, b] = [await dial(t, port), await dial(t, port)];
  assert.deepEqual([await servedOrClosed(a), await servedOrClosed(b)], ["served", "served"]);
  assert.equal(server.stats().readPath, readPath);
  assert.equal(await servedOrClosed(await dial(t, port)), "closed", "a third client from 127.0.0.1");
  const other = await dial(t, port, { localAddress: "127.0.0.2" });
  assert.equal(await servedOrClosed(other), "served", "a client from 127.0.0.2");
  const fourth = await dial(t, port, { localAddress: "127.0.0.3" });
  assert.equal(await servedOrClosed(fourth), "closed", "a fourth client in all");
  assert.equal(server.stats().rejected, 2);
  assert.equal(server.stats().current, 3);
  const gotB = collect(b);
  b.end();
  await gotB.ended;
  await until(() => server.stats().current === 2, "b to leave");
  const again = await dial(t, port);
  assert.equal(await servedOrClosed(again), "served", "b's place is free again");
  const closing = server.close({ timeout: 5000 });
  for (const s of [a, other, again]) s.end(); // each answers the server's FIN
  await closing;
  assert.equal(server.state, "closed");
  assert.equal(server.stats().current, 0);
  assert.equal(server.stats().total, 4);
}

describe("Limits, counts and close()", () => {
  for (const { fastRead, readPath } of PATHS) {
    it(`count clients, enforce both limits and close on the ${readPath} path`, opts, async (t) => {
      await checkCountsAndClose(t, createEchoServer({ ...LIMITS, fastRead }), readPath);
    });
  }

  it("hold on TLS, which stays on the public path", opts, async (t) => {
    const { key, cert } = selfSigned();
    const server = createEchoServer(LIMITS);
    t.after(() => server.close({ timeout: 0 }));
    await server.listen({ port: 0, tls: { key, cert } });
    const port = (server.address() as net.AddressInfo).port;
    const dialTls = async (localAddress = "127.0.0.1") => {
      const options = { host: "127.0.0.1", port, localAddress, ca: cert, servername: "localhost" };
      const s = tls.connect(options as tls.ConnectionOptions); // net.connect's localAddress applies
      s.on("error", () => {});
      t.after(() => s.destroy());
      await once(s, "secureConnect");
      return s;
    };
    const clients = [await dialTls(), await dialTls(), await dialTls("127.0.0.2")];
    for (const c of clients) assert.equal(await servedOrClosed(c), "served");
    assert.equal(await servedOrClosed(await dialTls()), "closed", "a third client from 127.0.0.1");
    assert.equal(await servedOrClosed(await dialTls("127.0.0.3")), "closed", "a fourth client in all");
    assert.equal(server.stats().rejected, 2);
    assert.equal(server.stats().readPath, "data");
    const closing = server.close({ timeout: 5000 });
    for (const c of clients) c.end();
    await closing;
    assert.equal(server.stats().current, 0);
  });
});

describe("Reused bytes are never seen twice", () => {
  for (const { fastRead, readPath } of PATHS) {
    it(`echoes 3 slow readers' 8 MiB byte for byte (protocol, ${readPath})`, opts, async (t) => {
      const { server, port } = await serve(t, createEchoServer({ fastRead }));
      const { sent, received } = await slowReaders(t, port, 3, 8 * 1024 * 1024);
      assertEchoes(sent, received);
      assert.equal(server.stats().readPath, readPath);
    });

    it(`echoes 3 slow readers' 8 MiB byte for byte (stream handler, ${readPath})`, opts, async (t) => {
      const { server, port } = await serve(t, streamEcho, { fastRead });
      const { sent, received } = await slowReaders(t, port, 3, 8 * 1024 * 1024);
      assertEchoes(sent, received);
      assert.equal(server.stats().readPath, readPath);
    });

    it(`copies what a write keeps of a borrowed chunk (${readPath})`, opts, async (t) => {
      const { port } = await serve(t, { protocol: () => halves }, { fastRead });
      const { sent, received } = await slowReaders(t, port, 3, 8 * 1024 * 1024);
      assertEchoes(sent, received);
    });

    it(`lets a protocol keep every chunk it was given (${readPath})`, opts, async (t) => {
      const { port } = await serve(t, KeepAll, { fastRead });
      const { sent, received } = await slowReaders(t, port, 3, 1024 * 1024);
      assertEchoes(sent, received);
    });
  }
});

describe("A paused transport on both paths", () => {
  for (const { fastRead, readPath } of PATHS) {
    it(`answers what arrived while paused before shutdown's FIN (${readPath})`, opts, async (t) => {
      // The protocol pauses at its first chunk until `go`: on the public path Node holds the
      // later messages in its buffer, on the fast path the transport holds them.
      const go = deferred<void>();
      const { server, port } = await serve(
        t,
        {
          protocol: () => {
            let gated = true;
            return {
              dataReceived(data: Buffer, transport: Transport) {
                if (!gated) return void transport.write(data);
                transport.pause();
                void go.promise.then(() => {
                  gated = false;
                  transport.write(data);
                  transport.resume();
                });
              },
            };
          },
        },
        { fastRead },
      );
      const s = await dial(t, port);
      const got = collect(s);
      const fin = finOrReset(s);
      await sendOneByOne(s, ["one\n", "two\n", "three\n"], (n) =>
        until(() => server.stats().bytesIn === n, `the server to read ${n} bytes`),
      );
      const closing = server.close({ timeout: 5000 });
      go.resolve();
      assert.equal(await fin, "FIN");
      assert.equal(got.text(), "one\ntwo\nthree\n", "every message answered before the FIN");
      s.end();
      await closing;
    });

    it(`delivers what arrived while paused before the peer's EOF (${readPath})`, opts, async (t) => {
      const events: string[] = [];
      const paused = deferred<Transport>();
      const { server, port } = await serve(
        t,
        {
          protocol: () => ({
            connectionMade(transport: Transport) {
              transport.pause();
              paused.resolve(transport);
            },
            dataReceived(data: Buffer) {
              events.push(`data:${data}`);
            },
            eofReceived() {
              events.push("eof");
              return undefined;
            },
          }),
        },
        { fastRead },
      );
      const s = await dial(t, port);
      const transport = await paused.promise;
      s.end("held bytes");
      await until(() => server.stats().bytesIn === 10, "the server to read the bytes");
      for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r)); // and the FIN behind them
      assert.equal(events.length, 0, "nothing is delivered while paused");
      transport.resume();
      await until(() => events.includes("eof"), "eofReceived");
      assert.deepEqual(events, ["data:held bytes", "eof"]);
    });
  }
});
