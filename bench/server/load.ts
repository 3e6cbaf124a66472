/**
 * The Node fallback of bench/server's load generator, for machines without gcc; it takes
 * the arguments of load.c and prints the same JSON line (see load.c for both). Being Node,
 * it saturates its core well before the fastest servers do: the "load core" column says
 * when. It also holds the idle connections of the memory table:
 *
 *   node load.js --port P --conns C --size S --warmup-ms W --ms T [--server-pid PID]
 *   node load.js --port P --hold N    # opens N connections, echoes one byte on each,
 *                                     # prints "held N", holds them until stdin closes
 */
import net from "node:net";
import { createHistogram } from "node:perf_hooks";
import { arg } from "../lib/stats.js";
import type { LoadResult } from "./load-runner.js";
import { machineBusyMicros, processCpuMicros } from "./proc.js";

const PORT = arg("port", 0);
const HOLD_WAVE = 500;

/** One closed-loop client: sends `message`, waits for all of it back, calls `done`, repeats. */
function client(message: Buffer, done: (startedNs: bigint) => void, failed: (err: Error) => void): net.Socket {
  const socket = net.connect({ port: PORT, host: "127.0.0.1", noDelay: true });
  let received = 0;
  let started = 0n;
  const send = () => {
    received = 0;
    started = process.hrtime.bigint();
    socket.write(message);
  };
  socket.on("connect", send);
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received < message.length) return;
    done(started);
    send();
  });
  socket.on("error", failed);
  socket.on("end", () => failed(new Error("the server closed a connection")));
  return socket;
}

async function measure(): Promise<void> {
  const serverPid = arg("server-pid", 0);
  const serverCpu = () => (serverPid > 0 ? processCpuMicros(serverPid) : Number.NaN);
  const ownCpu = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  const hist = createHistogram();
  let counting = false;
  const fail = (err: Error) => {
    console.error(`load: ${err.message}`);
    process.exit(1);
  };
  const record = (started: bigint) => {
    if (counting) hist.record(process.hrtime.bigint() - started);
  };
  const message = Buffer.alloc(arg("size", 1024), 0x61);
  const sockets = Array.from({ length: arg("conns", 10) }, () => client(message, record, fail));
  await new Promise((resolve) => setTimeout(resolve, arg("warmup-ms", 500)));
  counting = true;
  const [start, load0, server0, busy0] = [process.hrtime.bigint(), ownCpu(), serverCpu(), machineBusyMicros()];
  await new Promise((resolve) => setTimeout(resolve, arg("ms", 2000)));
  counting = false;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const result: LoadResult = {
    requests: hist.count,
    seconds,
    rps: hist.count / seconds,
    p50: hist.percentile(50) / 1e6,
    p99: hist.percentile(99) / 1e6,
    loadCpuUs: ownCpu() - load0,
    serverCpuUs: Number.isNaN(server0) ? -1 : serverCpu() - server0,
    busyCpuUs: machineBusyMicros() - busy0,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  for (const socket of sockets) socket.destroy();
}

async function hold(count: number): Promise<void> {
  const sockets: net.Socket[] = [];
  for (let wave = 0; wave < count; wave += HOLD_WAVE) {
    const echoed: Promise<void>[] = [];
    for (let i = wave; i < Math.min(count, wave + HOLD_WAVE); i++) {
      const socket = net.connect({ port: PORT, host: "127.0.0.1" });
      socket.on("error", () => {}); // after the echo, a reset only ends the measurement early
      sockets.push(socket);
      echoed.push(
        new Promise((resolve, reject) => {
          socket.once("data", () => resolve());
          socket.once("error", reject);
          socket.write("x");
        }),
      );
    }
    await Promise.all(echoed);
  }
  process.stdout.write(`held ${sockets.length}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const socket of sockets) socket.destroy();
  });
}

if (process.argv.includes("--hold")) await hold(arg("hold", 10_000));
else await measure();
