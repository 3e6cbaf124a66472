/**
 * What `sockpool bench` costs as a load generator: its request path (SocketPool.use, a
 * stamped payload, readExactly, a content check, an HDR histogram, the LoadRun loop) beside
 * a hand-written raw `net` closed loop doing the same work (write, collect the echo, compare,
 * record a latency). A raw `net` echo server runs in a child process so its CPU is not ours.
 * Runs alternate; the table gives medians of `--repeats` runs and the ratio to raw.
 *
 *   node dist/bench/cli.js [--ms 1000] [--repeats 5] [--size 1024] [--concurrency 32]
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { LoadRun } from "../src/cli/load.js";
import { payloadMaker, socketTarget } from "../src/cli/targets.js";
import { runEchoChild } from "./lib/echo-child.js";
import { arg, fmt, median, table } from "./lib/stats.js";

const MS = arg("ms", 1000);
const REPEATS = arg("repeats", 5);
const SIZE = arg("size", 1024);
const CONCURRENCY = arg("concurrency", 32);

interface Sample {
  rps: number;
  p50: number;
}

/** `sockpool bench`'s own path: a pool of CONCURRENCY sockets under a closed-loop LoadRun. */
async function viaSockpool(port: number): Promise<Sample> {
  const target = socketTarget({
    target: `127.0.0.1:${port}`,
    pool: CONCURRENCY,
    size: SIZE,
    timeout: 10_000,
  });
  await target.preflight();
  const result = await new LoadRun({ concurrency: CONCURRENCY, duration: MS }, target.request).run();
  await target.close();
  if (result.errors > 0) throw new Error(`sockpool run had ${result.errors} errors`);
  return { rps: (result.requests * 1000) / result.durationMs, p50: result.latency.percentile(50) };
}

/** The same work by hand: one socket per worker, write, gather SIZE bytes, compare. */
async function viaRawNet(port: number): Promise<Sample> {
  const make = payloadMaker(SIZE);
  const latencies: number[] = [];
  let seq = 0;
  const t0 = performance.now();
  const worker = async () => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    await once(socket, "connect");
    while (performance.now() - t0 < MS) {
      const payload = make(seq++);
      const start = performance.now();
      const reply = await roundTrip(socket, payload);
      if (!reply.equals(payload)) throw new Error("raw echo differs");
      latencies.push(performance.now() - start);
    }
    socket.destroy();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = performance.now() - t0;
  return { rps: (latencies.length * 1000) / elapsed, p50: median(latencies) };
}

function roundTrip(socket: net.Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got < payload.length) return;
      socket.off("data", onData);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    socket.on("data", onData);
    socket.write(payload);
  });
}

async function main(): Promise<void> {
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ["--server"], { stdio: "inherit" });
  const [port] = (await once(child, "message")) as [number];
  const raw: Sample[] = [];
  const pooled: Sample[] = [];
  await viaRawNet(port); // warm-up, both paths
  await viaSockpool(port);
  for (let i = 0; i < REPEATS; i++) {
    raw.push(await viaRawNet(port));
    pooled.push(await viaSockpool(port));
  }
  child.disconnect();
  const rawRps = median(raw.map((s) => s.rps));
  const poolRps = median(pooled.map((s) => s.rps));
  console.log(`\nLoad generator cost: ${SIZE} B echo, ${CONCURRENCY} in flight, ${MS} ms runs, median of ${REPEATS}\n`);
  table(
    ["client", "req/s", "p50 ms", "vs raw"],
    [
      ["raw net closed loop", fmt(rawRps, 0), fmt(median(raw.map((s) => s.p50)), 3), "1.00"],
      ["sockpool bench path", fmt(poolRps, 0), fmt(median(pooled.map((s) => s.p50)), 3), fmt(poolRps / rawRps, 2)],
    ],
  );
}

if (process.argv[2] === "--server") runEchoChild();
else await main();
