/**
 * A server behind a load balancer (`proxyProtocol`, docs/proxy-protocol.md): every command
 * and family of both PROXY protocol versions, on real loopback sockets, on the fast read path
 * and the public one; what handlers, protocols, the RPC server and TLS see; and the peers
 * that are refused (docs/reliability.md, scenario 31).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import type net from "node:net";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import {
  BadFrameError,
  Channel,
  type Connection,
  connect,
  InvalidArgumentError,
  type ProxiedBy,
  type ProxyHeaderInit,
  ProxyProtocolError,
  type Transport,
} from "sockpool";
import { encodeProxyHeader } from "../../src/codec/proxy-protocol.js";
import { createRpcServer } from "../../src/rpc/index.js";
import { createServer, type Server, type ServerDropEvent, type ServerOptions } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { collect, dial, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const CLIENT = { address: "192.0.2.1", port: 56324 };
const BALANCER_FRONT = { address: "198.51.100.1", port: 443 };
const CLIENT6 = { address: "2001:db8::7", port: 40001 };
const FRONT6 = { address: "2001:db8::1", port: 443 };

/** What a stream handler saw: its peer, the balancer, and the first line after the header. */
interface Seen {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  where: string;
  proxiedBy: ProxiedBy | undefined;
  line: string;
}

/** A server whose handler reports what it saw of each client, then echoes "ok". */
async function observed(
  t: TestContext,
  options: ServerOptions,
): Promise<{ server: Server; port: number; seen: Promise<Seen> }> {
  let resolve: (s: Seen) => void = () => {};
  const seen = new Promise<Seen>((r) => {
    resolve = r;
  });
  const handler = async (conn: Connection) => {
    const line = (await conn.readLine()) ?? "";
    const { remoteAddress, remotePort, where, proxiedBy } = conn;
    resolve({ remoteAddress, remotePort, where, proxiedBy, line });
    await conn.write("ok\n");
  };
  const { server, port } = await serve(t, handler, { proxyProtocol: {}, ...options });
  return { server, port, seen };
}

/** Sends `bytes` in one write, and waits for the server's answer or close. */
async function sendRaw(t: TestContext, port: number, bytes: Buffer): Promise<string> {
  const s = await dial(t, port);
  const got = collect(s);
  s.end(bytes);
  await got.ended;
  return got.text();
}

const header = (init: ProxyHeaderInit) => encodeProxyHeader(init);
const withLine = (init: ProxyHeaderInit) => Buffer.concat([header(init), Buffer.from("hello\n")]);

