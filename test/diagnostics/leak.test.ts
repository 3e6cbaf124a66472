import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { LeakReport } from "sockpool";
import { ManualClock } from "../helpers/clock.js";
import { assertNoOpenSockets, echoServer, TEST_TIMEOUT } from "../helpers/net.js";
import { testPool } from "../pool/helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** Collects the process warnings emitted during the test. */
function warnings(t: { after(fn: () => void): void }): Error[] {
  const seen: Error[] = [];
  const onWarning = (w: Error) => seen.push(w);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  return seen;
}

/** Process warnings are emitted on the next tick: one turn of the loop lets them arrive. */
const nextTurn = () => new Promise((r) => setImmediate(r));

describe("leak warnings", () => {
  it(
    "emits a SockpoolLeakWarning with the endpoint and the acquire's stack when nobody listens to leak",
    opts,
    async (t) => {
      const server = await echoServer(t);
      const clock = new ManualClock();
      const pool = testPool(t, { clock, leakWarningAfter: 30_000 });
      const seen = warnings(t);
      const conn = await pool.acquire(server.endpoint);
      clock.advance(29_999);
      await nextTurn();
      assert.equal(seen.length, 0, "not before leakWarningAfter");
      clock.advance(1);
      await nextTurn();
      assert.equal(seen.length, 1);
      const w = seen[0] as Error & { code?: string; detail?: string };
      assert.equal(w.name, "SockpoolLeakWarning");
      assert.equal(w.code, "SOCKPOOL_LEAK");
      assert.match(w.message, new RegExp(`a socket to ${server.endpoint} has been borrowed for 30000 ms`));
      assert.match(w.detail ?? "", /acquired here[\s\S]*leak\.test\.js/, "the stack of the acquire");
      await pool.release(conn);
    },
  );

  it("emits leak and no warning when a leak listener exists", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { clock, leakWarningAfter: 1000 });
    const seen = warnings(t);
    const reports: LeakReport[] = [];
    pool.on("leak", (r) => reports.push(r));
    const conn = await pool.acquire(server.endpoint);
    clock.advance(1000);
    await nextTurn();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]?.endpoint, server.endpoint);
    assert.equal(reports[0]?.heldMs, 1000);
    assert.deepEqual(seen, []);
    await pool.release(conn);
  });

  it("warns nothing for a socket released before leakWarningAfter", opts, async (t) => {
    const server = await echoServer(t);
    const clock = new ManualClock();
    const pool = testPool(t, { clock, leakWarningAfter: 1000 });
    const seen = warnings(t);
    await pool.release(await pool.acquire(server.endpoint));
    clock.advance(5000);
    await nextTurn();
    assert.deepEqual(seen, []);
  });
});
