/**
 * Many requests on one socket vs one request per socket: 1 KiB requests per second.
 *
 * - **rpc channel**: one multiplexed socket (`openChannel`), 100 requests in flight, against
 *   `createRpcEchoServer()`.
 * - **pool, 100 sockets**: `SocketPool` with `maxSocketsPerEndpoint: 100`, 100 callers each
 *   doing one request at a time through `pool.use()` (a u32 length-prefixed frame, read back
 *   with `readExactly`), against a raw `net` echo server (`socket.pipe(socket)`: the cheapest
 *   server there is, so the baseline's server costs less than the RPC server does).
 *
 * Both servers run in this process; each run is closed-loop for `--ms` after a warm-up; runs
 * alternate and the table reports medians of `--repeats` runs and the ratio.
 *
 *   node dist/bench/rpc.js [--ms 1000] [--repeats 5] [--size 1024] [--inflight 100]
 */
import net from "node:net";
import { SocketPool } from "../src/pool/index.js";
import { type Channel, createRpcEchoServer, openChannel } from "../src/rpc/index.js";
import { arg, fmt, median, table } from "./lib/stats.js";

const MS = arg("ms", 1000);
const REPEATS = arg("repeats", 5);
const SIZE = arg("size", 1024);
const INFLIGHT = arg("inflight", 100);

const payload = Buffer.alloc(SIZE, 0x61);
const frame = Buffer.alloc(4 + SIZE, 0x61);
frame.writeUInt32BE(SIZE, 0);

/** Runs `INFLIGHT` closed-loop workers for `ms`; returns requests per second. */
async function closedLoop(ms: number, one: () => Promise<void>): Promise<number> {
  let done = 0;
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (performance.now() < deadline) {
        await one();
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const rpcServer = createRpcEchoServer({ maxConcurrent: INFLIGHT });
  await rpcServer.listen({ host: "127.0.0.1", port: 0 });
  const rpcEndpoint = `127.0.0.1:${(rpcServer.address() as net.AddressInfo).port}`;
  const raw = net.createServer({ noDelay: true }, (s) => s.pipe(s));
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  const rawEndpoint = `127.0.0.1:${(raw.address() as net.AddressInfo).port}`;

  const channel: Channel = await openChannel(rpcEndpoint, { maxInFlight: INFLIGHT });
  const rpcOne = async () => {
    const reply = await channel.request(payload);
    if (reply.length !== SIZE) throw new Error(`short reply: ${reply.length}`);
  };
  const pool = new SocketPool({ maxSocketsPerEndpoint: INFLIGHT, maxWaiting: Number.POSITIVE_INFINITY });
  const poolOne = () =>
    pool.use(rawEndpoint, async (c) => {
      await c.write(frame);
      const n = (await c.readExactly(4)).readUInt32BE(0);
      const reply = await c.readExactly(n);
      if (reply.length !== SIZE) throw new Error(`short reply: ${reply.length}`);
    });

  await closedLoop(Math.min(300, MS), rpcOne); // warm up both paths and open the pool's sockets
  await closedLoop(Math.min(300, MS), poolOne);
  const rpc: number[] = [];
  const pooled: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    rpc.push(await closedLoop(MS, rpcOne));
    pooled.push(await closedLoop(MS, poolOne));
  }
  const mRpc = median(rpc);
  const mPool = median(pooled);
  console.log(
    `\n${SIZE}-byte requests, ${INFLIGHT} in flight, ${REPEATS} × ${MS} ms runs (medians), node ${process.version}\n`,
  );
  table(
    ["client", "sockets", "requests/s", "ratio"],
    [
      ["rpc channel (openChannel)", 1, fmt(mRpc, 0), `${fmt(mRpc / mPool, 2)}×`],
      ["SocketPool.use, one request per socket", pool.stats().open ?? INFLIGHT, fmt(mPool, 0), "1.00×"],
    ],
  );
  console.log(`\nruns: rpc ${rpc.map((x) => fmt(x, 0)).join(", ")}; pool ${pooled.map((x) => fmt(x, 0)).join(", ")}`);

  await channel.close();
  await pool.close();
  await rpcServer.close({ timeout: 1000 });
  await new Promise<void>((r) => raw.close(() => r()));
}

await main();
