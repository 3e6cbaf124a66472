/**
 * Load generator for bench/server.ts, run as its own process. Two modes:
 * - `--port P --conns C --size S --seconds T`: C connections each send an S-byte message,
 *   wait for all S bytes to come back, and repeat, for T seconds after a short warm-up;
 *   sends back { rps, p50, p99 } (ms).
 * - `--port P --hold N`: opens N connections, echoes one byte on each, reports, and holds
 *   them until disconnected (for the idle-memory measurement).
 */
import net from "node:net";
import { createHistogram } from "node:perf_hooks";
import { arg } from "../lib/stats.js";

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  /** Every request answered, warm-up included (to divide the server's CPU time by). */
  total: number;
}

const PORT = arg("port", 0);

async function measure(): Promise<void> {
  const conns = arg("conns", 10);
  const size = arg("size", 1024);
  const seconds = arg("seconds", 2);
  const message = Buffer.alloc(size, 0x61);
  const hist = createHistogram();
  let recording = false;
  let done = 0;
  let total = 0;
  let stopping = false;
  const finished: Promise<void>[] = [];
  for (let i = 0; i < conns; i++) {
    finished.push(
      new Promise<void>((resolve, reject) => {
        const s = net.connect({ port: PORT, host: "127.0.0.1", noDelay: true });
        let got = 0;
        let t0 = 0n;
        const send = () => {
          if (stopping) {
            s.destroy();
            return resolve();
          }
          got = 0;
          t0 = process.hrtime.bigint();
          s.write(message);
        };
        s.on("connect", send);
        s.on("data", (chunk: Buffer) => {
          got += chunk.length;
          if (got < size) return;
          total++;
          if (recording) {
            hist.record(process.hrtime.bigint() - t0);
            done++;
          }
          send();
        });
        s.on("error", reject);
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 300)); // warm-up
  recording = true;
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  recording = false;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  stopping = true;
  await Promise.all(finished);
  const result: LoadResult = {
    rps: done / elapsed,
    p50: hist.percentile(50) / 1e6,
    p99: hist.percentile(99) / 1e6,
    total,
  };
  process.send?.(result);
  process.disconnect();
}

async function hold(): Promise<void> {
  const n = arg("hold", 10_000);
  const sockets: net.Socket[] = [];
  for (let wave = 0; wave < n; wave += 500) {
    const batch: Promise<void>[] = [];
    for (let i = wave; i < Math.min(n, wave + 500); i++) {
      const s = net.connect({ port: PORT, host: "127.0.0.1" });
      sockets.push(s);
      batch.push(
        new Promise((resolve, reject) => {
          s.once("data", () => resolve());
          s.once("error", reject);
          s.write("x");
        }),
      );
    }
    await Promise.all(batch);
  }
  process.send?.({ held: sockets.length });
  process.on("disconnect", () => {
    for (const s of sockets) s.destroy();
  });
}

if (process.argv.includes("--hold")) await hold();
else await measure();
