import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import {
  ConnectError,
  connect,
  EndpointUnavailableError,
  InvalidArgumentError,
  parseTarget,
  type ReplicaEvent,
  type ResolveErrorEvent,
  ServiceUnavailableError,
  type SocketPool,
  SockpoolError,
  type TargetInput,
} from "sockpool";
import { blackholePort } from "../helpers/blackhole.js";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets, closedPort, rawServer, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { testPool } from "./helpers.js";
import {
  borrowOn,
  countingEcho,
  echoLine,
  listenOn,
  runRequests,
  type StubAnswer,
  stubResolver,
} from "./replica-helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

function replicas(pool: SocketPool, target: TargetInput) {
  const service = pool.stats().services[parseTarget(target).key];
  assert.ok(service !== undefined, "the service is in the stats");
  return service.replicas;
}

function record(pool: SocketPool, event: "join" | "eject" | "return" | "drain" | "leave"): ReplicaEvent[] {
  const seen: ReplicaEvent[] = [];
  pool.on(event, (e: ReplicaEvent) => seen.push(e));
  return seen;
}

describe("services: balancing", () => {
  it("spreads 3,000 requests over three replicas within 15% of even", opts, async (t) => {
    const servers = await Promise.all([countingEcho(t), countingEcho(t), countingEcho(t)]);
    const pool = testPool(t);
    const joined = record(pool, "join");
    const target = servers.map((s) => s.endpoint).join(",");
    await runRequests(pool, target, 3000, 10);
    for (const s of servers) assert.ok(Math.abs(s.lines - 1000) <= 150, `${s.endpoint} got ${s.lines} of 3000`);
    const stats = replicas(pool, target);
    assert.deepEqual(joined.map((e) => e.endpoint).sort(), Object.keys(stats).sort(), "each replica joined");
    for (const s of servers) {
      const r = stats[s.endpoint];
      assert.ok(r !== undefined);
      assert.deepEqual([r.state, r.inFlight, r.acquired, r.failures, r.warmup], ["active", 0, s.lines, 0, 1]);
    }
    assert.equal(Object.keys(pool.stats().endpoints).length, 3, "each replica is an ordinary endpoint");
  });

  it(
    "honours SRV priorities and weights: the best priority with a healthy replica, split by weight",
    opts,
    async (t) => {
      const [a, b, c] = await Promise.all([countingEcho(t), countingEcho(t), countingEcho(t)]);
      const srv = (port: number, priority: number, weight: number) => ({ name: "127.0.0.1", port, priority, weight });
      const resolver = stubResolver(() => ({ srv: [srv(a.port, 0, 1), srv(b.port, 0, 3), srv(c.port, 1, 5)] }));
      const pool = testPool(t, { resolver });
      const target = "srv:_echo._tcp.sp.test";
      await runRequests(pool, target, 2000, 1);
      assert.ok(Math.abs(a.lines - 500) <= 75, `weight 1 got ${a.lines} of 2000`);
      assert.ok(Math.abs(b.lines - 1500) <= 225, `weight 3 got ${b.lines} of 2000`);
      assert.equal(c.lines, 0, "priority 1 waits while priority 0 is up");
      assert.deepEqual(
        [replicas(pool, target)[b.endpoint]?.weight, replicas(pool, target)[c.endpoint]?.priority],
        [3, 1],
      );
      await Promise.all([a.close(), b.close()]);
      await runRequests(pool, target, 100, 2);
      assert.equal(c.lines, 100, "priority 0 went down: priority 1 took every request");
    },
  );
});

