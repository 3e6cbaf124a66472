import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { BadFrameError, createEchoServer, type Endpoint, type Server, SocketPool } from "../../index.js";
import { type CliIo, type Command, type CommandContext, EXIT, str } from "../command.js";
import { formatMs } from "../format.js";
import { parseCount, parseDuration } from "../parse.js";
import { formatAddress } from "./serve.js";

/** The walk-through's knobs, parsed. */
interface DemoSettings {
  delay: number;
  pool: number;
  waves: number[];
}

/**
 * `sockpool demo`: scenario 1 of the design, end to end in one process. An embedded echo
 * server answers each message after `--delay`; 5 and then 20 messages go at once through a
 * pool of 5 sockets. Each wave of replies is printed as it lands, then the time against the
 * floor `ceil(N / 5) × delay` and the sockets opened and reused.
 */
export const demoCommand: Command = {
  name: "demo",
  summary: "watch the pool bound sockets and overlap waiting, against an embedded server",
  usage: ["demo [--delay 1s] [--pool 5]"],
  description:
    "Starts an echo server on 127.0.0.1 (a free port) that answers each message after\n" +
    "--delay, then sends 5 and then 20 messages at once through a SocketPool of at most\n" +
    "--pool sockets. No message waits for another's reply, only for a free socket, so N\n" +
    "messages take ceil(N / pool) × delay plus milliseconds, over no more than --pool sockets.",
  options: {
    delay: { type: "string", value: "DURATION", help: "how long the server waits before each reply (default 1s)" },
    pool: { type: "string", value: "K", help: "most sockets the pool opens (default 5)" },
  },
  positionals: { min: 0, max: 0 },
  examples: ["sockpool demo", "sockpool demo --delay 250ms", "npm run demo"],
  run: demo,
};

async function demo({ values, io }: CommandContext): Promise<number> {
  const s: DemoSettings = {
    delay: parseDuration("--delay", str(values, "delay") ?? "1s"),
    pool: parseCount("--pool", str(values, "pool") ?? "5", 1, 1000),
    waves: [5, 20],
  };
  const server = createEchoServer({ delay: s.delay });
  await server.listen({ host: "127.0.0.1", port: 0 });
  const pool = new SocketPool({ maxSocketsPerEndpoint: s.pool, acquireTimeout: 60_000 + 25 * s.delay });
  try {
    const where = formatAddress(server.address());
    io.stdout.write(
      `An echo server on ${where} answers each message after ${formatMs(s.delay)}.\n` +
        `A pool of at most ${s.pool} sockets carries the messages; each one borrows a socket,\n` +
        "writes, waits for its echo and gives the socket back.\n",
    );
    let ok = true;
    for (const n of s.waves) ok = (await wave(pool, server, s, n, io)) && ok;
    const st = pool.stats();
    io.stdout.write(
      `\nIn all: ${st.acquired} messages over ${st.created} sockets (${st.created} opened, ${st.reused} reused); ` +
        `the server accepted ${server.stats().total} connections.\n`,
    );
    return ok ? EXIT.ok : EXIT.error;
  } finally {
    await pool.close({ timeout: 2000 });
    await server.close({ timeout: 2000 });
  }
}

/** Sends `n` messages at once, prints each wave of replies and the wave's summary. */
async function wave(pool: SocketPool, server: Server, s: DemoSettings, n: number, io: CliIo): Promise<boolean> {
  const ep = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const before = pool.stats();
  io.stdout.write(`\n${n} messages at once:\n`);
  const t0 = performance.now();
  const ticker = replyTicker(pool, n, t0, io);
  await Promise.all(Array.from({ length: n }, (_, i) => echo(pool, ep, `message ${i + 1} of ${n}`).then(ticker.tick)));
  const took = performance.now() - t0;
  ticker.flush();
  const after = pool.stats();
  const floor = Math.ceil(n / s.pool) * s.delay;
  const opened = after.created - before.created;
  const reused = after.reused - before.reused;
  io.stdout.write(
    `  took ${formatMs(took)}: ${formatMs(Math.max(0, took - floor))} over the floor ` +
      `ceil(${n}/${s.pool}) × ${formatMs(s.delay)} = ${formatMs(floor)} (timers, loopback and the pool)\n` +
      `  sockets: ${opened} opened, ${reused} reused; now ${after.idle} idle, ${after.borrowed} borrowed\n`,
  );
  return after.open <= s.pool && opened <= s.pool;
}

/** One message through the pool; rejects with BadFrameError when the echo differs. */
async function echo(pool: SocketPool, ep: Endpoint | string, message: string): Promise<void> {
  const line = `${message}\n`;
  const reply = await pool.use(ep, async (conn) => {
    await conn.write(line);
    return conn.readExactly(Buffer.byteLength(line));
  });
  if (reply.toString() !== line) throw new BadFrameError(`the echo of ${JSON.stringify(message)} differs`);
}

/**
 * Counts replies and prints one progress line per wave of them (the replies that land in
 * the same turn of the event loop), with the pool's state at that time. `flush()` prints a
 * pending line at once, so it comes before the wave's summary.
 */
function replyTicker(pool: SocketPool, n: number, t0: number, io: CliIo): { tick: () => void; flush: () => void } {
  let done = 0;
  let pending: NodeJS.Immediate | undefined;
  const flush = () => {
    if (pending === undefined) return;
    clearImmediate(pending);
    pending = undefined;
    const st = pool.stats();
    const elapsed = formatMs(performance.now() - t0).padStart(9);
    const replies = `${String(done).padStart(String(n).length)}/${n} replies`;
    io.stdout.write(`  ${elapsed}  ${replies}   ${st.borrowed} sockets busy, ${st.pending} messages waiting for one\n`);
  };
  const tick = () => {
    done++;
    pending ??= setImmediate(flush);
  };
  return { tick, flush };
}
