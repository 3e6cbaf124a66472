/**
 * Echo servers side by side, in one interleaved run: sockpool's echo server and a stream-handler
 * echo, the minimal raw `net` echo they must beat, and the peers users compare Node with — a
 * goroutine-per-connection Go server, an asyncio Protocol on uvloop, and a C epoll server
 * (the limit). Requests per second and latency (p50, p99) over a grid of message sizes and
 * connection counts, each server's CPU time per request, then resident memory per idle
 * connection.
 *
 * Every server runs in its own process, pinned to CPU 0; the closed-loop load generator
 * (C with epoll, bench/server/load.c) runs pinned to CPU 1 and reports its own CPU, so the
 * output shows it is not the bottleneck. The machine may be shared: each run waits for other
 * work to calm down first, and the output says how much other work ran during each window.
 * This process only orchestrates. Peers that are not installed are reported and skipped;
 * see bench/server/ for each piece and docs/benchmarks.md for the method.
 *
 *   npm run build && node dist/bench/server.js [--seconds 2] [--repeats 5] [--only rps|mem]
 *       [--sizes 1KiB,10KiB,100KiB] [--conns 10,100] [--servers c,go,uvloop,raw,echo,stream,rawiter]
 *       [--warmup 500] [--quiet-wait 5] [--idle 10000] [--load c|node] [--python /usr/bin/python3]
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { killAllChildren } from "./server/child.js";
import { loadGenerator } from "./server/load-runner.js";
import { measureMemory } from "./server/memory.js";
import { type BenchOptions, parseBenchOptions, USAGE } from "./server/options.js";
import { type ServerSpec, serverSpecs } from "./server/peers.js";
import { printMemory, printThroughput } from "./server/report.js";
import { type Cell, measureThroughput } from "./server/throughput.js";
import { pathOf, prepareToolchain, type Toolchain } from "./server/toolchain.js";

/** Roughly what one run costs besides its warm-up and window: the quiet check, starting and stopping. */
const RUN_OVERHEAD_MS = 600;

async function main(options: BenchOptions, workDir: string): Promise<void> {
  const wantsPeer = (id: string) => options.servers.some((s) => s === id);
  const tools = prepareToolchain(workDir, {
    echoEpoll: wantsPeer("c"),
    goEcho: wantsPeer("go"),
    uvloop: wantsPeer("uvloop"),
    loadC: options.rps && options.load === "c",
    python: options.python,
  });
  const specs = serverSpecs(options.servers, tools);
  const servers = specs.filter((s) => s.argv !== undefined);
  const generator = loadGenerator(pathOf(tools.loadC), tools.loadPin);
  printSetup(options, tools, specs, generator.name);
  if (options.ignored.length > 0) console.error(`bench/server ignores ${options.ignored.join(", ")}`);
  if (options.rps) {
    const cells: Cell[] = options.sizes.flatMap((size) => options.conns.map((conns) => ({ size, conns })));
    const minutes = (cells.length * servers.length * options.repeats * runMs(options)) / 60_000;
    console.log(
      `\n## Echo req/s and latency: ${options.windowMs / 1000} s windows, median of ${options.repeats} rounds\n`,
    );
    console.error(
      `${cells.length} cells × ${servers.length} servers × ${options.repeats} rounds: ~${minutes.toFixed(1)} min`,
    );
    const plan = { ...options, servers, cells, generator, serverPin: tools.serverPin };
    printThroughput(await measureThroughput(plan), servers, options.repeats);
  }
  if (options.mem) {
    console.log(
      `\n## Resident memory per idle connection, ${options.idle} connections, median of ${options.repeats}\n`,
    );
    const plan = {
      servers,
      idle: options.idle,
      repeats: options.repeats,
      serverPin: tools.serverPin,
      loadPin: tools.loadPin,
    };
    printMemory(await measureMemory(plan), servers);
  }
}

function printSetup(options: BenchOptions, tools: Toolchain, specs: ServerSpec[], generator: string): void {
  const load = os.loadavg().map((l) => l.toFixed(2));
  const date = new Date().toISOString().slice(0, 10);
  console.log(
    `# sockpool server bench, ${date}: node ${process.version}, ${os.cpus().length} CPUs, load avg ${load.join(" ")}\n`,
  );
  console.log(`- Pinning: ${tools.pinning}.`);
  if (options.rps) console.log(`- Load generator: ${describeGenerator(options, tools, generator)}.`);
  for (const spec of specs) console.log(`- ${spec.name}: ${spec.argv ? spec.about : `NOT RUN, ${spec.about}`}.`);
}

function describeGenerator(options: BenchOptions, tools: Toolchain, generator: string): string {
  if (tools.loadC !== undefined && "version" in tools.loadC) return `${generator}, ${tools.loadC.version}`;
  const why =
    options.load === "node" ? "asked for with --load node" : `because the C one is missing: ${tools.loadC?.missing}`;
  return `${generator}, ${why}. It saturates its core before the fastest servers do: see "load CPU"`;
}

function runMs(options: BenchOptions): number {
  return options.warmupMs + options.windowMs + RUN_OVERHEAD_MS;
}

let options: BenchOptions;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(1);
}
const workDir = mkdtempSync(path.join(os.tmpdir(), "sockpool-bench-server-"));
const cleanUp = () => {
  killAllChildren();
  rmSync(workDir, { recursive: true, force: true });
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every child process`);
    cleanUp();
    process.exit(130);
  });
}
try {
  await main(options, workDir);
} catch (err) {
  console.error(`bench/server failed: ${(err as Error).stack}`);
  process.exitCode = 1;
} finally {
  cleanUp();
}
