import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import tls from "node:tls";
import { type Connection, connect, InvalidArgumentError, ServerClosedError, SocketError } from "sockpool";
import { createServer, type Protocol, type Transport } from "../../src/server/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { collect, dial, received, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const echo = async (conn: Connection) => {
  for await (const chunk of conn) await conn.write(chunk);
};

describe("Server handler styles", () => {
  it("runs a stream handler per client and closes the connection when it returns", opts, async (t) => {
    const { server, endpoint } = await serve(t, async (conn) => {
      const name = await conn.readLine();
      await conn.write(`hello ${name}\n`);
    });
    const c = await connect(endpoint);
    t.after(() => c.destroy());
    await c.write("ada\n");
    assert.equal(await c.readLine(), "hello ada");
    assert.equal(await c.readLine(), null, "the server closed after the handler returned");
    await until(() => server.stats().current === 0, "the session to end");
    assert.equal(server.stats().total, 1);
  });

  it("runs protocol callbacks in order: made, data, eof, lost", opts, async (t) => {
    const events: string[] = [];
    class Upper implements Protocol {
      #t: Transport | undefined;
      connectionMade(transport: Transport) {
        events.push("made");
        this.#t = transport;
      }
      dataReceived(data: Buffer) {
        events.push(`data:${data}`);
        this.#t?.write(data.toString().toUpperCase());
      }
      eofReceived() {
        events.push("eof");
        return undefined;
      }
      connectionLost(err: Error | undefined) {
        events.push(`lost:${err === undefined}`);
      }
    }
    const { server, port } = await serve(t, Upper);
    const s = await dial(t, port);
    const got = collect(s);
    s.write("abc");
    await until(() => got.text() === "ABC", "the upper-cased reply");
    s.end();
    await got.ended;
    await until(() => events.at(-1)?.startsWith("lost") === true, "connectionLost");
    assert.deepEqual(events, ["made", "data:abc", "eof", "lost:true"]);
    assert.equal(server.stats().current, 0);
  });

  it("accepts { protocol: factory } and lets a protocol keep writing after EOF", opts, async (t) => {
    const { port } = await serve(t, {
      protocol: () => {
        let tr: Transport;
        return {
          connectionMade: (transport) => {
            tr = transport;
          },
          eofReceived: () => {
            setImmediate(() => {
              tr.write("late bye");
              tr.close();
            });
            return true;
          },
        };
      },
    });
    const s = await dial(t, port);
    const got = collect(s);
    s.end();
    await got.ended;
    assert.equal(got.text(), "late bye");
  });

  it("tells a protocol when its writes back up and drain, pausing reading meanwhile", opts, async (t) => {
    const calls: string[] = [];
    const big = Buffer.alloc(32 * 1024 * 1024, 0x63); // more than the kernel buffers take
    const { server, port } = await serve(
      t,
      {
        protocol: () => ({
          dataReceived: (_data, tr) => {
            if (calls.length === 0) calls.push(`write:${tr.write(big)}`);
          },
          pauseWriting: () => calls.push("pause"),
          resumeWriting: () => calls.push("resume"),
        }),
      },
      { highWaterMark: 16 * 1024 },
    );
    const s = await dial(t, port);
    s.pause();
    s.write("go");
    await until(() => calls.includes("pause"), "pauseWriting");
    assert.deepEqual(calls, ["pause", "write:false"]);
    s.resume();
    await received(s, big.length);
    await until(() => calls.includes("resume"), "resumeWriting");
    assert.deepEqual(calls, ["pause", "write:false", "resume"]);
    assert.equal(server.stats().bytesOut, big.length);
    assert.equal(server.stats().bytesIn, 2);
  });

  it("rejects a handler that is neither a function nor a protocol", opts, () => {
    assert.throws(
      () => createServer(42 as never),
      (e: Error) => e instanceof InvalidArgumentError && e.message.includes("42"),
    );
  });
});

