import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { after, describe, it } from "node:test";
import tls from "node:tls";
import {
  AbortError,
  ConnectError,
  ConnectTimeoutError,
  connect,
  InvalidArgumentError,
  InvalidEndpointError,
} from "sockpool";
import { type ProxyHeader, ProxyHeaderParser } from "../../src/codec/proxy-protocol.js";
import { blackholePort } from "../helpers/blackhole.js";
import {
  assertNoOpenSockets,
  closedPort,
  rejectsWith,
  socketHandleCount,
  TEST_TIMEOUT,
  until,
} from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("connect", () => {
  it("fails with ConnectError naming the endpoint when nothing listens", opts, async () => {
    const port = await closedPort();
    const err = (await rejectsWith(
      connect(`127.0.0.1:${port}`),
      ConnectError,
      "ERR_SOCKPOOL_CONNECT",
      `127.0.0.1:${port}`,
    )) as ConnectError;
    assert.equal(err.syscode, "ECONNREFUSED");
    assert.equal((err.cause as NodeJS.ErrnoException).code, "ECONNREFUSED");
  });

  it("times out against a blackholed port with ConnectTimeoutError and leaves no socket", opts, async (t) => {
    const port = await blackholePort(t);
    const before = socketHandleCount();
    const err = (await rejectsWith(
      connect(`127.0.0.1:${port}`, { timeout: 150 }),
      ConnectTimeoutError,
      "ERR_SOCKPOOL_CONNECT_TIMEOUT",
      "150 ms",
    )) as ConnectTimeoutError;
    assert.equal(err.timeout, 150);
    await until(() => socketHandleCount() <= before, "the half-made socket is destroyed");
  });

  it("aborts a connect in progress with the signal's reason", opts, async (t) => {
    const port = await blackholePort(t);
    const ac = new AbortController();
    const pending = connect(`127.0.0.1:${port}`, { signal: ac.signal });
    setTimeout(() => ac.abort("changed my mind"), 20);
    const err = await rejectsWith(pending, AbortError, "ERR_SOCKPOOL_ABORTED");
    assert.equal(err.cause, "changed my mind");
  });

  it("rejects at once, opening nothing, for an aborted signal, a bad endpoint or a bad option", opts, async () => {
    const before = socketHandleCount();
    const ac = new AbortController();
    ac.abort();
    await rejectsWith(connect("127.0.0.1:1", { signal: ac.signal }), AbortError, "ERR_SOCKPOOL_ABORTED");
    await rejectsWith(connect("127.0.0.1:99999"), InvalidEndpointError, "ERR_SOCKPOOL_INVALID_ENDPOINT", "99999");
    await rejectsWith(
      connect("127.0.0.1:1", { timeout: -5 }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "-5",
    );
    await rejectsWith(
      connect("127.0.0.1:1", { bogus: 1 } as never),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "bogus",
    );
    await rejectsWith(
      connect("127.0.0.1:1", { connectTimeout: 5 } as never),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "use timeout",
    );
    await rejectsWith(
      connect("127.0.0.1:1", { localAddress: "not-an-ip" }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      '"not-an-ip"',
    );
    await rejectsWith(
      connect("127.0.0.1:1", { family: 5 }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "got 5",
    );
    assert.equal(socketHandleCount(), before);
  });
});

describe("connect over TLS", () => {
  async function tlsEcho(t: import("node:test").TestContext): Promise<number> {
    const { key, cert } = selfSigned();
    const server = tls.createServer({ key, cert, minVersion: "TLSv1.2" }, (s) => {
      s.on("error", () => {});
      s.pipe(s);
    });
    const sockets = new Set<net.Socket>();
    server.on("secureConnection", (s) => sockets.add(s));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });
    return (server.address() as net.AddressInfo).port;
  }

  it("round-trips with a trusted self-signed certificate and SNI", opts, async (t) => {
    const port = await tlsEcho(t);
    const c = await connect(`tls://localhost:${port}`, { tls: { ca: selfSigned().cert } });
    t.after(() => c.destroy());
    const sock = c.socket as tls.TLSSocket;
    assert.equal(sock.authorized, true);
    assert.equal((sock as tls.TLSSocket & { servername?: string }).servername, "localhost");
    await c.write("secure\n");
    assert.equal(await c.readLine(), "secure");
    await c.close();
  });

  it("stays half-open: after the server's FIN the client can still write", opts, async (t) => {
    const { key, cert } = selfSigned();
    let got = "";
    const server = tls.createServer({ key, cert, allowHalfOpen: true }, (s) => {
      s.on("error", () => {});
      s.on("data", (d) => (got += d));
      s.end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const c = await connect(`tls://localhost:${(server.address() as net.AddressInfo).port}`, { tls: { ca: cert } });
    t.after(() => c.destroy());
    assert.equal((await c.read()).length, 0, "the server's FIN");
    assert.equal(c.writable, true);
    await c.write("after FIN\n");
    await c.end();
    await until(() => got === "after FIN\n", "the server got the late write");
  });

  it("verifies certificates by default: an untrusted one fails with ConnectError", opts, async (t) => {
    const port = await tlsEcho(t);
    const err = await rejectsWith(
      connect(`tls://localhost:${port}`),
      ConnectError,
      "ERR_SOCKPOOL_CONNECT",
      "localhost",
    );
    assert.match(String((err.cause as NodeJS.ErrnoException).code), /SELF_SIGNED|UNABLE_TO_VERIFY/);
  });
});

describe("connect over a Unix socket", () => {
  it("round-trips through unix:/path", opts, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sockpool-"));
    const path = join(dir, "echo.sock");
    const server = net.createServer((s) => s.pipe(s));
    server.listen(path);
    await once(server, "listening");
    t.after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    });
    const c = await connect(`unix:${path}`);
    await c.write("over a pipe\n");
    assert.equal(await c.readLine(), "over a pipe");
    assert.equal(c.where, `unix:${path}`);
    await c.close();
  });

  it("fails with ConnectError (ENOENT) for a missing path", opts, async () => {
    const err = (await rejectsWith(
      connect("unix:/nonexistent/sockpool.sock"),
      ConnectError,
      "ERR_SOCKPOOL_CONNECT",
    )) as ConnectError;
    assert.equal(err.syscode, "ENOENT");
  });
});

