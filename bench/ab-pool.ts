/**
 * Two builds of sockpool in one process: acquire + release of an already-open socket through
 * `--base DIR`'s SocketPool against `--next DIR`'s, interleaved round by round (the order
 * flips each round), so both see the same machine at the same moment. For checking that a
 * change leaves the hot path alone; DIR is a checkout (or a copy of its package.json and
 * dist/) built with `npm run build`. Compare a build with a copy of itself to see the noise.
 *
 *   node dist/bench/ab-pool.js --base DIR --next DIR [--rounds 21] [--ops 100000] [--concurrency 1]
 *
 * Prints each side's median and min–max in thousands of borrows/s, and the median and
 * min–max of the per-round ratio next / base.
 */
import net from "node:net";
import { pathToFileURL } from "node:url";
import type { SocketPool } from "../src/pool/index.js";
import { arg, fmt, median } from "./lib/stats.js";

const ROUNDS = arg("rounds", 21);
const OPS = arg("ops", 100_000);
const CONCURRENCY = arg("concurrency", 1);

function dirArg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const dir = i >= 0 ? process.argv[i + 1] : undefined;
  if (dir === undefined) throw new Error(`--${name} DIR is required (a built checkout)`);
  return dir;
}

async function warmPool(dir: string, endpoint: string): Promise<SocketPool> {
  const mod = (await import(pathToFileURL(`${dir}/dist/src/index.js`).href)) as typeof import("../src/index.js");
  const pool = new mod.SocketPool({ maxSocketsPerEndpoint: 10 });
  const warm = await Promise.all(Array.from({ length: 10 }, () => pool.acquire(endpoint)));
  for (const c of warm) void pool.release(c);
  return pool;
}

/** Borrows per second over OPS borrows by CONCURRENCY borrowers. */
async function borrowRate(pool: SocketPool, endpoint: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  let left = OPS;
  const borrower = async () => {
    while (left-- > 0) void pool.release(await pool.acquire(endpoint));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, borrower));
  return OPS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const server = net.createServer((s) => s.pipe(s)).listen(0, "127.0.0.1");
await new Promise((r) => server.once("listening", r));
const endpoint = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
const base = await warmPool(dirArg("base"), endpoint);
const next = await warmPool(dirArg("next"), endpoint);
await borrowRate(base, endpoint); // warm-up
await borrowRate(next, endpoint);

const rates = { base: [] as number[], next: [] as number[] };
const ratios: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? (["base", "next"] as const) : (["next", "base"] as const);
  const got = { base: 0, next: 0 };
  for (const side of order) got[side] = await borrowRate(side === "base" ? base : next, endpoint);
  rates.base.push(got.base);
  rates.next.push(got.next);
  ratios.push(got.next / got.base);
}

const k = (xs: number[]) =>
  `${fmt(median(xs) / 1000, 0)} (${fmt(Math.min(...xs) / 1000, 0)}–${fmt(Math.max(...xs) / 1000, 0)})`;
console.log(`${ROUNDS} rounds of ${OPS} borrows, ${CONCURRENCY} borrower(s): thousands of borrows/s, median (min–max)`);
console.log(`base: ${k(rates.base)}`);
console.log(`next: ${k(rates.next)}`);
console.log(`next / base: ${fmt(median(ratios), 3)} (${fmt(Math.min(...ratios), 3)}–${fmt(Math.max(...ratios), 3)})`);
await Promise.all([base.close(), next.close()]);
server.close();
