import assert from "node:assert/strict";
import type net from "node:net";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { type Connection, InternalError } from "sockpool";
import { SocketPool } from "../../src/pool/index.js";
import { assertNoOpenSockets, echoServer } from "../helpers/net.js";
import { ping } from "./helpers.js";

after(assertNoOpenSockets);

const MAX = 3;

type Op =
  | { kind: "acquire"; timeout: number | undefined; abortable: boolean }
  | { kind: "use"; ping: boolean; selfRelease: boolean; abortable: boolean }
  | { kind: "release"; pick: number }
  | { kind: "destroy"; pick: number }
  | { kind: "abort"; pick: number }
  | { kind: "peerClose"; pick: number }
  | { kind: "tick"; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("acquire" as const),
      timeout: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
      abortable: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("use" as const),
      ping: fc.boolean(),
      selfRelease: fc.boolean(),
      abortable: fc.boolean(),
    }),
  },
  fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("destroy" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("abort" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("peerClose" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 8 }) }),
);

/** Fewer idle sockets than the bound: surplus sockets are closed on release or arrival. */
const maxIdle = fc.integer({ min: 0, max: MAX });

/** One acquire as the test sees it: how often it settled, and how. */
interface Attempt {
  settled: number;
  /** Settles with the acquire or use() (never rejects). */
  done?: Promise<void>;
  /** A use() whose fn returned and whose promise has not settled yet. */
  finishing?: boolean;
  conn?: Connection;
  error?: unknown;
  abort?: AbortController;
}

function checkStats(pool: SocketPool): void {
  const s = pool.stats();
  assert.equal(s.open, s.idle + s.borrowed + s.dialing);
  assert.ok(s.open <= MAX, `open ${s.open} > ${MAX}`);
  assert.ok(s.pending === 0 || s.idle === 0, "waiters while sockets are idle");
}

describe("any interleaving keeps the pool's invariants", () => {
  it("acquire / use / release / destroy / abort / timeout / peer close, any maxIdlePerEndpoint", {
    timeout: 120_000,
  }, async (t) => {
    const server = await echoServer(t);
    const seen = { lent: 0, failed: 0, codes: new Set<string>() };
    await fc.assert(
      fc.asyncProperty(maxIdle, fc.array(op, { minLength: 5, maxLength: 40, size: "max" }), async (idle, ops) => {
        const pool = new SocketPool({
          maxSocketsPerEndpoint: MAX,
          maxIdlePerEndpoint: idle,
          maxWaiting: 4,
          acquireTimeout: 200,
        });
        const attempts: Attempt[] = [];
        const held = new Set<Connection>();
        const using = new Set<Attempt>(); // use() calls whose fn is running (a socket may pass between them)
        try {
          for (const o of ops) {
            await step(pool, server.endpoint, o, attempts, { held, using }, server.sockets);
            for (let i = 0; i < 5; i++) await Promise.resolve(); // let deliveries reach the borrowers
            checkStats(pool);
            const s = pool.stats();
            // use() borrows are in flight between fn returning and the release.
            assert.ok(
              s.borrowed >= held.size && s.borrowed <= held.size + using.size + usesFinishing(attempts),
              `the pool and the borrowers agree on who holds what: ${s.borrowed} vs ${held.size} + ${using.size}`,
            );
          }
          const closing = pool.close({ timeout: 2_000 });
          for (let i = 0; i < 5; i++) await Promise.resolve();
          for (const c of [...held]) await pool.release(c);
          await closing;
          await Promise.all(attempts.map((a) => a.done));
          // Everything settles exactly once, and no invariant check ever fired.
          await new Promise((r) => setImmediate(r));
          for (const a of attempts) {
            assert.equal(a.settled, 1, "every acquire settles exactly once");
            assert.ok(!(a.error instanceof InternalError), String(a.error));
            if (a.conn) seen.lent++;
            else {
              seen.failed++;
              seen.codes.add((a.error as { code?: string }).code ?? String(a.error));
            }
          }
          assert.equal(pool.stats().open, 0);
        } finally {
          await pool.close({ timeout: 10 });
        }
      }),
      { numRuns: 100 },
    );
    // The runs exercised both outcomes (not a vacuous pass).
    t.diagnostic(`lent ${seen.lent}, failed ${seen.failed}: ${[...seen.codes].join(", ")}`);
    assert.ok(seen.lent > 0 && seen.failed > 0);
  });
});

function usesFinishing(attempts: Attempt[]): number {
  return attempts.filter((a) => a.finishing).length;
}

/** A use() whose fn may ping, and may release the socket itself before returning. */
function use(pool: SocketPool, endpoint: string, o: Op & { kind: "use" }, a: Attempt, using: Set<Attempt>) {
  const fn = async (c: Connection) => {
    using.add(a);
    try {
      if (o.ping) await ping(c);
      if (o.selfRelease) await pool.release(c);
      return c;
    } finally {
      using.delete(a);
      a.finishing = true;
    }
  };
  a.done = pool.use(endpoint, fn, { signal: a.abort?.signal }).then(
    (c) => {
      a.settled++;
      a.conn = c;
      a.finishing = false;
    },
    (err) => {
      a.settled++;
      a.error = err;
      a.finishing = false;
    },
  );
}

async function step(
  pool: SocketPool,
  endpoint: string,
  o: Op,
  attempts: Attempt[],
  { held, using }: { held: Set<Connection>; using: Set<Attempt> },
  serverSockets: net.Socket[],
): Promise<void> {
  const pick = <T>(items: T[], i: number): T | undefined => (items.length ? items[i % items.length] : undefined);
  switch (o.kind) {
    case "acquire": {
      const a: Attempt = { settled: 0 };
      if (o.abortable) a.abort = new AbortController();
      attempts.push(a);
      a.done = pool.acquire(endpoint, { timeout: o.timeout, signal: a.abort?.signal }).then(
        (c) => {
          a.settled++;
          a.conn = c;
          held.add(c);
        },
        (err) => {
          a.settled++;
          a.error = err;
        },
      );
      break;
    }
    case "use": {
      const a: Attempt = { settled: 0 };
      if (o.abortable) a.abort = new AbortController();
      attempts.push(a);
      use(pool, endpoint, o, a, using);
      break;
    }
    case "release": {
      const c = pick([...held], o.pick);
      if (c) {
        held.delete(c);
        await pool.release(c);
      }
      break;
    }
    case "destroy": {
      const c = pick([...held], o.pick);
      if (c) {
        held.delete(c);
        pool.destroy(c);
      }
      break;
    }
    case "abort":
      pick(
        attempts.filter((a) => a.abort && a.settled === 0),
        o.pick,
      )?.abort?.abort();
      break;
    case "peerClose":
      pick(
        serverSockets.filter((s) => !s.destroyed),
        o.pick,
      )?.destroy();
      break;
    case "tick":
      await new Promise((r) => setTimeout(r, o.ms));
      break;
  }
}