describe("services: failures move on, outliers are ejected", () => {
  it("moves a connect failure on to another replica and ejects the dead one", opts, async (t) => {
    const dead = `127.0.0.1:${await closedPort()}`;
    const [a, b] = await Promise.all([countingEcho(t), countingEcho(t)]);
    const pool = testPool(t);
    const ejected = record(pool, "eject");
    const target = [dead, a.endpoint, b.endpoint];
    await runRequests(pool, target, 100, 1);
    assert.equal(a.lines + b.lines, 100, "every request was served, none failed");
    assert.deepEqual(
      ejected.map((e) => [e.endpoint, e.state, e.ejections]),
      [[dead, "ejected", 1]],
    );
    assert.ok(ejected[0]?.error instanceof SockpoolError, "the eject event carries the failure");
    const r = replicas(pool, target)[dead];
    assert.ok(r !== undefined);
    assert.equal(r.state, "ejected");
    assert.ok(r.failures >= 5 && r.consecutiveFailures >= 5, `${r.failures} failures`);
    assert.match(r.lastError ?? "", /ECONNREFUSED|ENDPOINT_UNAVAILABLE/);
    assert.ok(r.ejectedUntil !== null && r.lastErrorAt !== null);
  });

  it("moves a connect timeout on to another replica within the acquire's deadline", opts, async (t) => {
    const hole = `127.0.0.1:${await blackholePort(t)}`;
    const live = await countingEcho(t);
    const pool = testPool(t, { connectTimeout: 100, acquireTimeout: 5000 });
    const target = [hole, live.endpoint];
    await runRequests(pool, target, 20, 2);
    assert.equal(live.lines, 20);
    const r = replicas(pool, target)[hole];
    assert.ok((r?.failures ?? 0) >= 1, "the blackholed replica was tried");
    assert.match(r?.lastError ?? "", /ERR_SOCKPOOL_CONNECT_TIMEOUT|ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE/);
  });

  it("reruns an idempotent request on another replica when its socket dies before replying", opts, async (t) => {
    const flaky = await rawServer(t, (s) => s.once("data", () => s.destroy()));
    const good = await countingEcho(t);
    const pool = testPool(t);
    const target = [flaky.endpoint, good.endpoint];
    await runRequests(pool, target, 60, 1, { retryOnStale: true });
    assert.equal(good.lines, 60, "every request got its answer from the good replica");
    const r = replicas(pool, target)[flaky.endpoint];
    assert.equal(r?.state, "ejected", "sockets that die before replying count as failures");
    assert.ok(pool.stats().retries >= 5);
  });

  it("never sends a request twice unless it is marked idempotent", opts, async (t) => {
    let flakyLines = 0;
    const flaky = await rawServer(t, (s) =>
      s.once("data", (chunk: Buffer) => {
        flakyLines += chunk.toString().split("\n").length - 1;
        s.destroy();
      }),
    );
    const good = await countingEcho(t);
    const pool = testPool(t);
    const errors = await runRequests(pool, [flaky.endpoint, good.endpoint], 60, 1, { tolerate: true });
    assert.ok(flakyLines >= 1, "some requests went to the flaky replica");
    assert.equal(errors.length, flakyLines, "each of those failed, and was not rerun");
    assert.equal(flakyLines + good.lines, 60, "each request was sent once");
  });

  it(
    "rejects at once with ServiceUnavailableError naming each replica and its last error when all are down",
    opts,
    async (t) => {
      const target: string[] = [];
      for (let i = 0; i < 3; i++) target.push(`127.0.0.1:${await closedPort()}`);
      let dials = 0;
      const pool = testPool(t, {
        dial: (endpoint, options) => {
          dials++;
          return connect(endpoint, options);
        },
      });
      const key = parseTarget(target).key;
      const err = (await rejectsWith(
        pool.acquire(target),
        ServiceUnavailableError,
        "ERR_SOCKPOOL_SERVICE_UNAVAILABLE",
        key,
      )) as ServiceUnavailableError;
      assert.equal(dials, 3, "one dial per replica, no loop");
      assert.equal(err.service, key);
      assert.deepEqual(err.replicas.map((r) => r.endpoint).sort(), [...target].sort());
      for (const r of err.replicas) {
        assert.ok(r.error instanceof ConnectError && r.error.syscode === "ECONNREFUSED", String(r.error));
        assert.ok(err.message.includes(r.endpoint) && err.message.includes("ECONNREFUSED"), err.message);
      }
      const again = (await rejectsWith(
        pool.acquire(target),
        ServiceUnavailableError,
        "ERR_SOCKPOOL_SERVICE_UNAVAILABLE",
      )) as ServiceUnavailableError;
      assert.equal(dials, 3, "the second acquire dialed nothing: each replica fails fast");
      assert.ok(again.replicas.every((r) => r.error instanceof EndpointUnavailableError));
      assert.ok(again.retryAfter > 0, "it says when to try again");
    },
  );

  it(
    "ejects for longer each time in a row, probes once when the time is up, and warms a returner up",
    opts,
    async (t) => {
      const clock = new ManualClock();
      const port = await closedPort();
      const dead = `127.0.0.1:${port}`;
      const [a, b] = await Promise.all([countingEcho(t), countingEcho(t)]);
      const pool = testPool(t, { clock, ejectionTime: 1000, failFastWindow: 0, warmupBorrows: 4 });
      const ejected = record(pool, "eject");
      const returned = record(pool, "return");
      const target = [dead, a.endpoint, b.endpoint];
      await runRequests(pool, target, 60, 1);
      assert.equal(ejected.length, 1);
      assert.equal(ejected[0]?.ejectedUntil, clock.now() + 1000, "the first ejection lasts the base time");
      const failures = replicas(pool, target)[dead]?.failures;

      clock.advance(999);
      await runRequests(pool, target, 30, 1);
      assert.equal(replicas(pool, target)[dead]?.failures, failures, "no request went near it while ejected");

      clock.advance(1);
      await runRequests(pool, target, 1, 1);
      assert.equal(ejected.length, 2, "the probe failed: ejected again");
      assert.equal(ejected[1]?.ejectedUntil, clock.now() + 2000, "the second ejection in a row lasts twice as long");
      assert.equal(replicas(pool, target)[dead]?.failures, (failures ?? 0) + 1, "exactly one probe");

      await listenOn(t, port);
      clock.advance(2000);
      await runRequests(pool, target, 1, 1);
      assert.deepEqual(
        returned.map((e) => [e.endpoint, e.state]),
        [[dead, "active"]],
        "the probe succeeded: it returned",
      );
      const back = replicas(pool, target)[dead];
      assert.deepEqual([back?.state, back?.warmup, back?.consecutiveFailures], ["active", 0, 0]);
      await runRequests(pool, target, 200, 1);
      assert.equal(replicas(pool, target)[dead]?.warmup, 1, "its share grew back to full");
    },
  );

  it("ejects at most maxEjectedShare of the replicas; the rest stay in rotation", opts, async (t) => {
    const target: string[] = [];
    for (let i = 0; i < 3; i++) target.push(`127.0.0.1:${await closedPort()}`);
    const live = await countingEcho(t);
    target.push(live.endpoint);
    const pool = testPool(t, { maxEjectedShare: 0.5 });
    await runRequests(pool, target, 80, 1);
    assert.equal(live.lines, 80);
    const states = Object.values(replicas(pool, target)).map((r) => r.state);
    assert.deepEqual(states.filter((s) => s === "ejected").length, 2, "half of four");
    const kept = Object.entries(replicas(pool, target)).find(([k, r]) => k !== live.endpoint && r.state === "active");
    assert.ok(kept !== undefined && kept[1].consecutiveFailures >= 5, "an outlier past the cap stays active");
    assert.equal(pool.stats().services[parseTarget(target).key]?.panic, false);
  });

  it("in panic (no healthy replica) still tries the ejected ones, and one that answers returns", opts, async (t) => {
    const clock = new ManualClock();
    const port = await closedPort();
    const target = [`127.0.0.1:${port}`];
    const pool = testPool(t, { clock, ejectAfterFailures: 2, failFastWindow: 0 });
    await rejectsWith(pool.acquire(target), ServiceUnavailableError, "ERR_SOCKPOOL_SERVICE_UNAVAILABLE");
    await rejectsWith(pool.acquire(target), ServiceUnavailableError, "ERR_SOCKPOOL_SERVICE_UNAVAILABLE");
    assert.equal(replicas(pool, target)[target[0] as string]?.state, "ejected");
    assert.equal(pool.stats().services[parseTarget(target).key]?.panic, true);
    const err = (await rejectsWith(
      pool.acquire(target),
      ServiceUnavailableError,
      "ERR_SOCKPOOL_SERVICE_UNAVAILABLE",
      "(ejected)",
    )) as ServiceUnavailableError;
    assert.ok(err.retryAfter > 0);
    assert.equal(replicas(pool, target)[target[0] as string]?.failures, 3, "tried though ejected");
    await listenOn(t, port);
    const returned = once(pool, "return");
    await runRequests(pool, target, 1, 1);
    await returned;
    assert.equal(pool.stats().services[parseTarget(target).key]?.panic, false);
  });
});