describe("Server listen", () => {
  it("listens on port 0, reports the port, and binds 127.0.0.1 by default", opts, async (t) => {
    const { server, port } = await serve(t, echo);
    const address = server.address() as net.AddressInfo;
    assert.equal(address.address, "127.0.0.1");
    assert.ok(port > 0);
    assert.equal(server.state, "listening");
  });

  it("accepts IPv4 and IPv6 clients on '::' (dual stack)", opts, async (t) => {
    const { server } = await serve(t, echo, {}, { host: "::" });
    const port = (server.address() as net.AddressInfo).port;
    for (const host of ["127.0.0.1", "::1"]) {
      const c = await connect({ host, port });
      t.after(() => c.destroy());
      await c.write(`via ${host}\n`);
      assert.equal(await c.readLine(), `via ${host}`);
    }
  });

  it("serves a Unix socket path and removes it on close", opts, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sockpool-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, "s.sock");
    const server = createServer(echo);
    t.after(() => server.close({ timeout: 0 }));
    await server.listen({ path: file });
    assert.equal(server.address(), file);
    const c = await connect(`unix:${file}`);
    await c.write("over unix\n");
    assert.equal(await c.readLine(), "over unix");
    await c.close();
    await server.close();
    assert.equal(fs.existsSync(file), false);
  });

  it("serves TLS with TLS 1.2 as the minimum", opts, async (t) => {
    const { key, cert } = selfSigned();
    const { port } = await serve(t, echo, {}, { tls: { key, cert } });
    const c = await connect(`tls://localhost:${port}`, { tls: { ca: cert } });
    t.after(() => c.destroy());
    await c.write("secret\n");
    assert.equal(await c.readLine(), "secret");
    const old = tls.connect({ port, host: "127.0.0.1", ca: cert, servername: "localhost", maxVersion: "TLSv1.1" });
    t.after(() => old.destroy());
    const [err] = (await once(old, "error")) as [Error & { code?: string }];
    assert.match(String(err.code), /TLS|SSL|PROTOCOL|VERSION/i, err.message);
  });

  it("refuses TLS versions below 1.2 in the options", opts, async (t) => {
    const { key, cert } = selfSigned();
    const server = createServer(echo);
    t.after(() => server.close({ timeout: 0 }));
    await rejectsWith(
      server.listen({ tls: { key, cert, minVersion: "TLSv1" } }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      '"TLSv1"',
    );
  });

  it("rejects a port in use with SocketError and a listen after close with ServerClosedError", opts, async (t) => {
    const { port } = await serve(t, echo);
    const second = createServer(echo);
    t.after(() => second.close({ timeout: 0 }));
    const err = await rejectsWith(second.listen({ port }), SocketError, "ERR_SOCKPOOL_SOCKET", String(port));
    assert.match(err.message, /EADDRINUSE/);
    await second.close();
    await rejectsWith(second.listen({ port: 0 }), ServerClosedError, "ERR_SOCKPOOL_SERVER_CLOSED", "listen");
  });
});

describe("Server isolation (scenario 21)", () => {
  it("closes only the client whose handler throws, emits the error and keeps serving", opts, async (t) => {
    const { server, endpoint } = await serve(t, async (conn) => {
      for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
        if (line === "boom") throw new Error("handler blew up");
        await conn.write(`ok ${line}\n`);
      }
    });
    const errors: [unknown, unknown][] = [];
    server.on("error", (err, handle) => errors.push([err, handle]));
    const good = await connect(endpoint);
    const bad = await connect(endpoint);
    t.after(() => good.destroy());
    t.after(() => bad.destroy());
    await bad.write("fine\nboom\n");
    assert.equal(await bad.readLine(), "ok fine", "replies written before the throw are flushed");
    assert.equal(await bad.readLine(), null, "then the connection closes");
    await good.write("still here\n");
    assert.equal(await good.readLine(), "ok still here");
    assert.equal(errors.length, 1);
    const [err, handle] = errors[0] ?? [];
    assert.equal((err as Error).message, "handler blew up");
    assert.match((handle as Connection).where, /^127\.0\.0\.1:\d+$/, "the error names the client's connection");
    const late = await connect(endpoint);
    t.after(() => late.destroy());
    await late.write("new\n");
    assert.equal(await late.readLine(), "ok new", "the server keeps accepting");
    assert.equal(server.stats().handlerErrors, 1);
  });

  it("survives a handler that throws synchronously and a protocol callback that throws", opts, async (t) => {
    const sync = createServer(() => {
      throw new Error("sync throw");
    });
    const errors: string[] = [];
    sync.on("error", (err) => errors.push((err as Error).message));
    const a = await serve(t, sync);
    const proto = createServer({
      protocol: () => ({
        dataReceived: () => {
          throw new Error("callback throw");
        },
      }),
    });
    proto.on("error", (err) => errors.push((err as Error).message));
    const b = await serve(t, proto);
    const sa = await dial(t, a.port);
    await collect(sa).ended;
    const sb = await dial(t, b.port);
    const gotB = collect(sb);
    sb.write("x");
    await gotB.ended;
    assert.deepEqual(errors.sort(), ["callback throw", "sync throw"]);
    const again = await dial(t, b.port);
    assert.equal(again.readyState, "open");
  });

  it("does not report a client's reset as a handler error", opts, async (t) => {
    const { server, port } = await serve(t, echo);
    server.on("error", () => assert.fail("no error event for a client reset"));
    const s = await dial(t, port);
    s.write("hello");
    await received(s, 5);
    s.resetAndDestroy();
    await until(() => server.stats().current === 0, "the reset client to go");
    assert.equal(server.stats().handlerErrors, 0);
  });
});
