import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import tls from "node:tls";
import { ConnectError } from "sockpool";
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
