import { InvalidArgumentError, parseTarget, type ServiceResolver } from "../../index.js";
import { type Command, type CommandContext, EXIT, type FlagValues, str } from "../command.js";
import { formatBytes, formatMs, formatRate, table } from "../format.js";
import { onInterrupt } from "../interrupt.js";
import { type LoadPlan, type LoadResult, LoadRun } from "../load.js";
import { parseCount, parseDuration, parseRate, parseResolver, parseSize } from "../parse.js";
import { ProgressBar, type ProgressStream } from "../progress.js";
import { type ReplicaShare, rpcTarget, type SocketCounts, socketTarget } from "../targets.js";

/** Everything `bench` was asked to do, parsed. */
export interface BenchSettings extends LoadPlan {
  /** The target as given: one endpoint, or a service (`A,B,C`, `srv:NAME`, `dns:HOST:PORT`). */
  target: string;
  /** Its key: the endpoint's, or the service's. */
  key: string;
  resolver: ServiceResolver | undefined;
  pool: number;
  size: number;
  timeout: number;
  json: boolean;
  rpc: boolean;
}

/**
 * `sockpool bench TARGET`: a closed-loop load test through a SocketPool. Each request
 * writes `--size` bytes (ending in a newline, so line servers answer too), reads the same
 * number back and checks they match. TARGET is one endpoint or a service of replicas.
 */
export const benchCommand: Command = {
  name: "bench",
  summary: "load-test an echo server through the pool: throughput, latency percentiles",
  usage: [
    "bench HOST:PORT [--requests N | --duration 10s] [--concurrency C] [--pool K] [--size 1KiB] [--json]",
    "bench A,B,C | srv:_SERVICE._tcp.NAME | dns:HOST:PORT [--resolver IP:PORT] [same options]",
  ],
  description:
    "Runs C requests at a time through a pool of at most K sockets. Each request writes SIZE\n" +
    "bytes (the last one a newline), reads SIZE bytes back and checks they are the same, so\n" +
    "the server must echo. Latency runs from asking the pool for a socket to the last byte\n" +
    "back, so it includes waiting for a socket; latency and throughput count successful\n" +
    "requests. Without --requests or --duration, runs for 10s. A progress bar is drawn on\n" +
    "stderr when it is a terminal. Ctrl-C stops early and still prints the summary. With\n" +
    "--rpc, requests are RPC frames multiplexed over at most K sockets (a ChannelPool);\n" +
    "sockets.reused then counts requests that rode an open one. An echo is idempotent, so a\n" +
    "request whose reused socket turns out dead before any reply byte (a server that closed\n" +
    "it meanwhile) runs once more on a new socket; sockets.retries counts those reruns.\n\n" +
    "A service target spreads the load over its replicas (least busy of two, SRV weights),\n" +
    "moves requests off a replica that fails and ejects it; the summary and --json then\n" +
    "show each replica's share of the requests and its errors (failed attempts there).\n" +
    "--pool K bounds the sockets of each replica.",
  options: {
    requests: { type: "string", short: "n", value: "N", help: "complete N requests, then stop" },
    duration: { type: "string", short: "d", value: "DURATION", help: "start requests for this long (default 10s)" },
    concurrency: { type: "string", short: "c", value: "C", help: "requests in flight at once (default 10)" },
    pool: { type: "string", short: "p", value: "K", help: "most sockets the pool opens, per replica (default: C)" },
    size: { type: "string", short: "s", value: "SIZE", help: "bytes per request and per reply (default 1KiB)" },
    rate: { type: "string", short: "r", value: "R", help: "start at most R requests per second in all" },
    timeout: { type: "string", value: "DURATION", help: "per connect, acquire and read (default 10s)" },
    json: { type: "boolean", help: "print one JSON object instead of the table" },
    rpc: { type: "boolean", help: "speak the RPC protocol (serve rpc-echo): many requests per socket" },
    resolver: {
      type: "string",
      value: "IP:PORT",
      help: "DNS server for srv: and dns: targets (default: the system's)",
    },
  },
  positionals: { min: 1, max: 1 },
  examples: [
    "sockpool bench 127.0.0.1:3000 --requests 20 --concurrency 20 --pool 5",
    "sockpool bench 127.0.0.1:3000 --duration 30s -c 64 --size 16KiB",
    "sockpool bench 127.0.0.1:3000 -n 10000 --rate 500 --json | jq .latencyMs",
    "sockpool bench 127.0.0.1:4000 --rpc -c 200 --pool 2   # against serve rpc-echo",
    "sockpool bench 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 -d 10s -c 12",
    "sockpool bench srv:_echo._tcp.service.consul --resolver 127.0.0.1:8600 -n 10000",
  ],
  run: bench,
};

/** Parses and cross-checks `bench` flags; throws InvalidArgumentError naming the flag. */
export function benchSettings(values: FlagValues, target: string): BenchSettings {
  const requests = str(values, "requests");
  const duration = str(values, "duration");
  if (requests !== undefined && duration !== undefined) {
    throw new InvalidArgumentError("--requests and --duration exclude each other; give one");
  }
  const concurrency = parseCount("--concurrency", str(values, "concurrency") ?? "10");
  const pool = str(values, "pool");
  const rate = str(values, "rate");
  const resolver = str(values, "resolver");
  return {
    target,
    key: parseTarget(target).key,
    resolver: resolver === undefined ? undefined : parseResolver("--resolver", resolver),
    requests: requests === undefined ? undefined : parseCount("--requests", requests),
    duration: requests === undefined ? parseDuration("--duration", duration ?? "10s") : undefined,
    concurrency,
    pool: pool === undefined ? concurrency : parseCount("--pool", pool),
    size: parseSize("--size", str(values, "size") ?? "1KiB"),
    rate: rate === undefined ? undefined : parseRate("--rate", rate),
    timeout: parseDuration("--timeout", str(values, "timeout") ?? "10s"),
    json: values.json === true,
    rpc: values.rpc === true,
  };
}