for (const fastRead of [true, false]) {
  describe(`PROXY headers believed from a trusted balancer (fastRead: ${fastRead})`, () => {
    it(
      "v1 TCP4: the client is remoteAddress, remotePort and where; the bytes after it in the same chunk are the stream's",
      opts,
      async (t) => {
        const { server, port, seen } = await observed(t, { fastRead });
        const reply = await sendRaw(t, port, withLine({ version: 1, source: CLIENT, destination: BALANCER_FRONT }));
        const s = await seen;
        assert.equal(reply, "ok\n");
        assert.deepEqual(
          [s.remoteAddress, s.remotePort, s.where, s.line],
          ["192.0.2.1", 56324, "192.0.2.1:56324", "hello"],
        );
        assert.equal(s.proxiedBy?.address, "127.0.0.1");
        assert.equal(typeof s.proxiedBy?.port, "number");
        assert.equal(s.proxiedBy?.header.version, 1);
        assert.deepEqual(s.proxiedBy?.header.destination, BALANCER_FRONT);
        assert.equal(server.stats().readPath, fastRead ? "onread" : "data");
        assert.equal(server.stats().proxyRefused, 0);
      },
    );

    it("v1 TCP6: an IPv6 client, bracketed in where", opts, async (t) => {
      const { port, seen } = await observed(t, { fastRead });
      await sendRaw(t, port, withLine({ version: 1, source: CLIENT6, destination: FRONT6 }));
      const s = await seen;
      assert.deepEqual([s.remoteAddress, s.remotePort, s.where], ["2001:db8::7", 40001, "[2001:db8::7]:40001"]);
      assert.equal(s.proxiedBy?.header.family, "tcp6");
    });

    it("v1 UNKNOWN and v2 UNSPEC: no client named, so the socket's own peer stands", opts, async (t) => {
      for (const version of [1, 2] as const) {
        const { port, seen } = await observed(t, { fastRead });
        await sendRaw(t, port, withLine({ version }));
        const s = await seen;
        assert.equal(s.remoteAddress, "127.0.0.1");
        assert.equal(s.proxiedBy?.header.family, "unspec");
        assert.equal(s.proxiedBy?.header.version, version);
        assert.equal(s.line, "hello");
      }
    });

    it("v2 INET with TLVs: ALPN, authority, unique id and the SSL sub-fields reach the handler", opts, async (t) => {
      const { port, seen } = await observed(t, { fastRead });
      const tlvs = {
        alpn: "h2",
        authority: "api.example.com",
        uniqueId: "conn-42",
        crc32c: true,
        ssl: { ssl: true, certConn: true, version: "TLSv1.3", cn: "client-a", cipher: "TLS_AES_128_GCM_SHA256" },
      };
      await sendRaw(t, port, withLine({ version: 2, source: CLIENT, destination: BALANCER_FRONT, tlvs }));
      const s = await seen;
      assert.deepEqual([s.remoteAddress, s.remotePort, s.line], ["192.0.2.1", 56324, "hello"]);
      const got = s.proxiedBy?.header.tlvs;
      assert.equal(got?.alpn?.toString(), "h2");
      assert.equal(got?.authority, "api.example.com");
      assert.equal(got?.uniqueId?.toString(), "conn-42");
      assert.equal(typeof got?.crc32c, "number");
      assert.deepEqual(
        [got?.ssl?.ssl, got?.ssl?.certConn, got?.ssl?.version, got?.ssl?.cn, got?.ssl?.cipher],
        [true, true, "TLSv1.3", "client-a", "TLS_AES_128_GCM_SHA256"],
      );
    });

    it("v2 INET6", opts, async (t) => {
      const { port, seen } = await observed(t, { fastRead });
      await sendRaw(t, port, withLine({ version: 2, source: CLIENT6, destination: FRONT6 }));
      const s = await seen;
      assert.deepEqual([s.remoteAddress, s.where], ["2001:db8::7", "[2001:db8::7]:40001"]);
      assert.equal(s.proxiedBy?.header.family, "tcp6");
    });

    it("v2 UNIX: a Unix socket client has no address, as Node reports one", opts, async (t) => {
      const { port, seen } = await observed(t, { fastRead });
      await sendRaw(
        t,
        port,
        withLine({ version: 2, source: { path: "/run/client.sock" }, destination: { path: "/run/lb.sock" } }),
      );
      const s = await seen;
      assert.deepEqual([s.remoteAddress, s.remotePort, s.where], [undefined, undefined, "unix client"]);
      assert.deepEqual(s.proxiedBy?.header.source, { path: "/run/client.sock" });
    });

    it(
      "v2 LOCAL (a health check) is the balancer's own connection: served, counted in proxyLocal, no error",
      opts,
      async (t) => {
        const { server, port, seen } = await observed(t, { fastRead });
        const errors: unknown[] = [];
        server.on("error", (err) => errors.push(err));
        const reply = await sendRaw(
          t,
          port,
          withLine({ version: 2, command: "local", source: CLIENT, destination: BALANCER_FRONT }),
        );
        const s = await seen;
        assert.equal(reply, "ok\n");
        assert.equal(s.remoteAddress, "127.0.0.1", "LOCAL names no client: the addresses it carries are ignored");
        assert.equal(s.proxiedBy?.header.command, "local");
        await until(() => server.stats().current === 0, "the health check to close");
        const stats = server.stats();
        assert.deepEqual([stats.proxyLocal, stats.proxyRefused, stats.handlerErrors, stats.rejected], [1, 0, 0, 0]);
        assert.deepEqual(errors, []);
      },
    );

    it("a header split one byte at a time, then data", opts, async (t) => {
      const { port, seen } = await observed(t, { fastRead });
      const s = await dial(t, port);
      s.setNoDelay(true);
      const got = collect(s);
      const bytes = header({ version: 2, source: CLIENT, destination: BALANCER_FRONT, tlvs: { authority: "x.test" } });
      for (const byte of bytes) {
        s.write(Buffer.of(byte));
        await new Promise((r) => setImmediate(r));
      }
      s.end("hello\n");
      await got.ended;
      const seenBy = await seen;
      assert.deepEqual([seenBy.remoteAddress, seenBy.line, got.text()], ["192.0.2.1", "hello", "ok\n"]);
      assert.equal(seenBy.proxiedBy?.header.tlvs.authority, "x.test");
    });

    it("protocol callbacks: the Transport reports the client; dataReceived gets only the stream", opts, async (t) => {
      const made: Transport[] = [];
      const data: string[] = [];
      const { port } = await serve(
        t,
        {
          protocol: () => ({
            connectionMade: (tr: Transport) => made.push(tr),
            dataReceived: (chunk: Buffer, tr: Transport) => {
              data.push(chunk.toString());
              tr.write(`${tr.remoteAddress}:${tr.remotePort} via ${tr.proxiedBy?.address}\n`);
              tr.close();
            },
          }),
        },
        { fastRead, proxyProtocol: {} },
      );
      const reply = await sendRaw(t, port, withLine({ version: 1, source: CLIENT, destination: BALANCER_FRONT }));
      assert.equal(reply, "192.0.2.1:56324 via 127.0.0.1\n");
      assert.deepEqual(data, ["hello\n"]);
      assert.equal(made[0]?.where, "192.0.2.1:56324");
    });
  });
}