describe("connect with a PROXY protocol header", () => {
  /** A raw server that parses the header its client sends first, then echoes the stream. */
  async function headerServer(t: import("node:test").TestContext, secure = false) {
    const { key, cert } = selfSigned();
    const headers: (ProxyHeader | null)[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((raw) => {
      sockets.add(raw);
      raw.on("error", () => {});
      const parser = new ProxyHeaderParser();
      const onData = (chunk: Buffer) => {
        const result = parser.push(chunk);
        if (result === undefined) return;
        raw.off("data", onData);
        headers.push(result.header);
        if (result.rest.length > 0) raw.unshift(result.rest);
        if (!secure) return void raw.pipe(raw);
        // TLSSocket would read the raw socket's handle and miss the unshifted bytes: give it
        // a stream over the socket instead.
        const s = new tls.TLSSocket(Duplex.from({ readable: raw, writable: raw }), { isServer: true, key, cert });
        s.on("error", () => {});
        s.pipe(s);
      };
      raw.on("data", onData);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    t.after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });
    return { port: (server.address() as net.AddressInfo).port, headers, ca: cert };
  }

  it("sends a v1 header first, its destination the address dialed, then the stream", opts, async (t) => {
    const srv = await headerServer(t);
    const source = { address: "192.0.2.7", port: 40123 };
    const c = await connect(`127.0.0.1:${srv.port}`, { proxyHeader: { version: 1, source } });
    t.after(() => c.destroy());
    await c.write("after the header\n");
    assert.equal(await c.readLine(), "after the header");
    const [h] = srv.headers;
    assert.equal(h?.version, 1);
    assert.deepEqual(h?.source, source);
    assert.deepEqual(h?.destination, { address: "127.0.0.1", port: srv.port });
  });

  it("sends a v2 header with TLVs before the TLS handshake of a tls:// endpoint", opts, async (t) => {
    const srv = await headerServer(t, true);
    const c = await connect(`tls://localhost:${srv.port}`, {
      tls: { ca: srv.ca },
      proxyHeader: { version: 2, source: { address: "2001:db8::5", port: 443 }, tlvs: { authority: "example.com" } },
    });
    t.after(() => c.destroy());
    assert.equal((c.socket as tls.TLSSocket).authorized, true);
    await c.write("secure\n");
    assert.equal(await c.readLine(), "secure");
    const [h] = srv.headers;
    assert.equal(h?.version, 2);
    assert.equal(h?.family, "tcp6");
    assert.equal(h?.tlvs.authority, "example.com");
  });

  it("refuses a bad header before any I/O, naming the value", opts, async () => {
    const before = socketHandleCount();
    await rejectsWith(
      connect("127.0.0.1:9", { proxyHeader: { version: 1, source: { address: "not-an-ip", port: 1 } } }),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "not-an-ip",
    );
    assert.equal(socketHandleCount(), before, "nothing was opened");
  });
});
