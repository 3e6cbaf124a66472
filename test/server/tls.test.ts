/**
 * TLS listeners and the sockets that never finish their handshake (docs/architecture.md,
 * Server): a TCP health check that connects and sends FIN, a client that rejects our
 * certificate, a silent or trickling client. None may outlive the handshake timeout, and
 * `close()` destroys them as it does sessions.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it } from "node:test";
import tls from "node:tls";
import { type Connection, connect } from "sockpool";
import { createEchoServer, createServer } from "../../src/server/index.js";
import { assertNoOpenSockets, socketHandleCount, TEST_TIMEOUT, until } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { collect, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** A TCP client that connects and at once sends FIN, as a load balancer's health check does. */
function finProbe(port: number, clients: net.Socket[]): void {
  const s = net.connect({ host: "127.0.0.1", port });
  s.on("error", () => {});
  s.on("connect", () => s.end());
  clients.push(s);
}

/** A TLS client without our CA: it rejects the self-signed certificate and hangs up. */
function rejectingClient(port: number, clients: net.Socket[]): void {
  const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost" });
  s.on("error", () => {});
  clients.push(s);
}

/** A TCP client that connects and sends nothing. */
async function silentClient(port: number, clients: net.Socket[]): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port });
  s.on("error", () => {});
  clients.push(s);
  await once(s, "connect");
  return s;
}

describe("TLS handshakes that never finish", () => {
  it(
    "closes 20 FIN probes and 20 clients that reject the certificate within the handshake timeout",
    opts,
    async (t) => {
      const { key, cert } = selfSigned();
      const handshakeTimeout = 500;
      const { server, port } = await serve(t, createEchoServer({ handshakeTimeout }), {}, { tls: { key, cert } });
      const baseline = socketHandleCount();
      const clients: net.Socket[] = [];
      t.after(() => {
        for (const c of clients) c.destroy();
      });
      for (let i = 0; i < 20; i++) finProbe(port, clients);
      for (let i = 0; i < 20; i++) rejectingClient(port, clients);
      await until(
        () => socketHandleCount() <= baseline,
        `open socket handles back to ${baseline} (${server.stats().handshaking} sockets mid-handshake)`,
        handshakeTimeout + 1000,
      );
      assert.equal(server.stats().handshaking, 0);
      await until(() => server.stats().tlsErrors === 40, `40 failed handshakes counted (${server.stats().tlsErrors})`);
      assert.equal(server.stats().total, 0, "none became a client");
    },
  );

  it("destroys a silent client and a trickling one at the handshake deadline, not before", opts, async (t) => {
    const { key, cert } = selfSigned();
    const handshakeTimeout = 300;
    const { server, port } = await serve(t, createEchoServer({ handshakeTimeout }), {}, { tls: { key, cert } });
    const clients: net.Socket[] = [];
    t.after(() => {
      for (const c of clients) c.destroy();
    });
    const started = Date.now();
    const silent = await silentClient(port, clients);
    const trickler = await silentClient(port, clients);
    // A TLS record header announcing a 512-byte ClientHello, then one byte of it every 50 ms:
    // the client is never idle, but its handshake can never finish in time.
    trickler.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    const drip = setInterval(() => trickler.writable && trickler.write(Buffer.alloc(1)), 50);
    t.after(() => clearInterval(drip));
    const closedAt = await Promise.all(
      [silent, trickler].map(async (s) => {
        await collect(s).ended;
        return Date.now() - started;
      }),
    );
    for (const ms of closedAt) assert.ok(ms >= handshakeTimeout - 5, `closed after ${ms} ms, not before the deadline`);
    await until(() => server.stats().tlsErrors === 2, "both failures counted");
    assert.equal(server.stats().handshaking, 0);
  });

  it("lets a session outlive the handshake deadline and half-close like a TCP client", opts, async (t) => {
    const { key, cert } = selfSigned();
    const { port } = await serve(
      t,
      createEchoServer({ handshakeTimeout: 200, delay: 400 }),
      {},
      { tls: { key, cert } },
    );
    const s = tls.connect({ host: "127.0.0.1", port, ca: cert, servername: "localhost" });
    s.on("error", () => {});
    t.after(() => s.destroy());
    await once(s, "secureConnect");
    const got = collect(s);
    s.end("ping"); // the echo answers 400 ms later: past the 200 ms deadline, after our FIN
    await got.ended;
    assert.equal(got.text(), "ping");
  });
});

describe("close() with sockets mid-handshake", () => {
  it("resolves by its deadline and destroys every socket accepted, session or not", opts, async (t) => {
    const { key, cert } = selfSigned();
    const baseline = socketHandleCount();
    const hang = createServer(() => new Promise<void>(() => {}), { handshakeTimeout: 60_000 });
    const { server, port } = await serve(t, hang, {}, { tls: { key, cert } });
    const clients: net.Socket[] = [];
    t.after(() => {
      for (const c of clients) c.destroy();
    });
    for (let i = 0; i < 5; i++) await silentClient(port, clients);
    // The kernel queues connections in order and Node accepts them in order: once the session
    // is a client, the five silent sockets before it have been accepted too.
    const session: Connection = await connect(`tls://localhost:${port}`, { tls: { ca: cert } });
    t.after(() => session.destroy());
    await until(() => server.stats().current === 1, "the session to start");

    const t0 = Date.now();
    const outcome = await Promise.race([
      server.close({ timeout: 100 }).then(() => "closed"),
      new Promise((r) => setTimeout(r, 5000, "still closing after 5 s")).then(String),
    ]);
    const elapsed = Date.now() - t0;
    assert.equal(outcome, "closed");
    assert.ok(elapsed >= 95, `the hung session had until the deadline (${elapsed} ms)`); // timers may fire a ms early
    assert.ok(elapsed < 1000, `close({ timeout: 100 }) took about 100 ms, not ${elapsed} ms`);
    assert.equal(server.stats().current, 0);
    session.destroy();
    for (const c of clients) c.destroy();
    await until(() => socketHandleCount() <= baseline, "every socket handle closed");
  });
});