describe("PROXY headers with TLS and RPC", () => {
  it("TLS: the header comes before the handshake; the TLS client is the client it names", opts, async (t) => {
    const { key, cert } = selfSigned();
    let seenBy: Pick<Connection, "remoteAddress" | "proxiedBy"> | undefined;
    const server = createServer(
      async (conn) => {
        seenBy = { remoteAddress: conn.remoteAddress, proxiedBy: conn.proxiedBy };
        for await (const chunk of conn) await conn.write(chunk);
      },
      { proxyProtocol: {} },
    );
    const { port } = await serve(t, server, {}, { tls: { key, cert } });
    const proxyHeader = { version: 2, source: CLIENT } as const;
    const conn = await connect(`tls://127.0.0.1:${port}`, { proxyHeader, tls: { ca: cert, servername: "localhost" } });
    t.after(() => conn.destroy());
    await conn.write("secret\n");
    assert.equal(await conn.readLine(), "secret");
    assert.equal(seenBy?.remoteAddress, "192.0.2.1");
    assert.equal(seenBy?.proxiedBy?.header.version, 2);
    const stats = server.stats();
    assert.deepEqual([stats.tlsErrors, stats.proxyRefused, stats.current], [0, 0, 1]);
    await conn.close();
  });

  it("TLS: a client that sends no header is refused before any handshake", opts, async (t) => {
    const { key, cert } = selfSigned();
    const server = createServer(async () => {}, { proxyProtocol: {} });
    const { port } = await serve(t, server, {}, { tls: { key, cert } });
    const refused = once(server, "error");
    await assert.rejects(connect(`tls://127.0.0.1:${port}`, { tls: { ca: cert, servername: "localhost" } }));
    const [err] = await refused;
    assert.ok(err instanceof ProxyProtocolError);
    assert.equal(err.reason, "missing");
    assert.deepEqual([server.stats().proxyRefused, server.stats().tlsErrors], [1, 0]);
  });

  it("the RPC server's handlers see the client the header names", opts, async (t) => {
    const server = createRpcServer((_payload, ctx) => `${ctx.remoteAddress} via ${ctx.proxiedBy?.address}`, {
      proxyProtocol: {},
    });
    await server.listen({ host: "127.0.0.1", port: 0 });
    t.after(() => server.close({ timeout: 0 }));
    const port = (server.address() as net.AddressInfo).port;
    const conn = await connect(`127.0.0.1:${port}`, { proxyHeader: { version: 2, source: CLIENT } });
    const channel = new Channel(conn);
    t.after(() => channel.close());
    assert.equal((await channel.request("who")).toString(), "192.0.2.1 via 127.0.0.1");
  });
});

