/**
 * Connection vs raw `net`: reading a long stream of 1 KiB lines and of 1 KiB fixed-size
 * frames. A child process writes the stream as fast as the socket takes it; this process
 * reads it either through `Connection` (readLine / readExactly) or with a hand-written
 * `'data'` handler doing the same work (split, slice, decode lines to strings). Runs
 * alternate between the two, repeat, and report medians and the ratio.
 *
 *   node dist/bench/connection.js [--mib 64] [--repeats 7] [--size 1024]
 */
import { fork } from "node:child_process";
import net from "node:net";
import { connect } from "sockpool";
import { arg, fmt, median, table } from "./lib/stats.js";

const MIB = arg("mib", 64);
const REPEATS = arg("repeats", 7);
const SIZE = arg("size", 1024);

/** Keeps the readers' per-message work from being optimised away. */
let sink = 0;

/** Child: serves the stream to every connection, then ends it. */
function runWriter(): void {
  const count = Math.floor((MIB * 1024 * 1024) / SIZE);
  const line = Buffer.alloc(SIZE, 0x61);
  line[SIZE - 1] = 0x0a;
  const block = Buffer.concat(Array.from({ length: 256 }, () => line)); // 256 messages per write
  const server = net.createServer((s) => {
    let sent = 0;
    const pump = () => {
      while (sent < count) {
        sent += 256;
        if (!s.write(block)) return void s.once("drain", pump);
      }
      s.end();
    };
    pump();
  });
  server.listen(0, "127.0.0.1", () => process.send?.((server.address() as net.AddressInfo).port));
  process.on("disconnect", () => process.exit(0));
}

/** Resolves with the messages read, once EOF is seen; closing happens outside the timing. */
type Reader = (port: number) => Promise<number>;

// The raw readers are written as well as we know how: a message that straddles two chunks
// is joined alone (never the whole chunk), everything else is sliced or decoded in place.
const readers: Record<string, Reader> = {
  "raw lines": (port) =>
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      let carry: Buffer | undefined;
      let n = 0;
      let chars = 0;
      s.on("data", (chunk: Buffer) => {
        let start = 0;
        if (carry) {
          const nl = chunk.indexOf(0x0a);
          if (nl < 0) {
            carry = Buffer.concat([carry, chunk]);
            return;
          }
          chars += Buffer.concat([carry, chunk.subarray(0, nl)]).toString("utf8").length;
          n++;
          carry = undefined;
          start = nl + 1;
        }
        for (;;) {
          const nl = chunk.indexOf(0x0a, start);
          if (nl < 0) break;
          chars += chunk.toString("utf8", start, nl).length;
          n++;
          start = nl + 1;
        }
        if (start < chunk.length) carry = chunk.subarray(start);
      });
      s.on("end", () => {
        sink += chars;
        resolve(n);
        s.destroy();
      });
      s.on("error", reject);
    }),
  "Connection.readLine": async (port) => {
    const c = await connect({ host: "127.0.0.1", port }, { limit: 64 * 1024 });
    let n = 0;
    let chars = 0;
    for (let line = await c.readLine(); line !== null; line = await c.readLine()) {
      chars += line.length;
      n++;
    }
    void c.close();
    sink += chars;
    return n;
  },
  "raw frames": (port) =>
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      let carry: Buffer | undefined;
      let n = 0;
      let sum = 0;
      s.on("data", (chunk: Buffer) => {
        let off = 0;
        if (carry) {
          const need = SIZE - carry.length;
          if (chunk.length < need) {
            carry = Buffer.concat([carry, chunk]);
            return;
          }
          sum += Buffer.concat([carry, chunk.subarray(0, need)])[0] as number;
          n++;
          carry = undefined;
          off = need;
        }
        while (chunk.length - off >= SIZE) {
          sum += chunk.subarray(off, off + SIZE)[0] as number;
          off += SIZE;
          n++;
        }
        if (off < chunk.length) carry = chunk.subarray(off);
      });
      s.on("end", () => {
        sink += sum;
        resolve(n);
        s.destroy();
      });
      s.on("error", reject);
    }),
  "Connection.readExactly": async (port) => {
    const c = await connect({ host: "127.0.0.1", port }, { limit: 64 * 1024 });
    let n = 0;
    let sum = 0;
    const total = Math.floor((MIB * 1024 * 1024) / SIZE / 256) * 256;
    while (n < total) {
      sum += (await c.readExactly(SIZE))[0] as number;
      n++;
    }
    void c.close();
    sink += sum;
    return n;
  },
};

async function main(): Promise<void> {
  const child = fork(new URL(import.meta.url).pathname, ["--writer", "--mib", String(MIB), "--size", String(SIZE)]);
  const port = await new Promise<number>((r) => child.once("message", (m) => r(m as number)));
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(readers).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(readers).map((k) => [k, []]));
  const expected = Math.floor((MIB * 1024 * 1024) / SIZE / 256) * 256;
  for (let i = 0; i < REPEATS + 1; i++) {
    for (const [name, read] of Object.entries(readers)) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const n = await read(port);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const used = process.cpuUsage(c0);
      if (n !== expected) throw new Error(`${name}: read ${n} messages, expected ${expected}`);
      if (i === 0) continue; // the first round warms up
      wall[name]?.push(ms);
      cpu[name]?.push((used.user + used.system) / 1000);
    }
  }
  child.disconnect();
  console.log(`# Connection vs raw net: ${MIB} MiB of ${SIZE}-byte messages, median of ${REPEATS}\n`);
  const rows: (string | number)[][] = [];
  for (const [raw, ours] of [
    ["raw lines", "Connection.readLine"],
    ["raw frames", "Connection.readExactly"],
  ] as const) {
    const [rw, ow] = [median(wall[raw] ?? []), median(wall[ours] ?? [])];
    const [rc, oc] = [median(cpu[raw] ?? []), median(cpu[ours] ?? [])];
    rows.push([raw, fmt(rw), fmt(rc), fmt((MIB / rw) * 1000, 0), "1.00", "1.00"]);
    rows.push([ours, fmt(ow), fmt(oc), fmt((MIB / ow) * 1000, 0), fmt(ow / rw, 2), fmt(oc / rc, 2)]);
  }
  table(["reader", "wall ms", "reader CPU ms", "MiB/s", "wall vs raw", "CPU vs raw"], rows);
  if (sink < 0) console.log(sink);
}

if (process.argv[2] === "--writer") runWriter();
else await main();
