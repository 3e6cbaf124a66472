/**
 * The timer rule (src/internal/timer.ts): a delay past 2^31-1 ms means "never", at every
 * timer option. Node clamps such a delay to 1 ms, so each test below gives one option a value
 * just past the limit, provokes the timer, and checks that nothing has fired well after the
 * 1 ms a misfire would take. (Proving that something does not happen needs a short wait.)
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Channel, connect, createEchoServer, type LeakReport } from "sockpool";
import { deferred } from "../../src/internal/deferred.js";
import { armsTimer, MAX_TIMER_MS, orNever, startTimer } from "../../src/internal/timer.js";
import { assertNoOpenSockets, echoServer, rawServer, TEST_TIMEOUT } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { testPool } from "../pool/helpers.js";
import { collect, dial, serve } from "../server/helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** Just past the longest delay setTimeout honours. */
const PAST_LIMIT = MAX_TIMER_MS + 1;
/** Far longer than the 1 ms after which Node fires a clamped timer. */
const misfireWindow = () => sleep(40);

describe("the timer rule", () => {
  it("arms delays up to 2^31-1 ms and treats longer ones and Infinity as never", () => {
    assert.equal(armsTimer(0), true);
    assert.equal(armsTimer(MAX_TIMER_MS), true);
    assert.equal(armsTimer(PAST_LIMIT), false);
    assert.equal(armsTimer(Number.POSITIVE_INFINITY), false);
    assert.equal(armsTimer(undefined), false);
    assert.equal(orNever(5), 5);
    assert.equal(orNever(PAST_LIMIT), Number.POSITIVE_INFINITY);
    assert.equal(
      startTimer(() => assert.fail("fired"), PAST_LIMIT),
      undefined,
    );
  });

  it("startTimer's timers are unref'd unless asked otherwise", async () => {
    const fired = deferred<void>();
    const unrefd = startTimer(() => {}, 10_000);
    const refd = startTimer(fired.resolve, 1, true);
    assert.equal(unrefd?.hasRef(), false);
    assert.equal(refd?.hasRef(), true);
    clearTimeout(unrefd);
    await fired.promise;
  });
});

describe("server timer options past the limit mean never", () => {
  it("lineTimeout", opts, async (t) => {
    const { server, port } = await serve(
      t,
      async (conn) => {
        for await (const chunk of conn) await conn.write(chunk);
      },
      { lineTimeout: PAST_LIMIT },
    );
    const s = await dial(t, port);
    s.write("no newline yet");
    await misfireWindow();
    assert.equal(server.stats().lineTimeouts, 0);
    assert.equal(s.destroyed, false);
  });

  it("idleTimeout", opts, async (t) => {
    const { server, port } = await serve(
      t,
      async (conn) => {
        for await (const chunk of conn) await conn.write(chunk);
      },
      { idleTimeout: PAST_LIMIT },
    );
    const s = await dial(t, port);
    await misfireWindow();
    assert.equal(server.stats().idleTimeouts, 0);
    assert.equal(s.destroyed, false);
  });

  it("closeTimeout", opts, async (t) => {
    const release = deferred<void>();
    const { server, port } = await serve(t, () => release.promise, { closeTimeout: PAST_LIMIT });
    const s = await dial(t, port);
    const input = collect(s);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await misfireWindow();
    assert.equal(closed, false, "close() still waits for the handler");
    assert.equal(s.destroyed, false);
    release.resolve();
    await closing;
    await input.ended;
  });

  it("connection.closeTimeout of a protocol transport", opts, async (t) => {
    const { port } = await serve(
      t,
      { protocol: () => ({ connectionMade: (tr) => tr.close() }) },
      {
        connection: { closeTimeout: PAST_LIMIT },
      },
    );
    const s = await dial(t, port); // allowHalfOpen: our side stays open after the server's FIN
    await once(s, "end");
    await misfireWindow();
    assert.equal(s.destroyed, false, "the server waits for our FIN instead of destroying at once");
    s.end();
    await once(s, "close");
  });

  it("handshakeTimeout of a TLS listener", opts, async (t) => {
    const { key, cert } = selfSigned();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    for (const handshakeTimeout of [PAST_LIMIT, Number.POSITIVE_INFINITY]) {
      const { server, port } = await serve(t, createEchoServer({ handshakeTimeout }), {}, { tls: { key, cert } });
      const s = await dial(t, port); // a client that never starts its handshake
      await misfireWindow();
      assert.deepEqual(
        warnings.map((w) => w.name),
        [],
        `handshakeTimeout ${handshakeTimeout}: no TimeoutOverflowWarning, no timer was given the delay`,
      );
      assert.equal(s.destroyed, false, `handshakeTimeout ${handshakeTimeout}: still waiting for the handshake`);
      assert.equal(server.stats().tlsErrors, 0);
      assert.equal(server.stats().handshaking, 1);
    }
  });

  it("the echo server's delay", opts, async (t) => {
    const { port } = await serve(t, createEchoServer({ delay: PAST_LIMIT }));
    const s = await dial(t, port);
    const input = collect(s);
    s.write("hello");
    await misfireWindow();
    assert.equal(input.bytes(), 0, "no early echo");
  });
});

