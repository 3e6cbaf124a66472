/**
 * SocketPool against its peers and against no pool at all.
 *
 * 1. Acquire + release of an already-open resource, no I/O, at 1, 10 and 100 concurrent
 *    borrowers over a pool of 10: sockpool (holding real, open sockets) against generic-pool,
 *    tarn and lightning-pool (holding plain objects, so they do strictly less work). At 100
 *    borrowers most acquires wait in the queue, so the hand-over path is measured too.
 * 2. Request/response (a 64-byte line echoed by a server in a child process): through the
 *    pool (acquire, write, readLine, release) against the same loop on dedicated sockets, one
 *    per borrower, with no pool.
 * Each configuration runs `--repeats` times, interleaved; the tables give medians and ratios.
 *
 *   node dist/bench/pool.js [--repeats 5] [--ops 200000] [--requests 40000]
 */
import { fork } from "node:child_process";
import * as genericPool from "generic-pool";
import { Pool as LightningPool } from "lightning-pool";
import { type Connection, connect } from "sockpool";
import * as tarn from "tarn";
import { SocketPool } from "../src/pool/index.js";
import { runEchoChild } from "./lib/echo-child.js";
import { arg, fmt, median, table } from "./lib/stats.js";

const REPEATS = arg("repeats", 5);
const OPS = arg("ops", 200_000);
const REQUESTS = arg("requests", 40_000);
const POOL_SIZE = 10;

/** One borrow: acquire, then release without waiting (every pool's fastest idiom). */
type Borrow = () => Promise<void>;

interface Subject {
  name: string;
  borrow: Borrow;
  close(): Promise<void>;
}

async function subjects(endpoint: string): Promise<Subject[]> {
  const sp = new SocketPool({ maxSocketsPerEndpoint: POOL_SIZE });
  // Open the sockets first: the bench measures reuse of already-open sockets.
  const warm = await Promise.all(Array.from({ length: POOL_SIZE }, () => sp.acquire(endpoint)));
  for (const c of warm) void sp.release(c);

  const gp = genericPool.createPool({ create: async () => ({}), destroy: async () => {} }, { max: POOL_SIZE, min: 0 });
  const tp = new tarn.Pool({ create: () => Promise.resolve({}), destroy: () => {}, min: 0, max: POOL_SIZE });
  const lp = new LightningPool({ create: async () => ({}), destroy: async () => {} }, { max: POOL_SIZE, min: 0 });
  return [
    {
      name: "sockpool",
      borrow: async () => void sp.release(await sp.acquire(endpoint)),
      close: () => sp.close(),
    },
    {
      name: "generic-pool",
      borrow: async () => void gp.release(await gp.acquire()),
      close: async () => {
        await gp.drain();
        await gp.clear();
      },
    },
    {
      name: "tarn",
      borrow: async () => void tp.release(await tp.acquire().promise),
      close: async () => void (await tp.destroy()),
    },
    {
      name: "lightning-pool",
      borrow: async () => lp.release(await lp.acquire()),
      close: () => lp.closeAsync(true),
    },
  ];
}

/** Runs `ops` borrows split over `concurrency` loops; returns borrows per second. */
async function rate(work: () => Promise<unknown>, ops: number, concurrency: number): Promise<number> {
  const each = Math.ceil(ops / concurrency);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < each; i++) await work();
    }),
  );
  return (each * concurrency) / ((performance.now() - started) / 1000);
}

async function acquireRelease(endpoint: string): Promise<void> {
  const subs = await subjects(endpoint);
  const rows: (string | number)[][] = [];
  for (const concurrency of [1, 10, 100]) {
    const results = new Map<string, number[]>(subs.map((s) => [s.name, []]));
    for (const s of subs) await rate(s.borrow, OPS / 10, concurrency); // warm-up
    for (let r = 0; r < REPEATS; r++) {
      for (const s of subs) results.get(s.name)?.push(await rate(s.borrow, OPS, concurrency));
    }
    const medians = subs.map((s) => median(results.get(s.name) ?? []));
    const ours = medians[0] as number;
    const bestPeer = Math.max(...medians.slice(1));
    rows.push([concurrency, ...medians.map((m) => fmt(m / 1000, 0)), `${fmt(ours / bestPeer, 2)}×`]);
  }
  for (const s of subs) await s.close();
  console.log(`\nAcquire + release, no I/O, pool of ${POOL_SIZE}: thousands of borrows/s (median of ${REPEATS})\n`);
  table(["borrowers", ...subs.map((s) => s.name), "sockpool / best peer"], rows);
}

async function requestResponse(endpoint: string): Promise<void> {
  const line = `${"x".repeat(63)}\n`;
  const rows: (string | number)[][] = [];
  for (const concurrency of [1, 10, 50]) {
    const pool = new SocketPool({ maxSocketsPerEndpoint: concurrency });
    const dedicated: Connection[] = await Promise.all(Array.from({ length: concurrency }, () => connect(endpoint)));
    const queue = [...dedicated];
    const pooled = async () => {
      const c = await pool.acquire(endpoint);
      await c.write(line);
      await c.readLine();
      void pool.release(c);
    };
    // Each dedicated loop takes its own socket from the queue, once, like a worker would.
    const direct = () => {
      const c = queue.shift() as Connection;
      return async () => {
        await c.write(line);
        await c.readLine();
      };
    };
    const results = { pooled: [] as number[], direct: [] as number[] };
    await rate(pooled, REQUESTS / 10, concurrency);
    for (let r = 0; r < REPEATS; r++) {
      results.pooled.push(await rate(pooled, REQUESTS, concurrency));
      queue.push(...dedicated);
      results.direct.push(await rateEach(direct, REQUESTS, concurrency));
    }
    const p = median(results.pooled);
    const d = median(results.direct);
    rows.push([concurrency, fmt(p / 1000, 1), fmt(d / 1000, 1), `${fmt((100 * p) / d, 1)}%`]);
    await pool.close();
    await Promise.all(dedicated.map((c) => c.close()));
  }
  console.log(
    `\nRequest/response, 64-byte lines, echo server in a child process: thousands of requests/s (median of ${REPEATS})\n`,
  );
  table(["borrowers", "through the pool", "dedicated sockets", "pool / dedicated"], rows);
}

/** Like `rate`, but each loop gets its own work function (its own socket). */
async function rateEach(make: () => () => Promise<unknown>, ops: number, concurrency: number): Promise<number> {
  const each = Math.ceil(ops / concurrency);
  const works = Array.from({ length: concurrency }, make);
  const started = performance.now();
  await Promise.all(
    works.map(async (work) => {
      for (let i = 0; i < each; i++) await work();
    }),
  );
  return (each * concurrency) / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const child = fork(new URL(import.meta.url), ["--server"], { stdio: "inherit" });
  const port = await new Promise<number>((resolve) => child.once("message", (m) => resolve(m as number)));
  const endpoint = `127.0.0.1:${port}`;
  try {
    await acquireRelease(endpoint);
    await requestResponse(endpoint);
  } finally {
    child.disconnect();
  }
}

if (process.argv.includes("--server")) runEchoChild();
else await main();
