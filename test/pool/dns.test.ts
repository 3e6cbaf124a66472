import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import type { ReplicaEvent, ResolveErrorEvent } from "sockpool";
import { ManualClock } from "../helpers/clock.js";
import { DNSMASQ, type DnsRecords, dnsmasqSkip, startDnsmasq } from "../helpers/dnsmasq.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { testPool } from "./helpers.js";
import { borrowOn, type CountingServer, countingEcho, echoLine, runRequests } from "./replica-helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const SERVICE = "_echo._tcp.sp.test";

/** SRV records for `servers` (each on 127.0.0.1 under its own name), priority and weight as given. */
function records(servers: Record<string, CountingServer>, srv: Record<string, [number, number]>): DnsRecords {
  const a: Record<string, string[]> = {};
  for (const name of Object.keys(servers)) a[`${name}.sp.test`] = ["127.0.0.1"];
  return {
    srv: Object.entries(srv).map(([name, [priority, weight]]) => ({
      name: SERVICE,
      target: `${name}.sp.test`,
      port: (servers[name] as CountingServer).port,
      priority,
      weight,
    })),
    a,
    ttl: 1,
  };
}

describe("services over a real DNS server (dnsmasq)", { skip: dnsmasqSkip }, () => {
  it("honours the weights and priorities of the SRV records", opts, async (t) => {
    assert.ok(DNSMASQ, "dnsmasq must be installed under CI (apt-get install dnsmasq-base)");
    const [a, b, c] = await Promise.all([countingEcho(t), countingEcho(t), countingEcho(t)]);
    const dnsmasq = await startDnsmasq(t, records({ a, b, c }, { a: [0, 1], b: [0, 3], c: [1, 10] }));
    const pool = testPool(t, { resolver: dnsmasq.resolver() });
    await runRequests(pool, `srv:${SERVICE}`, 2000, 1);
    assert.ok(Math.abs(a.lines - 500) <= 75, `weight 1 got ${a.lines} of 2000`);
    assert.ok(Math.abs(b.lines - 1500) <= 225, `weight 3 got ${b.lines} of 2000`);
    assert.equal(c.lines, 0, "the backup priority gets nothing while the first is up");
  });

  it(
    "adds a replica the records gained and drains one they lost, whose borrowed socket finishes its work",
    opts,
    async (t) => {
      assert.ok(DNSMASQ, "dnsmasq must be installed under CI (apt-get install dnsmasq-base)");
      const [a, b, c] = await Promise.all([countingEcho(t), countingEcho(t), countingEcho(t)]);
      const dnsmasq = await startDnsmasq(t, records({ a, b, c }, { a: [0, 1], b: [0, 1] }));
      const clock = new ManualClock();
      const pool = testPool(t, { clock, resolver: dnsmasq.resolver(), warmupBorrows: 0 });
      const target = `srv:${SERVICE}`;
      await runRequests(pool, target, 40, 4);
      assert.ok(a.lines > 0 && b.lines > 0, "both listed replicas serve");
      const held = await borrowOn(pool, target, a.port);

      await dnsmasq.restart(records({ a, b, c }, { b: [0, 1], c: [0, 1] }));
      const drained = once(pool, "drain");
      const joined = once(pool, "join");
      clock.advance(1000); // the records' TTL
      const [drain] = (await drained) as [ReplicaEvent];
      const [join] = (await joined) as [ReplicaEvent];
      assert.deepEqual([drain.endpoint, join.endpoint], [a.endpoint, c.endpoint]);

      const before = a.lines;
      await runRequests(pool, target, 40, 4);
      assert.equal(a.lines, before, "nothing new went to the drained replica");
      assert.ok(c.lines > 0, "the added replica serves");
      assert.equal(await echoLine(held, "finishing"), "finishing", "the borrowed socket finished its work");
      const left = once(pool, "leave");
      await pool.release(held);
      await left;
      assert.notEqual(held.state, "open", "closed as it came back");
      const service = pool.stats().services[target];
      assert.deepEqual(Object.keys(service?.replicas ?? {}).sort(), [b.endpoint, c.endpoint].sort());
      assert.equal(service?.resolutions, 2);
    },
  );

  it("keeps the last good set while the DNS server is down, and reports it once", opts, async (t) => {
    assert.ok(DNSMASQ, "dnsmasq must be installed under CI (apt-get install dnsmasq-base)");
    const [a, b] = await Promise.all([countingEcho(t), countingEcho(t)]);
    const dnsmasq = await startDnsmasq(t, records({ a, b }, { a: [0, 1], b: [0, 1] }));
    const clock = new ManualClock();
    const pool = testPool(t, { clock, resolver: dnsmasq.resolver() });
    const reported: ResolveErrorEvent[] = [];
    pool.on("resolve-error", (e: ResolveErrorEvent) => reported.push(e));
    const target = `srv:${SERVICE}`;
    await runRequests(pool, target, 10, 2);

    await dnsmasq.stop();
    clock.advance(1000);
    await until(() => reported.length === 1, "the failed resolution to be reported");
    await runRequests(pool, target, 20, 2);
    clock.advance(1000);
    await until(() => pool.stats().services[target]?.resolveErrors === 2, "a second failed resolution");
    await runRequests(pool, target, 20, 2);
    assert.equal(reported.length, 1, "reported once, not at every retry");
    assert.match(String((reported[0]?.error as { code?: string } | undefined)?.code), /ECONNREFUSED|ETIMEOUT/);
    const service = pool.stats().services[target];
    assert.deepEqual(
      Object.values(service?.replicas ?? {}).map((r) => r.state),
      ["active", "active"],
      "the last good set stayed",
    );
    assert.equal(a.lines + b.lines, 50, "and served every request");
  });
});