describe("pool timer options past the limit mean never", () => {
  it("leakWarningAfter", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { leakWarningAfter: PAST_LIMIT });
    const leaks: LeakReport[] = [];
    pool.on("leak", (r: LeakReport) => leaks.push(r));
    const c = await pool.acquire(server.endpoint);
    await misfireWindow();
    assert.deepEqual(leaks, []);
    await pool.release(c);
  });

  it("acquireTimeout", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1, acquireTimeout: PAST_LIMIT });
    const held = await pool.acquire(server.endpoint);
    let settled = false;
    const waiting = pool.acquire(server.endpoint).finally(() => (settled = true));
    await misfireWindow();
    assert.equal(settled, false);
    assert.equal(pool.stats().timeouts, 0);
    await pool.release(held);
    await pool.release(await waiting);
  });

  it("idleTimeout and maxLifetime", opts, async (t) => {
    const server = await echoServer(t);
    const pool = testPool(t, { idleTimeout: PAST_LIMIT, maxLifetime: PAST_LIMIT });
    await pool.release(await pool.acquire(server.endpoint));
    await misfireWindow();
    const s = pool.stats();
    assert.deepEqual([s.idle, s.destroyed], [1, 0]);
  });
});

describe("connection and channel timer options past the limit mean never", () => {
  it("Connection closeTimeout", opts, async (t) => {
    // A peer that never answers our FIN: close() waits for it instead of destroying at once.
    const srv = await rawServer(t, () => {}, { allowHalfOpen: true });
    const c = await connect(srv.endpoint, { closeTimeout: PAST_LIMIT });
    t.after(() => c.destroy());
    const peer = await srv.nthConnection(1);
    const closing = c.close();
    await once(peer, "end");
    await misfireWindow();
    assert.equal(c.state, "closing");
    peer.end();
    await closing;
    assert.equal(c.state, "closed");
  });

  it("Channel pingInterval", opts, async (t) => {
    const srv = await rawServer(t, () => {});
    const channel = new Channel(await connect(srv.endpoint), { pingInterval: PAST_LIMIT });
    t.after(() => channel.destroy());
    await misfireWindow();
    assert.equal(channel.stats().pingsSent, 0);
    assert.equal(channel.state, "open");
  });

  it("Channel pingTimeout", opts, async (t) => {
    // The peer reads and never answers: its pings go unanswered, yet it is never declared dead.
    const srv = await rawServer(t, (s) => s.resume());
    const channel = new Channel(await connect(srv.endpoint), { pingInterval: 5, pingTimeout: PAST_LIMIT });
    t.after(() => channel.destroy());
    while (channel.stats().pingsSent < 2) await sleep(5);
    await misfireWindow();
    assert.equal(channel.state, "open");
  });
});

describe("pool durations of weeks", () => {
  it("arm no timer that overflows: idle, lifetime and acquire deadlines of weeks", opts, async (t) => {
    const server = await echoServer(t);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    const pool = testPool(t, {
      maxSocketsPerEndpoint: 1,
      idleTimeout: 3e9,
      maxLifetime: 30 * 24 * 3600_000,
      acquireTimeout: 3e9,
    });
    const settle = () => new Promise((r) => setTimeout(r, 50)); // an overflowing timer fires ~50 times
    await pool.release(await pool.acquire(server.endpoint)); // idle: the retirement timer is armed
    await settle();
    assert.deepEqual([pool.stats().idle, pool.stats().destroyed], [1, 0]);
    const held = await pool.acquire(server.endpoint);
    const queued = pool.acquire(server.endpoint); // on the shared default acquire deadline
    await settle();
    assert.deepEqual([pool.stats().pending, pool.stats().timeouts], [1, 0]);
    assert.deepEqual(warnings, []);
    await pool.release(held);
    await pool.release(await queued);
  });
});