describe("services: discovery", () => {
  it("drains a replica DNS dropped: no new borrows, idle sockets closed, borrowed ones when back", opts, async (t) => {
    const clock = new ManualClock();
    const [a, b, c] = await Promise.all([countingEcho(t), countingEcho(t), countingEcho(t)]);
    let listed = [a, b];
    const resolver = stubResolver(() => ({
      srv: listed.map((s) => ({ name: "127.0.0.1", port: s.port, priority: 0, weight: 1 })),
    }));
    // IP-literal targets carry no TTL: refreshes come every resolveMaxInterval.
    const pool = testPool(t, { clock, resolver, warmupBorrows: 0, resolveMaxInterval: 5000 });
    const target = "srv:_echo._tcp.sp.test";
    await runRequests(pool, target, 40, 4);
    assert.ok(a.lines > 0 && b.lines > 0);
    const held = await borrowOn(pool, target, a.port);
    assert.ok((pool.stats().endpoints[a.endpoint]?.idle ?? 0) > 0, "a has idle sockets too");

    listed = [b, c];
    const drained = once(pool, "drain");
    const joined = once(pool, "join");
    clock.advance(5000);
    const [drain] = (await drained) as [ReplicaEvent];
    const [join] = (await joined) as [ReplicaEvent];
    assert.deepEqual([drain.endpoint, drain.state, join.endpoint], [a.endpoint, "draining", c.endpoint]);
    assert.equal(replicas(pool, target)[a.endpoint]?.state, "draining");
    assert.equal(pool.stats().endpoints[a.endpoint]?.idle, 0, "its idle sockets were closed");

    const before = a.lines;
    await runRequests(pool, target, 40, 4);
    assert.equal(a.lines, before, "no new borrow went to the draining replica");
    assert.ok(c.lines > 0, "the new replica takes its share");

    assert.equal(await echoLine(held, "still here"), "still here", "a borrowed socket finishes its work");
    const left = once(pool, "leave");
    await pool.release(held);
    const [leave] = (await left) as [ReplicaEvent];
    assert.equal(leave.endpoint, a.endpoint);
    assert.notEqual(held.state, "open", "closed when it came back");
    assert.equal(replicas(pool, target)[a.endpoint], undefined, "it left the stats");
    assert.ok((pool.stats().destroyedBy.drained ?? 0) >= 2);
  });

  it("keeps the last good set when a resolution fails, and reports it once", opts, async (t) => {
    const clock = new ManualClock();
    const a = await countingEcho(t);
    let answer: StubAnswer | Error = { a: { "svc.sp.test": ["127.0.0.1"] }, ttl: 1 };
    const resolver = stubResolver(() => answer);
    const pool = testPool(t, { clock, resolver, resolveMinInterval: 1000 });
    const errors: ResolveErrorEvent[] = [];
    pool.on("resolve-error", (e: ResolveErrorEvent) => errors.push(e));
    const target = `dns:svc.sp.test:${a.port}`;
    const key = parseTarget(target).key;
    await runRequests(pool, target, 5, 1);
    answer = Object.assign(new Error("queryA ECONNREFUSED svc.sp.test"), { code: "ECONNREFUSED" });
    clock.advance(1000);
    await until(() => errors.length === 1, "the resolve-error event");
    assert.equal(errors[0]?.service, key);
    await runRequests(pool, target, 5, 1);
    clock.advance(1000);
    await until(() => pool.stats().services[key]?.resolveErrors === 2, "a second failed resolution");
    assert.equal(errors.length, 1, "reported once per run of failures");
    assert.match(pool.stats().services[key]?.lastResolveError ?? "", /ECONNREFUSED/);
    await runRequests(pool, target, 5, 1);
    assert.equal(a.lines, 15, "the last good set served throughout");
    answer = { a: { "svc.sp.test": ["127.0.0.1"] }, ttl: 1 };
    clock.advance(2000);
    await until(() => pool.stats().services[key]?.lastResolveError === null, "a good resolution");
  });

  it("fails an acquire whose first resolution failed, and again at once until the retry", opts, async (t) => {
    const clock = new ManualClock();
    const resolver = stubResolver(() =>
      Object.assign(new Error("queryA ENOTFOUND nowhere.sp.test"), { code: "ENOTFOUND" }),
    );
    const pool = testPool(t, { clock, resolver });
    const target = "dns:nowhere.sp.test:80";
    const err = await rejectsWith(
      pool.acquire(target),
      ServiceUnavailableError,
      "ERR_SOCKPOOL_SERVICE_UNAVAILABLE",
      target,
    );
    assert.equal((err.cause as { code?: string }).code, "ENOTFOUND");
    assert.match(err.message, /ENOTFOUND/);
    const queries = resolver.queries;
    await rejectsWith(pool.acquire(target), ServiceUnavailableError, "ERR_SOCKPOOL_SERVICE_UNAVAILABLE");
    assert.equal(resolver.queries, queries, "no second query before the retry is due");
    await pool.close();
    assert.equal(clock.pending, 0, "close stopped the refresh timer");
  });
});

describe("services: options", () => {
  it("rejects bad service options with InvalidArgumentError naming the key and value", opts, (t) => {
    const bad: [Record<string, unknown>, string][] = [
      [{ ejectAfterFailures: -1 }, "ejectAfterFailures"],
      [{ maxEjectedShare: 1.5 }, "1.5"],
      [{ warmupBorrows: 0.5 }, "warmupBorrows"],
      [{ ejectionTime: Number.NaN }, "ejectionTime"],
      [{ resolver: { resolve4() {} } }, "resolveSrv"],
      [{ resolveMinInterval: 5000, resolveMaxInterval: 1000 }, "5000"],
    ];
    for (const [options, includes] of bad) {
      assert.throws(
        () => testPool(t, options),
        (err) => err instanceof InvalidArgumentError && err.message.includes(includes),
        JSON.stringify(options),
      );
    }
  });
});
