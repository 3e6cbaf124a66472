import { writeFileSync } from "node:fs";
import { type BenchSettings, benchSettings, MAX_SIZE } from "../bench-settings.js";
import { type Command, type CommandContext, EXIT } from "../command.js";
import { formatBytes, formatMs, formatRate } from "../format.js";
import { onInterrupt } from "../interrupt.js";
import { type LoadResult, LoadRun } from "../load.js";
import { ProgressBar, type ProgressStream } from "../progress.js";
import { benchReport } from "../report/bench-report.js";
import { renderHtmlReport } from "../report/html.js";
import { renderSummary } from "../report/summary.js";
import { type BenchTarget, rpcTarget, socketTarget } from "../targets.js";

export { type BenchSettings, benchSettings } from "../bench-settings.js";
export { benchReport } from "../report/bench-report.js";

/**
 * `sockpool bench TARGET`: a closed-loop load test through a SocketPool. Each request
 * writes `--size` bytes (ending in a newline, so line servers answer too), reads the same
 * number back and checks they match. TARGET is one endpoint or a service of replicas.
 */
export const benchCommand: Command = {
  name: "bench",
  summary: "load-test an echo server through the pool: throughput, latency percentiles",
  usage: [
    "bench HOST:PORT | tls://HOST:PORT | unix:/PATH [--requests N | --duration 10s] [-c C] [-p K] [--json] [--html FILE]",
    "bench A,B,C | srv:_SERVICE._tcp.NAME | dns:HOST:PORT [--resolver IP:PORT] [same options]",
  ],
  description:
    "Runs C requests at a time through a pool of at most K sockets. Each request writes SIZE\n" +
    "bytes (the last one a newline), reads SIZE bytes back and checks they are the same, so\n" +
    "the server must echo. Latency runs from asking the pool for a socket to the last byte\n" +
    "back, so it includes waiting for a socket; latency and throughput count successful\n" +
    "requests. Without --requests or --duration, runs for 10s. --duration is a deadline: at\n" +
    "it, requests still waiting for a socket or in flight are cancelled and counted as\n" +
    "cancelled, neither completed nor failed. A progress bar is drawn on stderr when it is a\n" +
    "terminal. Ctrl-C stops at once (cancelling what is in flight), prints the summary marked\n" +
    'interrupted (--json: "interrupted": true) and exits 130. Before the run, one request on\n' +
    "a socket of its own checks that the server echoes (within 2 s, or --timeout when given);\n" +
    "it is left out of the figures. The summary ends with a latency histogram; --html FILE\n" +
    "also writes a report to open in a browser (offline: charts are inline SVG). With\n" +
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
    duration: {
      type: "string",
      short: "d",
      value: "DURATION",
      help: "run for this long, then cancel what is in flight (default 10s; a bare number is seconds)",
    },
    concurrency: { type: "string", short: "c", value: "C", help: "requests in flight at once (default 10)" },
    pool: { type: "string", short: "p", value: "K", help: "most sockets the pool opens, per replica (default: C)" },
    size: {
      type: "string",
      short: "s",
      value: "SIZE",
      help: `bytes per request and per reply (default 1KiB, at most ${formatBytes(MAX_SIZE)})`,
    },
    rate: { type: "string", short: "r", value: "R", help: "start at most R requests per second in all" },
    timeout: {
      type: "string",
      value: "DURATION",
      help: "per connect, acquire, write and read (default 10s; 0: no timeout)",
    },
    ca: { type: "string", value: "FILE", help: "trust the PEM certificates in FILE for tls:// (a private CA)" },
    json: { type: "boolean", help: "print one JSON object instead of the table" },
    html: { type: "string", value: "FILE", help: "also write a self-contained HTML report with charts to FILE" },
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
    "sockpool bench 127.0.0.1:3000 -d 30 -c 50 --html report.html",
    "sockpool bench tls://127.0.0.1:3443 --ca ca.pem -n 1000",
    "sockpool bench unix:/tmp/echo.sock -d 5s",
    "sockpool bench 127.0.0.1:4000 --rpc -c 200 --pool 2   # against serve rpc-echo",
    "sockpool bench 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 -d 10s -c 12",
    "sockpool bench srv:_echo._tcp.service.consul --resolver 127.0.0.1:8600 -n 10000",
  ],
  run: bench,
};

async function bench({ values, positionals, io }: CommandContext): Promise<number> {
  const s = benchSettings(values, positionals[0]!);
  const target = s.rpc ? rpcTarget(s) : socketTarget(s);
  const ctrlC = new AbortController();
  let run: LoadRun | undefined;
  const removeInterrupt = onInterrupt(() => {
    ctrlC.abort();
    run?.interrupt();
  });
  try {
    if (!(await preflight(target, s, ctrlC.signal, io.stderr))) return EXIT.interrupted;
    run = new LoadRun(s, target.request);
    if (ctrlC.signal.aborted) run.interrupt();
    const result = await withProgress(run, io.stderr, s.requests);
    const report = benchReport(s, result, target.sockets(), target.replicas());
    if (s.html !== undefined) writeFileSync(s.html, renderHtmlReport(s, report, result));
    io.stdout.write(s.json ? `${JSON.stringify(report)}\n` : renderSummary(s, report, s.html));
    if (result.interrupted) return EXIT.interrupted;
    return result.errors === 0 ? EXIT.ok : EXIT.error;
  } finally {
    removeInterrupt();
    await target.close();
  }
}

/** The preflight, stoppable by Ctrl-C: resolves false (after saying so) when interrupted. */
async function preflight(
  target: BenchTarget,
  s: BenchSettings,
  signal: AbortSignal,
  stderr: { write(text: string): unknown },
): Promise<boolean> {
  try {
    await target.preflight(s.preflightWindow, signal);
    return true;
  } catch (err) {
    if (!signal.aborted) throw err;
    stderr.write("bench: interrupted before the run began\n");
    return false;
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
