/**
 * The interleaved throughput runs of bench/server. Each round runs every server on every
 * cell (message size × connections) once; within a cell the servers take turns, in an order
 * that rotates by one place each round, so no server is always first or last after another.
 * Every run starts a fresh server process, so a run's state (a slow mode, a cold JIT) shows
 * up as spread between runs rather than leaking into the next.
 */
import { percent, rotate } from "../lib/stats.js";
import { type LoadGenerator, runLoad } from "./load-runner.js";
import type { ServerSpec } from "./peers.js";
import { waitForQuiet } from "./quiet.js";
import { RunningServer } from "./running-server.js";

export interface Cell {
  size: number;
  conns: number;
}

/** One run of one server on one cell. CPU shares are fractions of one core over the window. */
export interface RunSample {
  rps: number;
  p50: number;
  p99: number;
  /** Server CPU time per request answered, in µs. */
  cpuPerRequestUs: number;
  serverCpuShare: number;
  loadCpuShare: number;
  /** Everything else the machine's CPUs did in the window: neighbours' work, this orchestrator. */
  otherCpuShare: number;
}

export interface ThroughputPlan {
  servers: ServerSpec[];
  cells: Cell[];
  repeats: number;
  warmupMs: number;
  windowMs: number;
  /** The longest wait for a quiet machine before each run, in ms (0: none). */
  quietWaitMs: number;
  generator: LoadGenerator;
  serverPin: string[];
}

/** Samples by cell, then by server id; failed runs leave no sample (and say why on stderr). */
export type ThroughputSamples = Map<Cell, Map<string, RunSample[]>>;

/** Time spent waiting for a quiet machine, and how many runs started without one. */
export interface QuietWaits {
  waitedMs: number;
  notQuiet: number;
}

export function cellLabel(cell: Cell): string {
  const size = cell.size % 1024 === 0 ? `${cell.size / 1024} KiB` : `${cell.size} B`;
  return `${size} @${cell.conns}`;
}

export async function measureThroughput(
  plan: ThroughputPlan,
): Promise<{ samples: ThroughputSamples; waits: QuietWaits }> {
  const samples: ThroughputSamples = new Map(plan.cells.map((cell) => [cell, new Map()]));
  const waits: QuietWaits = { waitedMs: 0, notQuiet: 0 };
  for (let round = 0; round < plan.repeats; round++) {
    for (const cell of plan.cells) {
      for (const spec of rotate(plan.servers, round)) {
        const where = `[round ${round + 1}/${plan.repeats}, ${cellLabel(cell)}] ${spec.name}`;
        try {
          await waitForQuietBefore(where, plan.quietWaitMs, waits);
          const sample = await runOnce(plan, spec, cell);
          const byServer = samples.get(cell) as Map<string, RunSample[]>;
          byServer.set(spec.id, [...(byServer.get(spec.id) ?? []), sample]);
          const cpu = `server CPU ${percent(sample.serverCpuShare)}, load ${percent(sample.loadCpuShare)}`;
          console.error(`${where}: ${Math.round(sample.rps)} req/s, ${cpu}, other ${percent(sample.otherCpuShare)}`);
        } catch (err) {
          console.error(`${where} FAILED: ${(err as Error).message}`);
        }
      }
    }
  }
  return { samples, waits };
}

async function waitForQuietBefore(where: string, maxMs: number, waits: QuietWaits): Promise<void> {
  if (maxMs <= 0) return;
  const { waitedMs, quiet } = await waitForQuiet(maxMs);
  waits.waitedMs += waitedMs;
  if (!quiet) waits.notQuiet++;
  if (waitedMs > 0) console.error(`${where}: waited ${waitedMs} ms for quiet${quiet ? "" : " in vain"}`);
}

async function runOnce(plan: ThroughputPlan, spec: ServerSpec, cell: Cell): Promise<RunSample> {
  const server = await RunningServer.start(spec, plan.serverPin);
  try {
    const result = await runLoad(plan.generator, {
      port: server.port,
      serverPid: server.pid,
      conns: cell.conns,
      size: cell.size,
      warmupMs: plan.warmupMs,
      windowMs: plan.windowMs,
    });
    const windowUs = result.seconds * 1e6;
    const known = result.serverCpuUs >= 0 && result.busyCpuUs >= 0;
    const otherUs = known ? result.busyCpuUs - result.serverCpuUs - result.loadCpuUs : Number.NaN;
    return {
      rps: result.rps,
      p50: result.p50,
      p99: result.p99,
      cpuPerRequestUs: result.serverCpuUs < 0 ? Number.NaN : result.serverCpuUs / result.requests,
      serverCpuShare: result.serverCpuUs < 0 ? Number.NaN : result.serverCpuUs / windowUs,
      loadCpuShare: result.loadCpuUs / windowUs,
      otherCpuShare: Math.max(0, otherUs) / windowUs,
    };
  } finally {
    await server.stop();
  }
}
