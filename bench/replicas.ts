/**
 * A replica dies mid-run. `sockpool bench`'s own request path (socketTarget: SocketPool.use
 * with retryOnStale, a stamped 1 KiB echo checked byte for byte, under a closed-loop
 * LoadRun) against a service of three echo replicas, each its own process. In the "kill"
 * runs the middle replica is killed (SIGKILL) halfway; the "steady" runs, interleaved with
 * them, keep all three and are the baseline. Reported, medians of `--repeats`:
 *
 * - failed requests (the target for idempotent echoes is 0);
 * - p99 latency before the kill, during (from the kill until the dead replica got its last
 *   traffic: a borrow or a dial attempt) and after, each beside the steady runs' p99 over
 *   the same stretch of the run;
 * - how long after the kill the dead replica still got traffic, and when it was ejected;
 * - each replica's share of the borrows.
 *
 *   node dist/bench/replicas.js [--seconds 6] [--concurrency 12] [--repeats 3]
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { LoadRun } from "../src/cli/load.js";
import { type ReplicaShare, socketTarget } from "../src/cli/targets.js";
import { connect, type ReplicaEvent } from "../src/index.js";
import { runEchoChild } from "./lib/echo-child.js";
import { arg, fmt, median, table } from "./lib/stats.js";

const SECONDS = arg("seconds", 6);
const CONCURRENCY = arg("concurrency", 12);
const REPEATS = arg("repeats", 3);
const SIZE = 1024;

interface Replica {
  child: ChildProcess;
  endpoint: string;
}

async function startReplica(): Promise<Replica> {
  const child = fork(fileURLToPath(import.meta.url), ["--child"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [port] = (await once(child, "message")) as [number];
  return { child, endpoint: `127.0.0.1:${port}` };
}

async function stop(r: Replica): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = once(r.child, "exit");
  r.child.kill("SIGKILL");
  await exited;
}

/** What one run measured; times are ms since the run started. */
interface RunResult {
  requests: number;
  errors: number;
  /** [start, latency] of each successful request. */
  samples: [number, number][];
  killAt: number;
  /** The dead replica's last borrow or dial attempt, and its ejection. */
  lastTraffic: number;
  ejectedAt: number;
  shares: ReplicaShare[];
}

async function run(kill: boolean): Promise<RunResult> {
  const replicas = await Promise.all([startReplica(), startReplica(), startReplica()]);
  const victim = replicas[1] as Replica;
  let t0 = performance.now();
  let lastTraffic = Number.NaN;
  let ejectedAt = Number.NaN;
  const target = socketTarget({
    target: replicas.map((r) => r.endpoint).join(","),
    pool: CONCURRENCY,
    size: SIZE,
    timeout: 10_000,
    poolOptions: {
      dial: (endpoint, options) => {
        if (endpoint.key === victim.endpoint) lastTraffic = performance.now() - t0;
        return connect(endpoint, options);
      },
    },
  });
  target.pool.on("acquire", (_conn: unknown, key: string) => {
    if (key === victim.endpoint) lastTraffic = performance.now() - t0;
  });
  target.pool.on("eject", (e: ReplicaEvent) => {
    if (e.endpoint === victim.endpoint && Number.isNaN(ejectedAt)) ejectedAt = performance.now() - t0;
  });
  const samples: [number, number][] = [];
  const request = async (seq: number, signal: AbortSignal) => {
    const start = performance.now();
    const bytes = await target.request(seq, signal);
    samples.push([start - t0, performance.now() - start]);
    return bytes;
  };
  await target.preflight();
  const load = new LoadRun({ concurrency: CONCURRENCY, duration: SECONDS * 1000 }, request);
  t0 = performance.now();
  let killAt = Number.NaN;
  const timer = setTimeout(
    () => {
      if (!kill) return;
      killAt = performance.now() - t0;
      victim.child.kill("SIGKILL");
    },
    (SECONDS * 1000) / 2,
  );
  const result = await load.run();
  clearTimeout(timer);
  const shares = target.replicas() ?? [];
  await target.close();
  await Promise.all(replicas.map(stop));
  return { requests: result.requests, errors: result.errors, samples, killAt, lastTraffic, ejectedAt, shares };
}

const PHASES = ["before", "during", "after"] as const;

/**
 * Where a phase of a kill run lies (ms since its start): before the kill; from the kill to
 * the dead replica's last traffic; after that.
 */
function windowOf(k: RunResult, phase: (typeof PHASES)[number]): [number, number] {
  const end = Math.max(k.killAt + 1, k.lastTraffic);
  if (phase === "before") return [0, k.killAt];
  return phase === "during" ? [k.killAt, end] : [end, Number.POSITIVE_INFINITY];
}

/** The p99 (ms) of the latencies of requests that started in the window, and how many. */
function p99(samples: [number, number][], [from, to]: [number, number]): { p99: number; n: number } {
  const window = samples
    .filter(([start]) => start >= from && start < to)
    .map(([, ms]) => ms)
    .sort((a, b) => a - b);
  if (window.length === 0) return { p99: Number.NaN, n: 0 };
  return { p99: window[Math.min(window.length - 1, Math.floor(window.length * 0.99))] as number, n: window.length };
}

async function main(): Promise<void> {
  const killed: RunResult[] = [];
  const steady: RunResult[] = [];
  for (let i = 0; i < REPEATS; i++) {
    steady.push(await run(false));
    killed.push(await run(true));
  }
  console.log(
    `\nThree echo replicas (one process each), ${CONCURRENCY} requests in flight, ${SECONDS} s per run, ` +
      `1 KiB echoes via sockpool bench's request path; the middle replica is killed at ${SECONDS / 2} s ` +
      `in the kill runs. Medians of ${REPEATS} kill runs, each beside a steady run over the same stretch.\n`,
  );
  const rows = PHASES.map((phase) => {
    const ours = killed.map((k) => p99(k.samples, windowOf(k, phase)));
    const base = steady.map((s, i) => p99(s.samples, windowOf(killed[i] as RunResult, phase)));
    const mine = median(ours.map((x) => x.p99));
    const theirs = median(base.map((x) => x.p99));
    return [phase, median(ours.map((x) => x.n)), fmt(mine, 2), fmt(theirs, 2), `${fmt(mine / theirs, 2)}×`];
  });
  table(["phase", "requests", "p99 ms (kill)", "p99 ms (steady)", "kill / steady"], rows);
  console.log("");
  table(
    ["run", "requests", "failed", "dead replica's last traffic after the kill", "ejected after the kill"],
    killed.map((k, i) => [
      i + 1,
      k.requests,
      k.errors,
      `${fmt(k.lastTraffic - k.killAt, 1)} ms`,
      `${fmt(k.ejectedAt - k.killAt, 1)} ms`,
    ]),
  );
  const steadyErrors = steady.reduce((n, s) => n + s.errors, 0);
  console.log(`\nsteady runs: ${steady.map((s) => s.requests).join(", ")} requests, ${steadyErrors} failed`);
  console.log("\nShares of borrows, last kill run:\n");
  const last = killed[killed.length - 1] as RunResult;
  table(
    ["replica", "borrows", "share", "failed attempts", "state", "ejections"],
    last.shares.map((s) => [s.endpoint, s.requests, `${fmt(s.share * 100, 1)}%`, s.errors, s.state, s.ejections]),
  );
}

if (process.argv.includes("--child")) runEchoChild();
else await main();