describe("per-address limits count the clients behind the balancer", () => {
  for (const fastRead of [true, false]) {
    it(`maxConnectionsPerAddress: 1 limits each client, not the balancer (fastRead: ${fastRead})`, opts, async (t) => {
      const server = createServer(
        async (conn) => {
          await conn.write("hi\n");
          await conn.readLine().catch(() => {});
        },
        { fastRead, proxyProtocol: {}, maxConnectionsPerAddress: 1 },
      );
      const { port } = await serve(t, server);
      const dialAs = async (address: string) => {
        const c = await connect(`127.0.0.1:${port}`, { proxyHeader: { version: 1, source: { address, port: 1000 } } });
        t.after(() => c.destroy());
        return c;
      };
      const a1 = await dialAs("192.0.2.1");
      assert.equal(await a1.readLine(), "hi");
      const b1 = await dialAs("192.0.2.2");
      assert.equal(await b1.readLine(), "hi", "another client from the same balancer is served");
      const a2 = await dialAs("192.0.2.1");
      assert.equal(await a2.readLine(), null, "a second connection of 192.0.2.1 is closed");
      const stats = server.stats();
      assert.deepEqual([stats.current, stats.rejected, stats.proxyRefused], [2, 1, 0]);
    });
  }
});

describe("peers that are refused (scenario 31)", () => {
  /** A server that records its refusals. */
  async function refusing(t: TestContext, proxyProtocol: ServerOptions["proxyProtocol"], fastRead = true) {
    const served: string[] = [];
    const errors: unknown[] = [];
    const server = createServer(
      async (conn) => {
        served.push(`${conn.remoteAddress} ${await conn.readLine()}`);
        await conn.write("ok\n");
      },
      { proxyProtocol, fastRead },
    );
    server.on("error", (err) => errors.push(err));
    const { port } = await serve(t, server);
    return { server, port, served, errors };
  }

  it(
    "a header from a source not on the trust list is never believed: closed, counted, a typed error",
    opts,
    async (t) => {
      for (const required of [true, false]) {
        const { server, port, served, errors } = await refusing(t, { trust: ["10.0.0.0/8", "fd00::/8"], required });
        const drops: ServerDropEvent[] = [];
        server.on("drop", (event) => drops.push(event));
        const reply = await sendRaw(t, port, withLine({ version: 2, source: CLIENT, destination: BALANCER_FRONT }));
        assert.equal(reply, "");
        await until(() => server.stats().proxyRefused === 1, "the refusal to be counted");
        assert.deepEqual(served, []);
        const err = errors[0];
        assert.ok(err instanceof ProxyProtocolError);
        assert.equal(err.code, "ERR_SOCKPOOL_PROXY_PROTOCOL");
        assert.equal(err.reason, "untrusted");
        assert.match(err.message, /127\.0\.0\.1:\d+ is not on the trust list/);
        assert.deepEqual([server.stats().handlerErrors, server.stats().total], [0, 0]);
        assert.deepEqual(
          drops.map((d) => [d.reason, d.error, d.handle]),
          [["proxy-protocol", err, undefined]],
        );
        assert.equal(drops[0]?.remote, err.peer);
      }
    },
  );

  it(
    "a TCP peer that resets before its accept is handled has no address, and is not trusted for it",
    opts,
    async (t) => {
      // The peer connects, sends a header and a line, and resets, all while this process is
      // busy: by the time the server sees the socket, getpeername fails and remoteAddress is
      // undefined, but the queued bytes still arrive. A missing address must not read as a
      // (trusted) Unix peer.
      for (const fastRead of [true, false]) {
        const { server, port, served } = await refusing(t, { trust: ["10.0.0.0/8"] }, fastRead);
        const header = "PROXY TCP4 6.6.6.6 127.0.0.1 4444 80\r\nhello\n";
        const client = spawn(
          process.execPath,
          [
            "-e",
            `process.stdin.once("data", () => { const c = require("node:net").connect(${port}, "127.0.0.1", () =>
               c.write(${JSON.stringify(header)}, () => setTimeout(() => { c.resetAndDestroy(); process.exit(0); }, 20))); c.on("error", () => {}); });
             process.stdout.write("ready\\n");`,
          ],
          { stdio: ["pipe", "pipe", "inherit"] },
        );
        t.after(() => client.kill());
        await once(client.stdout, "data"); // ready, before this process turns busy
        client.stdin.write("go\n");
        const busyUntil = performance.now() + 600;
        while (performance.now() < busyUntil); // the peer connects, writes and resets meanwhile
        await once(client, "exit");
        const handled = () => server.stats().proxyRefused + server.stats().proxyVanished + server.stats().total;
        await until(() => handled() > 0, "the socket to be handled");
        await until(() => server.stats().handshaking === 0, "the header reader to let go");
        assert.deepEqual(served, [], "no handler ran for the spoofed client");
        assert.equal(server.stats().total, 0);
      }
    },
  );

  it("required: false serves an untrusted peer without a header as itself", opts, async (t) => {
    const { server, port, served } = await refusing(t, { trust: ["10.0.0.0/8"], required: false });
    assert.equal(await sendRaw(t, port, Buffer.from("hello\n")), "ok\n");
    assert.deepEqual(served, ["127.0.0.1 hello"]);
    assert.equal(server.stats().proxyRefused, 0);
  });

  for (const fastRead of [true, false]) {
    it(
      `a trusted peer that sends no header is closed when one is required (fastRead: ${fastRead})`,
      opts,
      async (t) => {
        const { server, port, served, errors } = await refusing(t, {}, fastRead);
        assert.equal(await sendRaw(t, port, Buffer.from("GET / HTTP/1.0\r\n\r\n")), "");
        await until(() => server.stats().proxyRefused === 1, "the refusal to be counted");
        assert.deepEqual(served, []);
        assert.ok(errors[0] instanceof ProxyProtocolError);
        assert.equal((errors[0] as ProxyProtocolError).reason, "missing");
      },
    );

    it(`a trickled header is closed at its deadline, however it trickles (fastRead: ${fastRead})`, opts, async (t) => {
      const timeout = 300;
      const { server, port, errors } = await refusing(t, { timeout }, fastRead);
      const s = await dial(t, port);
      const got = collect(s);
      const bytes = header({ version: 1, source: CLIENT, destination: BALANCER_FRONT });
      let at = 0;
      const drip = setInterval(() => {
        if (at < bytes.length - 2 && s.writable) s.write(bytes.subarray(at, ++at));
      }, 20);
      t.after(() => clearInterval(drip));
      const t0 = Date.now();
      await got.ended;
      assert.ok(Date.now() - t0 >= timeout - 20, "not closed before its deadline");
      assert.ok(at > 5, "bytes kept coming: never idle");
      await until(() => server.stats().proxyRefused === 1, "the refusal to be counted");
      assert.ok(errors[0] instanceof ProxyProtocolError);
      assert.equal((errors[0] as ProxyProtocolError).reason, "timeout");
      assert.match((errors[0] as ProxyProtocolError).message, /within 300 ms/);
      assert.equal(server.stats().handshaking, 0);
    });
  }

  it(
    "several late headers are each closed at their own deadline from accept (one timer serves them all)",
    opts,
    async (t) => {
      const timeout = 400;
      const { server, port } = await refusing(t, { timeout });
      const first = await dial(t, port);
      const tFirst = Date.now();
      const firstGot = collect(first);
      first.write("PROXY ");
      await until(() => Date.now() - tFirst >= timeout / 2, "half the timeout to pass"); // the gap is the point
      const second = await dial(t, port);
      const tSecond = Date.now();
      const secondGot = collect(second);
      second.write("\r\n\r\n");
      await firstGot.ended;
      assert.ok(Date.now() - tFirst >= timeout - 20, "the first is not closed before its deadline");
      assert.ok(!second.closed, "the later one is not closed with the first");
      await secondGot.ended;
      assert.ok(Date.now() - tSecond >= timeout - 20, "the second is closed at its own deadline");
      await until(() => server.stats().proxyRefused === 2, "both refusals to be counted");
      assert.equal(server.stats().handshaking, 0);
    },
  );

  it(
    "required: false serves a silent peer as itself once the header's time is up (the server speaks first)",
    opts,
    async (t) => {
      const server = createServer(
        async (conn) => {
          await conn.write(`hello ${conn.remoteAddress} ${conn.proxiedBy === undefined}\n`);
        },
        { proxyProtocol: { required: false, timeout: 200 } },
      );
      const { port } = await serve(t, server);
      const s = await dial(t, port);
      const got = collect(s);
      await got.ended;
      assert.equal(got.text(), "hello 127.0.0.1 true\n");
      assert.equal(server.stats().proxyRefused, 0);
    },
  );

  it("a Unix socket listener trusts its peers: the header is believed", opts, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sockpool-proxy-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "s.sock");
    let seenBy: string | undefined;
    const server = createServer(
      async (conn) => {
        seenBy = `${conn.where} ${conn.proxiedBy?.address}`;
        await conn.write("ok\n");
      },
      { proxyProtocol: { trust: ["10.0.0.0/8"] } },
    );
    await serve(t, server, {}, { path });
    const s = netConnect({ path });
    s.on("error", () => {});
    t.after(() => s.destroy());
    const got = collect(s);
    s.end(withLine({ version: 2, source: CLIENT, destination: BALANCER_FRONT }));
    await got.ended;
    assert.equal(got.text(), "ok\n");
    assert.equal(seenBy, "192.0.2.1:56324 undefined");
  });

  it("a malformed header is refused with the parser's error as its cause", opts, async (t) => {
    const { server, port, errors } = await refusing(t, {});
    assert.equal(await sendRaw(t, port, Buffer.from("PROXY TCP4 999.0.0.1 10.0.0.1 1 2\r\nhello\n")), "");
    await until(() => server.stats().proxyRefused === 1, "the refusal to be counted");
    const err = errors[0] as ProxyProtocolError;
    assert.equal(err.reason, "malformed");
    assert.ok(err.cause instanceof BadFrameError);
    assert.match(err.message, /999\.0\.0\.1/);
  });

  it("close() destroys the sockets still in their header; they count as handshaking meanwhile", opts, async (t) => {
    const { server, port } = await refusing(t, {});
    const s = await dial(t, port);
    s.write("PROXY TC");
    await until(() => server.stats().handshaking === 1, "the header to be in progress");
    const got = collect(s);
    await server.close({ timeout: 1000 });
    await got.ended;
    assert.equal(server.stats().handshaking, 0);
  });
});

describe("proxyProtocol options", () => {
  it("refuses a bad trust entry, naming it, and unknown keys", () => {
    assert.throws(
      () => createServer(() => {}, { proxyProtocol: { trust: ["10.0.0.0/33"] } }),
      (err) => err instanceof InvalidArgumentError && /10\.0\.0\.0\/33/.test(err.message),
    );
    assert.throws(
      () => createServer(() => {}, { proxyProtocol: { trust: ["balancer.local"] } }),
      (err) => err instanceof InvalidArgumentError && /balancer\.local/.test(err.message),
    );
    assert.throws(
      () => createServer(() => {}, { proxyProtocol: { requird: false } as never }),
      (err) => err instanceof InvalidArgumentError && /requird/.test(err.message),
    );
    assert.throws(
      () => createServer(() => {}, { proxyProtocol: { timeout: -1 } }),
      (err) => err instanceof InvalidArgumentError && /timeout/.test(err.message),
    );
  });
});
