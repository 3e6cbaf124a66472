/**
 * The echo server vs a minimal raw `net` echo server: requests per second and latency (p50,
 * p99) at 1 KiB, 10 KiB and 100 KiB messages over 10 and 100 connections, then resident
 * memory per idle connection with 10,000 connections. Every server runs in its own child
 * process, and so does the load generator (bench/server/load.ts); this process only
 * orchestrates. Servers alternate within each round; medians over the rounds. Besides
 * req/s (which on a shared machine also measures the neighbours), each server's CPU time per
 * request is reported: the steadier measure of its own cost.
 *
 *   node dist/bench/server.js [--seconds 2] [--repeats 5] [--idle 10000] [--only rps|mem]
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { createEchoServer, createServer } from "../src/server/index.js";
import { arg, fmt, median, table } from "./lib/stats.js";
import type { LoadResult } from "./server/load.js";

const SECONDS = arg("seconds", 2);
const REPEATS = arg("repeats", 5);
const IDLE = arg("idle", 10_000);
const ONLY = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const SERVERS = ["raw net", "sockpool echo", "sockpool stream"] as const;
type ServerKind = (typeof SERVERS)[number];
const here = fileURLToPath(import.meta.url);
const loadScript = fileURLToPath(new URL("./server/load.js", import.meta.url));

/** Child: one echo server; reports its port, answers "rss" with its memory after a GC. */
async function runServer(kind: ServerKind): Promise<void> {
  let port: number;
  if (kind === "raw net") {
    const server = net.createServer((s) => {
      s.on("data", (d) => s.write(d));
      s.on("error", () => {});
    });
    server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 });
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
  } else {
    const server =
      kind === "sockpool echo"
        ? createEchoServer()
        : createServer(async (conn) => {
            for await (const chunk of conn) await conn.write(chunk);
          });
    server.on("error", () => {});
    await server.listen({ port: 0, backlog: 4096 });
    port = (server.address() as net.AddressInfo).port;
  }
  process.on("message", (m) => {
    if (m === "cpu") {
      const { user, system } = process.cpuUsage();
      process.send?.({ cpu: user + system });
      return;
    }
    if (m !== "rss") return;
    globalThis.gc?.();
    setTimeout(() => {
      globalThis.gc?.();
      process.send?.({ rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed });
    }, 200);
  });
  process.send?.({ port });
  process.on("disconnect", () => process.exit(0));
}

async function startServer(kind: ServerKind): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(here, ["--serve", kind], { execArgv: ["--expose-gc"] });
  const [msg] = (await once(child, "message")) as [{ port: number }];
  return { child, port: msg.port };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, "exit");
  child.disconnect();
  await exited;
}

/** Runs the load child against `port` and returns what it measured. */
async function load(args: string[]): Promise<LoadResult> {
  const child = fork(loadScript, args);
  const [result] = (await once(child, "message")) as [LoadResult];
  await once(child, "exit");
  return result;
}

async function throughput(): Promise<void> {
  const sizes = [1024, 10 * 1024, 100 * 1024];
  const conns = [10, 100];
  console.log(`## Echo req/s and latency: ${SECONDS} s per run, median of ${REPEATS} rounds\n`);
  const rows: (string | number)[][] = [];
  for (const size of sizes) {
    for (const c of conns) {
      const rps: Record<string, number[]> = {};
      const p50: Record<string, number[]> = {};
      const p99: Record<string, number[]> = {};
      const cpu: Record<string, number[]> = {};
      for (let r = 0; r < REPEATS; r++) {
        for (const kind of SERVERS) {
          const { child, port } = await startServer(kind);
          const cpu0 = await cpuTime(child);
          const res = await load([
            "--port",
            String(port),
            "--conns",
            String(c),
            "--size",
            String(size),
            "--seconds",
            String(SECONDS),
          ]);
          (cpu[kind] ??= []).push(((await cpuTime(child)) - cpu0) / res.total);
          await stop(child);
          (rps[kind] ??= []).push(res.rps);
          (p50[kind] ??= []).push(res.p50);
          (p99[kind] ??= []).push(res.p99);
        }
      }
      const base = median(rps["raw net"] ?? []);
      const baseCpu = median(cpu["raw net"] ?? []);
      for (const kind of SERVERS) {
        const m = median(rps[kind] ?? []);
        const us = median(cpu[kind] ?? []);
        rows.push([
          `${size / 1024} KiB`,
          c,
          kind,
          fmt(m, 0),
          fmt(m / base, 2),
          fmt(median(p50[kind] ?? []), 3),
          fmt(median(p99[kind] ?? []), 3),
          fmt(us, 1),
          fmt(us / baseCpu, 2),
        ]);
      }
    }
  }
  table(["size", "conns", "server", "req/s", "vs raw", "p50 ms", "p99 ms", "server CPU µs/req", "CPU vs raw"], rows);
}

async function memory(): Promise<void> {
  console.log(`\n## Resident memory per idle connection, ${IDLE} connections, median of ${REPEATS}\n`);
  const perConn: Record<string, number[]> = {};
  const heapPer: Record<string, number[]> = {};
  for (let r = 0; r < REPEATS; r++) {
    for (const kind of SERVERS) {
      const { child, port } = await startServer(kind);
      const before = await rss(child);
      const holder = fork(loadScript, ["--port", String(port), "--hold", String(IDLE)]);
      await once(holder, "message"); // all connected and each echoed once
      const after = await rss(child);
      holder.disconnect();
      await once(holder, "exit");
      await stop(child);
      (perConn[kind] ??= []).push((after.rss - before.rss) / IDLE);
      (heapPer[kind] ??= []).push((after.heap - before.heap) / IDLE);
    }
  }
  const base = median(perConn["raw net"] ?? []);
  table(
    ["server", "RSS bytes/conn", "vs raw", "JS heap bytes/conn"],
    SERVERS.map((k) => [
      k,
      fmt(median(perConn[k] ?? []), 0),
      fmt(median(perConn[k] ?? []) / base, 2),
      fmt(median(heapPer[k] ?? []), 0),
    ]),
  );
}

/** The server child's CPU time (user + system) so far, in µs. */
async function cpuTime(child: ChildProcess): Promise<number> {
  child.send("cpu");
  const [m] = (await once(child, "message")) as [{ cpu: number }];
  return m.cpu;
}

async function rss(child: ChildProcess): Promise<{ rss: number; heap: number }> {
  child.send("rss");
  const [m] = (await once(child, "message")) as [{ rss: number; heap: number }];
  return m;
}

if (process.argv[2] === "--serve") await runServer(process.argv[3] as ServerKind);
else {
  console.log(
    `# sockpool server bench (node ${process.version}, ${os.cpus().length} CPUs, load avg ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")})\n`,
  );
  if (ONLY !== "mem") await throughput();
  if (ONLY !== "rps") await memory();
}
