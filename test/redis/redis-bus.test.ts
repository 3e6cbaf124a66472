import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { after, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ConnectError,
  createChatServer,
  InvalidArgumentError,
  MissingDependencyError,
  type Server,
  type SlowClientPolicy,
  SockpoolError,
} from "sockpool";
import { type RedisBusOptions, redisBus } from "sockpool/redis";
import { loadRedis } from "../../src/redis/load.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { closedRedisUrl, skipWithoutRedis, startRedis, type TestRedis } from "../helpers/redis.js";
import { join, type Member, settle } from "../helpers/room.js";
import { dial, serve } from "../server/helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** Reconnects fast, so outages in tests end soon after Redis is back. */
const FAST = { reconnectDelay: 20, maxReconnectDelay: 200 } as const;

/** A chat server on a Redis bus in room "t", listening; both closed after the test. */
async function chatOn(t: TestContext, redis: TestRedis, bus: Partial<RedisBusOptions> = {}, server = {}) {
  const b = redisBus({ url: redis.url, room: "t", ...FAST, ...bus });
  const { server: s, port } = await serve(t, createChatServer({ bus: b, ...server }));
  return { bus: b, server: s, port };
}

describe("redisBus options and startup", () => {
  it("refuses a bad url, an empty room and unknown keys, naming the value (never a password)", opts, () => {
    const bad: [unknown, RegExp][] = [
      [{ url: "http://127.0.0.1:6379", room: "r" }, /options\.url must be a redis:\/\/ .*"http:\/\/127\.0\.0\.1:6379"/],
      [{ url: "redis://u:hunter2@:6379", room: "r" }, /"redis:\/\/u:\*\*\*@:6379"/],
      [{ url: "redis://127.0.0.1:6379", room: "" }, /options\.room must be a non-empty string, got ""/],
      [{ url: "redis://127.0.0.1:6379", room: "r", maxlen: 5 }, /unknown option "maxlen"/],
      [{ url: "redis://127.0.0.1:6379", room: "r", maxQueued: 0 }, /options\.maxQueued must be an integer ≥ 1, got 0/],
    ];
    for (const [options, message] of bad) {
      assert.throws(
        () => redisBus(options as RedisBusOptions),
        (err: Error) =>
          err instanceof InvalidArgumentError && message.test(err.message) && !/hunter2/.test(err.message),
      );
    }
  });

  it("a missing redis package is a MissingDependencyError that says how to install it", opts, async () => {
    const err = await rejectsWith(
      loadRedis("sockpool-test-no-such-package"),
      MissingDependencyError,
      "ERR_SOCKPOOL_MISSING_DEPENDENCY",
      "npm install sockpool-test-no-such-package",
    );
    assert.ok(err instanceof SockpoolError);
    assert.equal((err as MissingDependencyError).dependency, "sockpool-test-no-such-package");
    assert.ok(err.cause instanceof Error);
    assert.ok(await loadRedis(), "the real one loads");
  });

  it(
    "listen() rejects with ConnectError naming Redis when it cannot be reached, and closes cleanly",
    opts,
    async () => {
      const url = await closedRedisUrl();
      const bus = redisBus({ url, room: "t" });
      const server = createChatServer({ bus });
      const err = await rejectsWith(server.listen(), ConnectError, "ERR_SOCKPOOL_CONNECT", url);
      assert.equal((err as ConnectError).endpoint, url);
      assert.equal(server.state, "idle");
      assert.equal(server.address(), null);
      assert.equal(bus.stats().state, "closed");
      await server.close();
    },
  );

  it("refuses a server option that is not a bus, naming what is missing", opts, () => {
    assert.throws(
      () => createChatServer({ bus: { publish() {} } as never }),
      (err: Error) =>
        err instanceof InvalidArgumentError &&
        /options\.bus must be a Bus .*missing join, close, stats/.test(err.message),
    );
  });
});

