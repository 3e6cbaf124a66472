/**
 * Connection vs raw `net`: reading a long stream of 1 KiB lines, of 1 KiB fixed-size frames,
 * and of 1 KiB length-prefixed frames (a u32 length, then the payload). A child process
 * writes the stream as fast as the socket takes it; this process reads it either through
 * `Connection` (readLine / readExactly / readFrames with the length-prefixed codec's decoder,
 * one promise per batch) or with a hand-written `'data'` handler doing the same work (split,
 * slice, decode lines to strings, parse the lengths). Runs alternate, repeat, and report
 * medians and the ratio.
 *
 * A second table takes the network and the writer out: the same reads from an in-memory
 * stream, beside a synchronous slicing loop and a loop that only awaits one settled promise
 * per message (the floor of any promise-per-read API).
 *
 *   node dist/bench/connection.js [--mib 64] [--repeats 7] [--size 1024]
 */
import { fork } from "node:child_process";
import net from "node:net";
import { Duplex } from "node:stream";
import { Connection, connect, lengthPrefixedCodec } from "sockpool";
import { arg, fmt, median, table } from "./lib/stats.js";

const MIB = arg("mib", 64);
const REPEATS = arg("repeats", 7);
const SIZE = arg("size", 1024);

/** Keeps the readers' per-message work from being optimised away. */
let sink = 0;

/** Child: serves the stream to every connection, then ends it; prefixed frames on a second port. */
function runWriter(): void {
  const count = Math.floor((MIB * 1024 * 1024) / SIZE);
  const line = Buffer.alloc(SIZE, 0x61);
  line[SIZE - 1] = 0x0a;
  const prefixed = Buffer.alloc(SIZE, 0x61);
  prefixed.writeUInt32BE(SIZE - 4, 0);
  const serve = (message: Buffer) =>
    net.createServer((s) => {
      const block = Buffer.concat(Array.from({ length: 256 }, () => message)); // 256 messages per write
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
  const plain = serve(line);
  const framed = serve(prefixed);
  plain.listen(0, "127.0.0.1", () =>
    framed.listen(0, "127.0.0.1", () =>
      process.send?.([(plain.address() as net.AddressInfo).port, (framed.address() as net.AddressInfo).port]),
    ),
  );
  process.on("disconnect", () => process.exit(0));
}

/** Resolves with the messages read, once EOF is seen; closing happens outside the timing. */
type Reader = (port: number) => Promise<number>;

/** Readers of the length-prefixed stream (the second port). */
const PREFIXED = new Set(["raw length-prefixed", "Connection.readFrames"]);

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
  "raw length-prefixed": (port) =>
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      let carry: Buffer | undefined;
      let n = 0;
      let sum = 0;
      const frame = (buf: Buffer, off: number): number => {
        // a whole frame at off: its length, then its payload (a view)
        const len = buf.readUInt32BE(off);
        sum += buf.subarray(off + 4, off + 4 + len)[0] as number;
        n++;
        return off + 4 + len;
      };
      s.on("data", (chunk: Buffer) => {
        let off = 0;
        if (carry) {
          // Complete the frame that straddles the chunks, joining it alone.
          if (carry.length < 4) {
            off = Math.min(4 - carry.length, chunk.length);
            carry = Buffer.concat([carry, chunk.subarray(0, off)]);
            if (carry.length < 4) return;
          }
          const need = 4 + carry.readUInt32BE(0) - carry.length;
          if (chunk.length - off < need) {
            carry = Buffer.concat([carry, chunk.subarray(off)]);
            return;
          }
          frame(Buffer.concat([carry, chunk.subarray(off, off + need)]), 0);
          off += need;
          carry = undefined;
        }
        while (chunk.length - off >= 4 && chunk.length - off >= 4 + chunk.readUInt32BE(off)) off = frame(chunk, off);
        if (off < chunk.length) carry = chunk.subarray(off);
      });
      s.on("end", () => {
        sink += sum;
        resolve(n);
        s.destroy();
      });
      s.on("error", reject);
    }),
  "Connection.readFrames": async (port) => {
    const c = await connect({ host: "127.0.0.1", port }, { limit: 64 * 1024 });
    const decoder = lengthPrefixedCodec({ header: 4 }).decoder();
    let n = 0;
    let sum = 0;
    for (let batch = await c.readFrames(decoder); batch.length > 0; batch = await c.readFrames(decoder)) {
      for (const f of batch) sum += f[0] as number;
      n += batch.length;
    }
    void c.close();
    sink += sum;
    return n;
  },
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
  const [port, framedPort] = await new Promise<[number, number]>((r) =>
    child.once("message", (m) => r(m as [number, number])),
  );
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(readers).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(readers).map((k) => [k, []]));
  const expected = Math.floor((MIB * 1024 * 1024) / SIZE / 256) * 256;
  for (let i = 0; i < REPEATS + 1; i++) {
    for (const [name, read] of Object.entries(readers)) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const n = await read(PREFIXED.has(name) ? framedPort : port);
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
    ["raw length-prefixed", "Connection.readFrames"],
  ] as const) {
    const [rw, ow] = [median(wall[raw] ?? []), median(wall[ours] ?? [])];
    const [rc, oc] = [median(cpu[raw] ?? []), median(cpu[ours] ?? [])];
    rows.push([raw, fmt(rw), fmt(rc), fmt((MIB / rw) * 1000, 0), "1.00", "1.00"]);
    rows.push([ours, fmt(ow), fmt(oc), fmt((MIB / ow) * 1000, 0), fmt(ow / rw, 2), fmt(oc / rc, 2)]);
  }
  table(["reader", "wall ms", "reader CPU ms", "MiB/s", "wall vs raw", "CPU vs raw"], rows);
  if (sink < 0) console.log(sink);
}

