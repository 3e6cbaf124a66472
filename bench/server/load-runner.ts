/**
 * Runs bench/server's load generator, the C one (load.c) or the Node fallback (load.ts);
 * both take the same arguments and print the same JSON line. Also starts the holder of
 * idle connections for the memory table.
 */
import { fileURLToPath } from "node:url";
import { ChildProgram } from "./child.js";

/** What one run of the load generator measured in its timed window (see load.c). */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Latency percentiles, in ms. */
  p50: number;
  p99: number;
  /** CPU time in the window, in µs: the load generator's own, and the server's (-1 if unknown). */
  loadCpuUs: number;
  serverCpuUs: number;
  /** Busy time of all CPUs together in the window, in µs (-1 if unknown): other work is the rest. */
  busyCpuUs: number;
}

export interface LoadGenerator {
  /** "C (epoll)" or "Node (fallback)", for the output. */
  name: string;
  /** The command, pinning prefix included, before the per-run arguments. */
  argv: string[];
}

export interface LoadRun {
  port: number;
  serverPid: number;
  conns: number;
  size: number;
  warmupMs: number;
  windowMs: number;
}

const NODE_LOAD = fileURLToPath(new URL("./load.js", import.meta.url));
const FIELDS = ["requests", "seconds", "rps", "p50", "p99", "loadCpuUs", "serverCpuUs", "busyCpuUs"] as const;

/** The C generator when it was built, else the Node one. */
export function loadGenerator(cBinary: string | undefined, pin: string[]): LoadGenerator {
  if (cBinary !== undefined) return { name: "C (epoll)", argv: [...pin, cBinary] };
  return { name: "Node (fallback)", argv: [...pin, process.execPath, NODE_LOAD] };
}

export async function runLoad(generator: LoadGenerator, run: LoadRun): Promise<LoadResult> {
  const program = new ChildProgram(`load generator ${generator.name}`, [
    ...generator.argv,
    ...["--port", String(run.port), "--server-pid", String(run.serverPid)],
    ...["--conns", String(run.conns), "--size", String(run.size)],
    ...["--warmup-ms", String(run.warmupMs), "--ms", String(run.windowMs)],
  ]);
  const lines = await program.finish(run.warmupMs + run.windowMs + 30_000);
  const last = lines.filter((l) => l.trim() !== "").pop() ?? "";
  const result = JSON.parse(last) as Record<string, unknown>;
  for (const field of FIELDS) {
    if (typeof result[field] !== "number") throw new Error(`load generator printed ${last}: no number "${field}"`);
  }
  return result as unknown as LoadResult;
}

/**
 * Opens `count` connections to the server, each echoing one byte once, and resolves when all
 * are open; they stay open until the returned program is stopped.
 */
export async function holdIdleConnections(pin: string[], port: number, count: number): Promise<ChildProgram> {
  const program = new ChildProgram("idle-connection holder", [
    ...[...pin, process.execPath, NODE_LOAD],
    ...["--port", String(port), "--hold", String(count)],
  ]);
  try {
    const line = await program.nextLine(120_000);
    if (line !== `held ${count}`) throw new Error(`idle-connection holder printed ${JSON.stringify(line)}`);
    return program;
  } catch (err) {
    await program.stop();
    throw err;
  }
}
