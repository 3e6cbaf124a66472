import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import tls from "node:tls";
import { ConnectError, InvalidArgumentError } from "sockpool";
import { ProxyHeaderParser } from "../../src/codec/proxy-protocol.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { ping, testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** Runs `server` until the test ends, destroying what it accepted. */
async function serve(t: import("node:test").TestContext, server: net.Server, listen: () => void): Promise<void> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => sockets.add(s));
  listen();
  await once(server, "listening");
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
}

describe("TLS and Unix sockets are pooled like TCP", () => {
  it("pools tls:// sockets, verifying the certificate with the connect options", opts, async (t) => {
    const { key, cert } = selfSigned();
    const server = tls.createServer({ key, cert, minVersion: "TLSv1.2" }, (s) => {
      s.on("error", () => {});
      s.pipe(s);
    });
    await serve(t, server, () => server.listen(0, "127.0.0.1"));
    const ep = `tls://localhost:${(server.address() as net.AddressInfo).port}`;
    const pool = testPool(t, { connect: { tls: { ca: cert } } });
    assert.equal(await pool.use(ep, (c) => ping(c, "secure")), "secure");
    assert.equal(await pool.use(ep, (c) => ping(c, "again")), "again");
    const s = pool.stats();
    assert.equal(s.created, 1);
    assert.equal(s.reused, 1);
    assert.deepEqual(Object.keys(s.endpoints), [ep]);
  });

  it("fails a TLS dial to an untrusted certificate with ConnectError", opts, async (t) => {
    const { key, cert } = selfSigned();
    const server = tls.createServer({ key, cert }, (s) => s.on("error", () => {}));
    server.on("tlsClientError", () => {});
    await serve(t, server, () => server.listen(0, "127.0.0.1"));
    const pool = testPool(t);
    const port = (server.address() as net.AddressInfo).port;
    await rejectsWith(pool.acquire(`tls://localhost:${port}`), ConnectError, "ERR_SOCKPOOL_CONNECT", "localhost");
    assert.equal(pool.stats().open, 0);
  });

  it("pools unix: sockets", opts, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sockpool-pool-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "echo.sock");
    const server = net.createServer((s) => s.pipe(s));
    await serve(t, server, () => server.listen(path));
    const pool = testPool(t);
    assert.equal(await pool.use(`unix:${path}`, (c) => ping(c)), "ping");
    assert.equal(await pool.use(`unix:${path}`, (c) => ping(c)), "ping");
    assert.equal(pool.stats().created, 1);
  });
});

describe("a pool in front of a PROXY protocol server", () => {
  it("sends connect.proxyHeader first on every socket it opens, once per socket", opts, async (t) => {
    const headers: string[] = [];
    const server = net.createServer((s) => {
      s.on("error", () => {});
      const parser = new ProxyHeaderParser();
      const onData = (chunk: Buffer) => {
        const result = parser.push(chunk);
        if (result === undefined) return;
        s.off("data", onData);
        headers.push(
          `${result.header?.source && "address" in result.header.source ? result.header.source.address : "?"}`,
        );
        if (result.rest.length > 0) s.unshift(result.rest);
        s.pipe(s);
      };
      s.on("data", onData);
    });
    await serve(t, server, () => server.listen(0, "127.0.0.1"));
    const port = (server.address() as net.AddressInfo).port;
    const pool = testPool(t, {
      maxSocketsPerEndpoint: 2,
      connect: { proxyHeader: { version: 2, source: { address: "198.51.100.9", port: 5000 } } },
    });
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.use(`127.0.0.1:${port}`, (c) => ping(c, `m${i}`))),
    );
    assert.deepEqual(replies, ["m0", "m1", "m2", "m3", "m4", "m5"]);
    assert.deepEqual(headers, ["198.51.100.9", "198.51.100.9"], "one header per socket, reused sockets send none");
  });

  it("refuses a bad connect.proxyHeader when the pool is made", opts, () => {
    assert.throws(
      () => testPool({ after() {} } as never, { connect: { proxyHeader: { version: 3 } as never } }),
      (err: Error) => err instanceof InvalidArgumentError && err.message.includes("version"),
    );
  });
});