async function bench({ values, positionals, io }: CommandContext): Promise<number> {
  const s = benchSettings(values, positionals[0]!);
  const target = s.rpc ? rpcTarget(s) : socketTarget(s);
  let run: LoadRun | undefined;
  const removeInterrupt = onInterrupt(() => run?.stop());
  try {
    await target.preflight();
    run = new LoadRun(s, target.request);
    const result = await withProgress(run, io.stderr, s.requests);
    const report = benchReport(s, result, target.sockets(), target.replicas());
    io.stdout.write(s.json ? `${JSON.stringify(report)}\n` : renderBenchReport(s, report, result));
    return result.errors === 0 ? EXIT.ok : EXIT.error;
  } finally {
    removeInterrupt();
    await target.close();
  }
}

async function withProgress(run: LoadRun, stream: ProgressStream, total: number | undefined): Promise<LoadResult> {
  const bar = new ProgressBar(stream, "bench");
  bar.start(() => ({
    fraction: run.fraction,
    detail:
      `${run.done}${total === undefined ? "" : `/${total}`} req  ${run.errors} err  ` +
      `${formatRate(run.elapsed > 0 ? (run.done * 1000) / run.elapsed : 0)} req/s  ${formatMs(run.elapsed)}`,
  }));
  try {
    return await run.run();
  } finally {
    bar.stop();
  }
}

/**
 * The `--json` object; its first six fields are fixed (other tools read them). `requests`
 * counts every completed request, `errors` the failed ones among them; `rps`, `bytesPerSec`
 * and `latencyMs` cover successful requests only. `replicas` (a service target only; else
 * null): each replica's borrows, share of them, failed attempts, state and ejections.
 */
export function benchReport(
  s: BenchSettings,
  r: LoadResult,
  sockets: SocketCounts,
  replicas: ReplicaShare[] | undefined = undefined,
) {
  const { count: _count, ...latencyMs } = r.latency.summary();
  const seconds = r.durationMs / 1000;
  return {
    requests: r.requests,
    errors: r.errors,
    durationMs: Math.round(r.durationMs * 1000) / 1000,
    rps: seconds > 0 ? Math.round(((r.requests - r.errors) / seconds) * 100) / 100 : 0,
    latencyMs,
    sockets,
    bytesPerSec: seconds > 0 ? Math.round(r.bytes / seconds) : 0,
    errorCodes: r.errorCodes,
    firstError: r.firstError
      ? `${(r.firstError as { code?: string }).code ?? r.firstError.name}: ${r.firstError.message}`
      : null,
    replicas: replicas ?? null,
    settings: {
      endpoint: s.key,
      concurrency: s.concurrency,
      pool: s.pool,
      size: s.size,
      requests: s.requests ?? null,
      durationMs: s.duration ?? null,
      rate: s.rate ?? null,
      protocol: s.rpc ? "rpc" : "echo",
    },
  };
}

type BenchReport = ReturnType<typeof benchReport>;

function renderBenchReport(s: BenchSettings, report: BenchReport, r: LoadResult): string {
  const l = report.latencyMs;
  const errors = Object.entries(report.errorCodes).map(([code, n]) => `${code} × ${n}`);
  const rows: [string, string][] = [
    ["requests", `${report.requests} (${report.errors} errors${errors.length ? `: ${errors.join(", ")}` : ""})`],
    ["duration", formatMs(r.durationMs)],
    ["throughput", `${formatRate(report.rps)} req/s, ${formatRate(report.bytesPerSec / 1e6)} MB/s`],
    ["latency", `p50 ${formatMs(l.p50)}   p90 ${formatMs(l.p90)}   p99 ${formatMs(l.p99)}   max ${formatMs(l.max)}`],
    ["sockets", `${report.sockets.opened} opened, ${report.sockets.reused} reused (pool of ${s.pool})`],
    ["retries", `${report.sockets.retries} (requests rerun on a fresh socket after a reused one died unseen)`],
  ];
  if (report.firstError) rows.push(["first error", report.firstError]);
  for (const [i, r] of (report.replicas ?? []).entries()) {
    const state = r.state === "active" ? "" : `, ${r.state}`;
    const ejections = r.ejections === 0 ? "" : ` (ejections: ${r.ejections})`;
    const share = `${(r.share * 100).toFixed(1).padStart(5)}%`;
    const line = `${share}  ${r.endpoint}  ${r.requests} requests, ${r.errors} errors${state}${ejections}`;
    rows.push([i === 0 ? "replicas" : "", line]);
  }
  const plan = s.requests === undefined ? `for ${formatMs(s.duration ?? 0)}` : `${s.requests} requests`;
  const rate = s.rate === undefined ? "" : `, at most ${s.rate}/s`;
  const head = `bench ${s.key}${s.rpc ? " (rpc)" : ""}: ${plan}, concurrency ${s.concurrency}, ${formatBytes(s.size)} each${rate}`;
  return `${head}\n\n${table(rows)}\n`;
}
