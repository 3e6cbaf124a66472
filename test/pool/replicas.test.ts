import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Connection, ReplicaEvent } from "sockpool";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets } from "../helpers/net.js";
import { testPool } from "./helpers.js";
import { echoLine, runRequests, startReplica } from "./replica-helpers.js";

after(assertNoOpenSockets);

describe("a replica process dies mid-run and comes back (RELIABILITY 32)", () => {
  it("fails no idempotent request, moves its share to the others, ejects it, then probes it back and warms it up", {
    timeout: 60_000,
  }, async (t) => {
    const clock = new ManualClock();
    const replicas = await Promise.all([startReplica(t), startReplica(t), startReplica(t)]);
    const victim = replicas[1] as (typeof replicas)[number];
    const target = replicas.map((r) => r.endpoint);
    const pool = testPool(t, { clock, warmupBorrows: 10 });
    const ejected: ReplicaEvent[] = [];
    const returned: ReplicaEvent[] = [];
    pool.on("eject", (e: ReplicaEvent) => ejected.push(e));
    pool.on("return", (e: ReplicaEvent) => returned.push(e));
    let killedAt = Number.POSITIVE_INFINITY;
    const lent: string[] = [];
    pool.on("acquire", (_conn: Connection, key: string) => lent.push(key));

    // 600 idempotent requests, 6 at a time; the victim is killed (SIGKILL) after the 200th.
    let started = 0;
    let done = 0;
    let kill: Promise<void> | undefined;
    const worker = async () => {
      while (started < 600) {
        started++;
        await pool.use(target, (c) => echoLine(c), { retryOnStale: true });
        if (++done === 200) {
          killedAt = lent.length;
          kill = victim.kill();
          await kill;
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    assert.equal(done, 600, "every request succeeded");
    const afterKill = lent.slice(killedAt);
    const toVictim = afterKill.filter((k) => k === victim.endpoint).length;
    assert.ok(toVictim <= 6, `${toVictim} borrows of the dead replica after the kill (at most those racing it)`);
    assert.ok(
      afterKill.length - toVictim >= 390,
      `the other two took its share: ${afterKill.length - toVictim} of ${afterKill.length}`,
    );
    assert.deepEqual(
      ejected.map((e) => e.endpoint),
      [victim.endpoint],
      "the dead replica was ejected",
    );
    const key = target.slice().sort().join(",");
    assert.equal(pool.stats().services[key]?.replicas[victim.endpoint]?.state, "ejected");

    // It comes back on the same port: once its ejection is over, one probe brings it back.
    await startReplica(t, victim.port);
    clock.advance(10_000);
    await runRequests(pool, target, 1, 1);
    assert.deepEqual(
      returned.map((e) => e.endpoint),
      [victim.endpoint],
      "probed and returned",
    );
    const mark = lent.length;
    await runRequests(pool, target, 30, 1);
    const early = lent.slice(mark).filter((k) => k === victim.endpoint).length;
    assert.ok(early < 10, `its first 30 requests gave it ${early}: less than an even share while warming up`);
    await runRequests(pool, target, 300, 1);
    const back = pool.stats().services[key]?.replicas[victim.endpoint];
    assert.equal(back?.warmup, 1, "warmed up to its full share");
    const late = lent.slice(-150).filter((k) => k === victim.endpoint).length;
    assert.ok(late >= 30, `its share came back: ${late} of the last 150`);
  });
});
