/**
 * Broadcast across processes: a chat room of 2 processes × 50 clients, 1 KiB lines sent at a
 * fixed rate by the clients in turn, each line delivered to the 99 others. Measured here, in
 * the process that holds every client: deliveries per second, lines lost or out of order,
 * and the latency from send to delivery (p50, p99, max), split into deliveries on the
 * sender's own process and on the other one. Three rooms, in one run:
 *
 * - two processes and no bus (the baseline: the same clients and load per process, each line
 *   delivered only to the 49 others on its sender's process);
 * - cluster IPC: `runCluster` with 2 workers sharing one port (the primary relays);
 * - Redis: two processes on a Redis bus (needs redis-server; started here, on loopback).
 *
 *   npm run build && node dist/bench/broadcast.js [--rate 2000] [--seconds 5] [--clients 50]
 *       [--size 1024] [--warmup 500] [--repeats 3]
 *
 * The server processes are bench/broadcast/room.ts. The machine may be shared: "other CPU"
 * is the busy CPU during the window not charged to the room's processes (the kernel's
 * loopback work, other processes). See docs/benchmarks.md.
 */
import { type ChildProcess, fork, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHistogram, performance, type RecordableHistogram } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { arg, fmt, median, table } from "./lib/stats.js";
import { machineBusyMicros, processCpuMicros } from "./server/proc.js";

const RATE = arg("rate", 2000);
const SECONDS = arg("seconds", 5);
const PER_PROCESS = arg("clients", 50);
const SIZE = arg("size", 1024);
const WARMUP_MS = arg("warmup", 500);
const REPEATS = arg("repeats", 3);
const DRAIN_MS = 5000;
const ROOM = fileURLToPath(new URL("./broadcast/room.js", import.meta.url));

interface Result {
  room: string;
  deliveriesPerSecond: number;
  expected: number;
  lost: number;
  disordered: number;
  same: RecordableHistogram;
  cross: RecordableHistogram;
  cpu: number[];
  /** CPU (in % of one core) that processes other than this room's used during the window. */
  other: number;
}

/** One client of the bench: which process it is on, and what it heard. */
interface Client {
  socket: net.Socket;
  pid: number;
  got: number;
  /** Last seq heard from each sender, to check each sender's order. */
  last: Map<number, number>;
}

async function main(): Promise<void> {
  console.log(
    `${2 * PER_PROCESS} clients (2 processes × ${PER_PROCESS}), ${SIZE} B lines at ${RATE} lines/s for ${SECONDS} s, ` +
      `each to ${2 * PER_PROCESS - 1} others; latency after a ${WARMUP_MS} ms warm-up; median of ${REPEATS} runs\n`,
  );
  const redis = await startRedis();
  const rooms: { name: string; shared: boolean; start: () => Promise<ChildProcess[]>; extra?: number[] }[] = [
    {
      name: "2 processes, no bus (baseline)",
      shared: false,
      start: async () => [await forkRoom(["single"]), await forkRoom(["single"])],
    },
    { name: "cluster IPC, 2 workers", shared: true, start: async () => [await forkRoom(["cluster", "2"])] },
  ];
  if (redis) {
    const url = `redis://127.0.0.1:${redis.port}`;
    rooms.push({
      name: "Redis Streams, 2 processes",
      shared: true,
      extra: [redis.pid],
      start: async () => [await forkRoom(["redis", url]), await forkRoom(["redis", url])],
    });
  } else console.log("redis-server is not installed: the Redis room is skipped (apt-get install redis-server)\n");
  const results = new Map<string, Result[]>();
  try {
    for (let r = 0; r < REPEATS; r++) {
      for (const room of rooms) {
        const result = await measure(room.name, room.shared, await room.start(), room.extra);
        results.set(room.name, [...(results.get(room.name) ?? []), result]);
      }
    }
  } finally {
    redis?.stop();
  }
  report(results);
}