/** CPU ms to read MIB of SIZE-byte messages through `read` from an in-memory stream. */
async function inMemory(read: (c: Connection) => Promise<unknown>, chunk: Buffer): Promise<number> {
  const stream = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  const conn = new Connection(stream as unknown as net.Socket, "memory");
  const chunks = (MIB * 1024 * 1024) / chunk.length;
  const count = (MIB * 1024 * 1024) / SIZE;
  let fed = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    while (conn.bufferedLength < SIZE && fed < chunks) {
      stream.emit("data", chunk);
      fed++;
    }
    sink += ((await read(conn)) as { length: number }).length;
  }
  const used = process.cpuUsage(t0);
  stream.destroy();
  return (used.user + used.system) / 1000;
}

function cpuOf(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const used = process.cpuUsage(t0);
  return (used.user + used.system) / 1000;
}

async function memoryTable(): Promise<void> {
  const frames = Buffer.alloc(64 * 1024, 0x61);
  const lines = Buffer.from(frames);
  for (let i = SIZE - 1; i < lines.length; i += SIZE) lines[i] = 0x0a;
  const count = (MIB * 1024 * 1024) / SIZE;
  const rows: Record<string, number[]> = { slice: [], await: [], readExactly: [], readLine: [] };
  for (let r = 0; r < REPEATS; r++) {
    rows.slice?.push(
      cpuOf(() => {
        for (let i = 0; i < count; i++)
          sink += frames.subarray((i * SIZE) % frames.length, ((i * SIZE) % frames.length) + SIZE).length;
      }),
    );
    const t0 = process.cpuUsage();
    for (let i = 0; i < count; i++) sink += (await Promise.resolve(frames.subarray(0, SIZE))).length;
    const used = process.cpuUsage(t0);
    rows.await?.push((used.user + used.system) / 1000);
    rows.readExactly?.push(await inMemory((c) => c.readExactly(SIZE), frames));
    rows.readLine?.push(await inMemory((c) => c.readLine() as Promise<string>, lines));
  }
  console.log(`\n# In memory: CPU ms per ${MIB} MiB of ${SIZE}-byte messages, median of ${REPEATS}\n`);
  table(
    ["loop", "CPU ms", "ns per message"],
    [
      [
        "synchronous subarray (no promise)",
        fmt(median(rows.slice ?? [])),
        fmt((median(rows.slice ?? []) * 1e6) / count, 0),
      ],
      [
        "await one settled promise each",
        fmt(median(rows.await ?? [])),
        fmt((median(rows.await ?? []) * 1e6) / count, 0),
      ],
      [
        "Connection.readExactly",
        fmt(median(rows.readExactly ?? [])),
        fmt((median(rows.readExactly ?? []) * 1e6) / count, 0),
      ],
      [
        "Connection.readLine (decodes UTF-8)",
        fmt(median(rows.readLine ?? [])),
        fmt((median(rows.readLine ?? []) * 1e6) / count, 0),
      ],
    ],
  );
}

if (process.argv[2] === "--writer") runWriter();
else {
  await main();
  await memoryTable();
}