describe("redisBus against a real redis-server (scenario 6, fault 30)", { skip: skipWithoutRedis }, () => {
  it("delivers to members of the room only, from when they joined, and never back to the sender", opts, async (t) => {
    const redis = await startRedis(t);
    const one = await chatOn(t, redis);
    const [a0, a1] = [await join(t, "a0", one.port), await join(t, "a1", one.port)];
    await settle([{ last: a1 as Member, others: [a0 as Member] }]);
    await a0.conn.write("before two joined\n");
    const other = await chatOn(t, redis, { room: "elsewhere" });
    const e0 = await join(t, "e0", other.port);
    const two = await chatOn(t, redis);
    const [b0, b1] = [await join(t, "b0", two.port), await join(t, "b1", two.port)];
    await settle([{ last: b1, others: [b0] }]);
    await a0.conn.write("after\n");
    await Promise.all([a1.heard("after"), b0.heard("after"), b1.heard("after")]);
    assert.deepEqual(b0.lines, ["hello b1", "after"], "nothing from before it joined");
    assert.deepEqual(b1.lines, ["after"]);
    assert.deepEqual(a0.lines, ["hello a1", "hello b1"], "never its own lines");
    assert.deepEqual(e0.lines, [], "another room hears nothing");
    assert.equal(await redis.command(["XLEN", "sockpool:room:t"]), 4, "one stream per room, one entry per line");
  });

  it("CLIENT KILL of every bus connection mid-burst of 1,000 lines: nothing lost, nothing twice", opts, async (t) => {
    const redis = await startRedis(t);
    const one = await chatOn(t, redis);
    const two = await chatOn(t, redis);
    const [a0, a1] = [await join(t, "a0", one.port), await join(t, "a1", one.port)];
    const [b0, b1] = [await join(t, "b0", two.port), await join(t, "b1", two.port)];
    await settle([
      { last: a1 as Member, others: [a0 as Member] },
      { last: b1 as Member, others: [b0 as Member] },
    ]);
    const outages = [once(one.bus, "outage"), once(two.bus, "outage")];
    for (let i = 0; i < 1000; i++) {
      await a0.conn.write(`a0 ${i}\n`);
      if (i === 300) {
        await b0.until(() => b0.from("a0").length >= 200, "200 lines across");
        // Redis holds the next XADDs unanswered, so the kill finds them in flight.
        await redis.command(["CLIENT", "PAUSE", "300", "WRITE"]);
      } else if (i === 400) {
        await until(() => one.bus.stats().queued >= 99, "XADDs in flight");
        assert.equal(await redis.kill(/^sockpool:t:\w+:(writer|reader)$/), 4);
      }
    }
    await a0.conn.write("bye a0\n");
    await Promise.all([b0.heard("bye a0"), b1.heard("bye a0"), a1.heard("bye a0")]);
    await Promise.all(outages);
    const seq = Array.from({ length: 1000 }, (_, i) => i);
    for (const m of [a1, b0, b1]) assert.deepEqual(m.from("a0"), seq, `${m.name} heard each line once, in order`);
    // A reader may see entries before their writer has read Redis's replies to its XADDs.
    await until(() => one.bus.stats().queued === 0, "the sender's XADDs acknowledged");
    const [sent, got] = [one.bus.stats(), two.bus.stats()];
    t.diagnostic(`sender ${JSON.stringify(sent)}; receiver ${JSON.stringify(got)}`);
    assert.equal(sent.relayed, 1002, "hello a1, 1000 lines, bye: each acknowledged once");
    assert.equal(got.received, 1002);
    assert.deepEqual([sent.dropped, got.gaps, sent.queued], [0, 0, 0]);
    assert.ok(sent.outages >= 1 && got.outages >= 1);
  });

  it("Redis down for 2 s: local delivery goes on, the outbox keeps the newest up to its bound, in order, counted", {
    timeout: 30_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const one = await chatOn(t, redis, { maxQueued: 100 });
    const two = await chatOn(t, redis, { maxQueued: 100 });
    const [a0, a1] = [await join(t, "a0", one.port), await join(t, "a1", one.port)];
    const [b0, b1] = [await join(t, "b0", two.port), await join(t, "b1", two.port)];
    await settle([
      { last: a1 as Member, others: [a0 as Member] },
      { last: b1 as Member, others: [b0 as Member] },
    ]);
    const events: string[] = [];
    for (const [name, bus] of [
      ["one", one.bus],
      ["two", two.bus],
    ] as const) {
      bus.on("outage", () => events.push(`${name} outage`));
      bus.on("recovered", ({ queued, dropped }) =>
        events.push(`${name} recovered ${queued} queued ${dropped} dropped`),
      );
    }
    const lines = (from: number, to: number) => {
      let s = "";
      for (let i = from; i < to; i++) s += `a0 ${i}\n`;
      return s;
    };
    await a0.conn.write(lines(0, 10));
    await b0.until(() => b0.from("a0").length === 10, "the first 10 lines across");
    await until(() => one.bus.stats().queued === 0, "the first lines acknowledged");

    const down = [once(one.bus, "outage"), once(two.bus, "outage")];
    await redis.stop();
    await Promise.all(down);
    const up = [once(one.bus, "recovered"), once(two.bus, "recovered")];
    // Lines keep coming for the 2 s Redis is away: each batch reaches the local member at once.
    for (let batch = 0; batch < 4; batch++) {
      const first = 10 + batch * 40;
      await a0.conn.write(lines(first, first + 40));
      await a1.heard(`a0 ${first + 39}`);
      assert.equal(one.bus.stats().state, "down");
      await sleep(500); // the outage must last: the one place this suite waits on the clock
    }
    assert.deepEqual(one.bus.stats(), { ...one.bus.stats(), queued: 100, dropped: 60, outages: 1 });
    await redis.restart();
    await Promise.all(up);
    await a0.conn.write(`${lines(170, 180)}bye a0\n`);
    await Promise.all([b0.heard("bye a0"), b1.heard("bye a0")]);

    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    const expected = [...range(0, 10), ...range(70, 170), ...range(170, 180)];
    assert.deepEqual(b0.from("a0"), expected, "the 100 newest outage lines arrive after it, in order");
    assert.deepEqual(b1.from("a0"), expected);
    assert.deepEqual(a1.from("a0"), range(0, 180), "local delivery never stopped");
    assert.deepEqual([...events].sort(), [
      "one outage",
      "one recovered 100 queued 60 dropped",
      "two outage",
      "two recovered 0 queued 0 dropped",
    ]);
    await until(() => one.bus.stats().queued === 0, "the sender's XADDs acknowledged");
    const [sent, got] = [one.bus.stats(), two.bus.stats()];
    assert.equal(sent.relayed, 1 + 10 + 100 + 10 + 1, "hello, 10 before, 100 of 160 during, 10 after, bye");
    assert.equal(sent.dropped, 60);
    assert.equal(got.received, sent.relayed);
    assert.equal(got.gaps, 60, "the receiver saw the sender's sequence skip the dropped lines");
    assert.deepEqual([sent.outages, got.outages, sent.queued], [1, 1, 0]);
  });

  it("a member that stops reading is still dropped or disconnected by its server's policy; the others get all", {
    timeout: 30_000,
  }, async (t) => {
    const redis = await startRedis(t);
    const HWM = 64 * 1024;
    const server = { highWaterMark: HWM, maxLineLength: 4096 };
    const one = await chatOn(t, redis, {}, server);
    const rooms = new Map<SlowClientPolicy, { server: Server; reader: net.Socket; slow: net.Socket }>();
    for (const policy of ["disconnect", "drop"] as const) {
      const { server: s, port } = await chatOn(t, redis, {}, { ...server, slowClientPolicy: policy });
      const reader = await dial(t, port);
      const slow = await dial(t, port);
      slow.pause(); // a member that stops reading
      await until(() => s.stats().current === 2, "both members");
      rooms.set(policy, { server: s, reader, slow });
    }
    const sender = await join(t, "a0", one.port);
    await until(() => one.server.stats().current === 1, "the sender");
    const readers = [...rooms.values()].map(({ reader }) => lineCounter(reader));
    const pad = "x".repeat(1000);
    const done = () => {
      const d = rooms.get("disconnect")?.server.stats();
      return d?.slowDisconnects === 1 && (rooms.get("drop")?.server.stats().dropped ?? 0) > 0;
    };
    let n = 0;
    for (let batch = 0; batch < 100 && !done(); batch++) {
      let text = "";
      for (let i = 0; i < 500; i++) text += `seq ${n++} ${pad}\n`;
      await sender.conn.write(text);
      // End-to-end pacing: the next batch once this one reached every reading member.
      await Promise.all(readers.map((r) => r.reached(n)));
    }
    assert.ok(done(), "the slow members were handled by their policy");
    await until(() => rooms.get("disconnect")?.server.stats().current === 1, "the slow member to be gone");
    assert.equal(rooms.get("drop")?.server.stats().current, 2, "the drop policy keeps it connected");
    for (const r of readers) assert.equal(r.count(), n, "every line reached each reading member, in order");
    assert.equal(one.bus.stats().dropped, 0);
  });
});

/** Counts `seq N …` lines arriving on a socket, checking their order; `reached(n)` awaits n lines. */
function lineCounter(s: net.Socket): { count(): number; reached(n: number): Promise<void> } {
  let next = 0;
  let carry = "";
  const waiters: { n: number; resolve: () => void }[] = [];
  s.setEncoding("utf8");
  s.on("data", (text: string) => {
    const lines = (carry + text).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) {
      assert.equal(line.slice(0, line.indexOf(" ", 4)), `seq ${next}`, "lines arrive in order, none missing");
      next++;
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as { n: number; resolve: () => void };
      if (next >= w.n) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  });
  return {
    count: () => next,
    reached: (n) => (next >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}