/** Runs one room: connects the clients, sends for SECONDS at RATE, waits for the last deliveries. */
async function measure(name: string, shared: boolean, children: ChildProcess[], extra: number[] = []): Promise<Result> {
  const ready = children.map((c) => (c as ChildProcess & { ready: { port: number; pids: number[] } }).ready);
  const ports = ready.length === 1 ? [ready[0]?.port as number, ready[0]?.port as number] : ready.map((r) => r.port);
  const serverPids = [...ready.flatMap((r) => r.pids), ...extra];
  const machineBefore = machineBusyMicros();
  const cpuBefore = serverPids.map(processCpuMicros);
  const benchBefore = process.cpuUsage();
  const same = createHistogram();
  const cross = createHistogram();
  const clients: Client[] = [];
  const senderPid: number[] = [];
  let recording = false;
  let disordered = 0;
  for (let i = 0; i < 2 * PER_PROCESS; i++) {
    const client = await connectClient(ports[i < PER_PROCESS ? 0 : 1] as number, (fields, c) => {
      const [sender, seq, sent] = fields as [number, number, number];
      c.got++;
      if ((c.last.get(sender) ?? -1) >= seq) disordered++;
      c.last.set(sender, seq);
      if (!recording) return;
      const micros = Math.max(1, Math.round(performance.now() * 1000) - sent);
      (senderPid[sender] === c.pid ? same : cross).record(micros);
    });
    clients.push(client);
    senderPid.push(client.pid);
  }
  const pad = "x".repeat(SIZE);
  const total = Math.round(RATE * SECONDS);
  let sent = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - start;
      recording = elapsed >= WARMUP_MS;
      const due = Math.min(total, Math.floor((elapsed / 1000) * RATE));
      for (; sent < due; sent++) {
        const now = Math.round(performance.now() * 1000);
        const head = `${sent % clients.length} ${Math.floor(sent / clients.length)} ${now} `;
        (clients[sent % clients.length] as Client).socket.write(`${head}${pad.slice(head.length + 1)}\n`);
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const sendMs = performance.now() - start;
  const expected = total * (shared ? clients.length - 1 : PER_PROCESS - 1);
  const heard = () => clients.reduce((n, c) => n + c.got, 0);
  const deadline = performance.now() + DRAIN_MS;
  while (heard() < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const cpu = serverPids.map((pid, i) => (processCpuMicros(pid) - (cpuBefore[i] as number)) / 1000 / (sendMs / 1000));
  const bench = process.cpuUsage(benchBefore);
  cpu.push((bench.user + bench.system) / 1000 / (sendMs / 1000));
  const machine = (machineBusyMicros() - machineBefore) / 1000 / (sendMs / 1000);
  const other = Math.max(0, machine - cpu.reduce((a, b) => a + b, 0));
  for (const c of clients) c.socket.destroy();
  await stopChildren(children);
  return {
    room: name,
    deliveriesPerSecond: heard() / (sendMs / 1000),
    expected,
    lost: expected - heard(),
    disordered,
    same,
    cross,
    cpu,
    other,
  };
}

/**
 * Connects one client and resolves once the server greeted it (it is in the room). Lines
 * are found in the bytes and only their first three numbers read, so this process, which
 * receives every delivery, does little per line: it must not be the bottleneck.
 */
function connectClient(port: number, onLine: (fields: number[], c: Client) => void): Promise<Client> {
  return new Promise((resolve, reject) => {
    let carry: Buffer | undefined;
    const line = (bytes: Buffer, from: number, to: number) => {
      const fields = numbers(bytes, from, to, 3);
      if (client.pid !== 0) return onLine(fields, client);
      client.pid = fields[0] as number;
      resolve(client);
    };
    const onChunk = (chunk: Buffer) => {
      let start = 0;
      let nl = chunk.indexOf(10);
      if (carry !== undefined && nl >= 0) {
        const whole = Buffer.concat([carry, chunk.subarray(0, nl)]); // one line straddling reads
        line(whole, 0, whole.length);
        carry = undefined;
        start = nl + 1;
        nl = chunk.indexOf(10, start);
      }
      for (; nl >= 0; nl = chunk.indexOf(10, start)) {
        line(chunk, start, nl);
        start = nl + 1;
      }
      // The read buffer is reused: a partial line is copied out.
      if (start < chunk.length) carry = Buffer.concat(carry ? [carry, chunk.subarray(start)] : [chunk.subarray(start)]);
    };
    // One read buffer per socket, reused (`onread`): no 64 KiB allocation per read.
    const buffer = Buffer.allocUnsafe(64 * 1024);
    const socket = net.connect({
      host: "127.0.0.1",
      port,
      noDelay: true,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array) => {
          onChunk(Buffer.from(buf.buffer, buf.byteOffset, n));
          return true;
        },
      },
    });
    const client: Client = { socket, pid: 0, got: 0, last: new Map() };
    socket.once("error", reject);
  });
}

/** The first `n` space-separated non-negative integers of `bytes[from, to)`. */
function numbers(bytes: Buffer, from: number, to: number, n: number): number[] {
  const out: number[] = [];
  let value = 0;
  for (let i = from; i < to && out.length < n; i++) {
    const b = bytes[i] as number;
    if (b === 32) {
      out.push(value);
      value = 0;
    } else value = value * 10 + (b - 48);
  }
  if (out.length < n) out.push(value);
  return out;
}

async function forkRoom(args: string[]): Promise<ChildProcess> {
  const child = fork(ROOM, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [ready] = (await once(child, "message")) as [{ port: number; workers?: number[] }];
  return Object.assign(child, { ready: { port: ready.port, pids: [child.pid as number, ...(ready.workers ?? [])] } });
}

async function stopChildren(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      const exited = once(c, "exit");
      c.disconnect();
      const timer = setTimeout(() => c.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** A redis-server on a free loopback port, no persistence; undefined when not installed. */
async function startRedis(): Promise<{ port: number; pid: number; stop(): void } | undefined> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return undefined;
  const free = net.createServer().listen(0, "127.0.0.1");
  await once(free, "listening");
  const port = (free.address() as net.AddressInfo).port;
  await new Promise((r) => free.close(r));
  const dir = mkdtempSync(join(tmpdir(), "sockpool-bench-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout?.setEncoding("utf8");
  for await (const text of child.stdout as AsyncIterable<string>) {
    out += text;
    if (out.includes("Ready to accept connections")) break;
  }
  child.stdout?.resume();
  return {
    port,
    pid: child.pid as number,
    stop() {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ms = (h: RecordableHistogram, p: number) => (h.count === 0 ? "—" : fmt(h.percentile(p) / 1000, 2));

function report(results: Map<string, Result[]>): void {
  const rows: (string | number)[][] = [];
  let baseline: number | undefined;
  for (const [name, runs] of results) {
    // The run with the median p99 (cross-process; same-process in the baseline) speaks for the room.
    const key = (r: Result) => (r.cross.count > 0 ? r.cross : r.same).percentile(99);
    const sorted = [...runs].sort((a, b) => key(a) - key(b));
    const r = sorted[sorted.length >> 1] as Result;
    const p99 = key(r) / 1000;
    baseline ??= p99;
    rows.push([
      name,
      fmt(median(runs.map((x) => x.deliveriesPerSecond)), 0),
      `${runs.reduce((n, x) => n + x.lost, 0)} of ${runs.reduce((n, x) => n + x.expected, 0)}`,
      runs.reduce((n, x) => n + x.disordered, 0),
      `${ms(r.same, 50)} / ${ms(r.same, 99)}`,
      `${ms(r.cross, 50)} / ${ms(r.cross, 99)} / ${ms(r.cross, 100)}`,
      `${fmt(p99 / baseline, 2)}×`,
      r.cpu.map((c) => `${Math.round(c / 10)}%`).join(" "),
      `${Math.round(r.other / 10)}%`,
    ]);
    const p99s = runs.map((x) => fmt(key(x) / 1000, 2)).join(", ");
    console.error(`${name}: p99 per run ${p99s} ms`);
  }
  console.log("");
  table(
    [
      "room",
      "deliveries/s",
      "lost",
      "out of order",
      "same process p50 / p99 ms",
      "cross-process p50 / p99 / max ms",
      "p99 vs baseline",
      "CPU: servers (primary, workers…, redis-server), clients",
      "other CPU (kernel, other processes)",
    ],
    rows,
  );
}

await main();
