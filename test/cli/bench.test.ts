import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { createRpcEchoServer } from "../../src/rpc/index.js";
import { createEchoServer } from "../../src/server/index.js";
import { assertNoOpenSockets, closedPort, echoServer, rawServer, TEST_TIMEOUT } from "../helpers/net.js";
import { type CliResult, runCli, serveCli, startCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

interface BenchJson {
  requests: number;
  errors: number;
  cancelled: number;
  interrupted: boolean;
  rpsPerSecond: { min: number; mean: number; max: number; stdev: number; samples: number };
  histogram: { spacing: "linear" | "log"; bins: { fromMs: number; toMs: number; count: number }[] };
  timeline: { requests: number[]; errors: Record<string, number[]> };
  settings: { durationMs: number | null };
  durationMs: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; min: number; mean: number };
  sockets: { opened: number; reused: number; retries: number };
  errorCodes: Record<string, number>;
  firstError: string | null;
  replicas: { endpoint: string; requests: number; share: number; errors: number; state: string }[] | null;
}

function parseJson({ stdout, stderr }: CliResult): BenchJson {
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, `one JSON line, got: ${stdout}${stderr}`);
  return JSON.parse(lines[0]!) as BenchJson;
}

describe("sockpool bench", () => {
  test("--json prints the fixed fields; sockets opened never exceed --pool", opts, async (t) => {
    const server = await echoServer(t);
    const args = ["bench", server.endpoint, "--requests", "200", "-c", "8", "--pool", "3", "--size", "100", "--json"];
    const result = await runCli(t, args);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.equal(r.requests, 200);
    assert.equal(r.errors, 0);
    assert.ok(r.durationMs > 0 && r.rps > 0);
    for (const k of ["p50", "p90", "p99", "max"] as const) assert.equal(typeof r.latencyMs[k], "number");
    assert.ok(r.latencyMs.p50 <= r.latencyMs.p90 && r.latencyMs.p90 <= r.latencyMs.p99);
    assert.ok(r.latencyMs.p99 <= r.latencyMs.max);
    assert.ok(r.sockets.opened >= 1 && r.sockets.opened <= 3, `opened ${r.sockets.opened}`);
    assert.ok(r.sockets.reused >= 200 - 3, `reused ${r.sockets.reused}`);
    // Ten bars from the fastest to the slowest, holding every successful request.
    assert.equal(r.histogram.bins.length, 10);
    assert.equal(r.histogram.spacing, r.latencyMs.max / r.latencyMs.min >= 10 ? "log" : "linear");
    assert.equal(r.histogram.bins[0]!.fromMs, r.latencyMs.min);
    assert.equal(r.histogram.bins[9]!.toMs, r.latencyMs.max);
    assert.equal(
      r.histogram.bins.reduce((n, b) => n + b.count, 0),
      200,
    );
    assert.deepEqual(r.timeline.requests.length, 1);
    assert.equal(r.rpsPerSecond.samples, 1);
    assert.equal(result.stderr, "", "no progress bar when stderr is piped");
  });

  test("20 requests at concurrency 20 over a pool of 5 take 4 delays and open 5 sockets", opts, async (t) => {
    const server = createEchoServer({ delay: 200 });
    await server.listen({ port: 0 });
    t.after(() => server.close({ timeout: 1000 }));
    const ep = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await runCli(t, ["bench", ep, "--requests", "20", "--concurrency", "20", "--pool", "5", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.equal(r.requests, 20);
    assert.equal(r.errors, 0);
    assert.deepEqual(r.sockets, { opened: 5, reused: 15, retries: 0 }, "the preflight is not counted");
    assert.equal(server.stats().total, 6, "the preflight had a socket of its own");
    assert.ok(r.durationMs >= 4 * 200 - 10, `durationMs ${r.durationMs}`);
    assert.ok(r.latencyMs.max >= 4 * 200 - 10, `max ${r.latencyMs.max}`);
  });

  test("prints a summary table: requests, throughput, percentiles, sockets", opts, async (t) => {
    const server = await echoServer(t);
    const result = await runCli(t, ["bench", server.endpoint, "-n", "50", "-c", "4"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^bench 127\.0\.0\.1:\d+: 50 requests, concurrency 4, 1 KiB each/);
    assert.match(result.stdout, /requests +50 \(0 errors, 0 cancelled\)/);
    assert.match(
      result.stdout,
      /req\/s +min [\d.]+ +mean [\d.]+ +max [\d.]+ +stdev [\d.]+ +\(per second of the run, 1 sample\)/,
    );
    assert.match(result.stdout, /throughput +[\d.]+ req\/s, [\d.]+ MB\/s/);
    assert.match(result.stdout, /latency +p50 [\d.]+ m?s +p90 [\d.]+ m?s +p99 [\d.]+ m?s +max [\d.]+ m?s/);
    assert.match(result.stdout, /sockets +[1-4] opened, \d+ reused \(pool of 4\)/);
    // It ends with a histogram in the manner of hey: ten bars whose counts add up to the requests.
    const [, histogram = ""] = result.stdout.split(/\nLatency histogram(?: \(log-spaced: [^\n]*\))?:\n/);
    const bars = histogram.trimEnd().split("\n");
    assert.equal(bars.length, 10, result.stdout);
    let total = 0;
    for (const bar of bars) {
      const m = /^ +[\d.]+ – +[\d.]+ (?:µs|ms|s) \[(\d+)\] +\|(■*)$/.exec(bar);
      assert.ok(m, bar);
      total += Number(m[1]);
      assert.equal(m[2]!.length > 0, Number(m[1]) > 0, bar);
    }
    assert.equal(total, 50);
    assert.ok(
      bars.some((b) => b.endsWith(`|${"■".repeat(40)}`)),
      "the fullest bar is 40 wide",
    );
  });

  test("a reply that differs from the request counts as an error; exit 1", opts, async (t) => {
    // Echoes the first message it ever gets (the preflight's), then garbles every reply.
    let messages = 0;
    const server = await rawServer(t, (socket) =>
      socket.on("data", (d) => socket.write(messages++ === 0 ? d : Buffer.from(d).fill(0x78))),
    );
    const result = await runCli(t, ["bench", server.endpoint, "-n", "5", "-c", "1", "--size", "16", "--json"]);
    assert.equal(result.code, 1);
    const r = parseJson(result);
    assert.equal(r.requests, 5);
    assert.equal(r.errors, 5);
    assert.deepEqual(r.errorCodes, { ERR_SOCKPOOL_BAD_FRAME: 5 });
    assert.match(r.firstError ?? "", /echo of bench request \d+ differs/);
  });

  test("a one-shot echo server (serve echo --once): no errors, stale reuses retried", opts, async (t) => {
    const server = createEchoServer({ once: true });
    await server.listen({ port: 0 });
    t.after(() => server.close({ timeout: 1000 }));
    const ep = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await runCli(t, ["bench", ep, "-n", "200", "-c", "4", "--pool", "4", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.deepEqual([r.requests, r.errors], [200, 0], JSON.stringify(r));
    assert.ok(r.sockets.opened >= 200, `one socket per answered request, opened ${r.sockets.opened}`);
    assert.equal(typeof r.sockets.retries, "number");
  });

  test("counts each stale-reuse retry in the JSON and the summary", opts, async (t) => {
    // Echoes the first message on a connection, then ends it at the second, unanswered: every
    // reuse of a socket dies before its reply, deterministically, and is retried on a new one.
    const server = await rawServer(t, (socket) => {
      let seen = 0;
      socket.on("data", (d) => (seen++ === 0 ? socket.write(d) : socket.end()));
    });
    const json = parseJson(await runCli(t, ["bench", server.endpoint, "-n", "20", "-c", "1", "-p", "1", "--json"]));
    assert.deepEqual([json.requests, json.errors], [20, 0], JSON.stringify(json));
    assert.equal(json.sockets.retries, 19, "every request after the first found its socket dead");
    const text = await runCli(t, ["bench", server.endpoint, "-n", "20", "-c", "1", "-p", "1"]);
    assert.match(text.stdout, /retries +19 /);
  });

  test("a server that is not there fails once, clearly, before the run", opts, async (t) => {
    const port = await closedPort();
    const result = await runCli(t, ["bench", `127.0.0.1:${port}`, "-n", "100"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_CONNECT: connect to 127\.0\.0\.1:\d+ failed/);
    assert.equal(result.stdout, "");
  });

  test("Ctrl-C stops at once: in-flight requests cancelled, the run marked interrupted, exit 130", opts, async (t) => {
    // Echoes the preflight and the next 20 messages, then holds every message unanswered.
    let messages = 0;
    let held: () => void = () => {};
    const twoHeld = new Promise<void>((resolve) => (held = resolve));
    const server = await rawServer(t, (socket) =>
      socket.on("data", (d) => {
        if (++messages <= 21) socket.write(d);
        else if (messages === 23) held();
      }),
    );
    const args = ["bench", server.endpoint, "-d", "1h", "-c", "2", "-p", "2", "--size", "100", "--json"];
    const cli = startCli(t, args);
    await twoHeld;
    cli.child.kill("SIGINT");
    const result = await cli.exited;
    assert.equal(result.code, 130, result.stderr);
    const r = parseJson(result);
    assert.equal(r.interrupted, true);
    assert.deepEqual([r.requests, r.errors, r.cancelled], [20, 0, 2], JSON.stringify(r));

    // The summary says so too.
    messages = 0;
    const text = startCli(t, args.slice(0, -1));
    await new Promise<void>((resolve) => (held = resolve));
    text.child.kill("SIGINT");
    const summary = await text.exited;
    assert.equal(summary.code, 130, summary.stderr);
    assert.match(
      summary.stdout,
      /\n {2}interrupted +by Ctrl-C after [\d.]+ m?s: the figures cover the run until then\n/,
    );
    assert.match(summary.stdout, /requests +20 \(0 errors, 2 cancelled by Ctrl-C\)/);
  });

  test("Ctrl-C during the preflight: exit 130 at once, saying the run never began", opts, async (t) => {
    const server = await rawServer(t, () => {}); // accepts, never answers
    const cli = startCli(t, ["bench", server.endpoint, "-n", "10", "--timeout", "1h"]);
    await server.nthConnection(1);
    cli.child.kill("SIGINT");
    const result = await cli.exited;
    assert.equal(result.code, 130, result.stderr);
    assert.equal(result.stderr, "bench: interrupted before the run began\n");
    assert.equal(result.stdout, "");
  });

  test(
    "--duration is a deadline: requests waiting or in flight at it are cancelled, not completed",
    opts,
    async (t) => {
      const server = createEchoServer({ delay: 250 });
      await server.listen({ port: 0 });
      t.after(() => server.close({ timeout: 1000 }));
      const ep = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const args = ["bench", ep, "-d", "1s", "-c", "20", "-p", "5", "--timeout", "1h", "--json"];
      const r = parseJson(await runCli(t, args));
      // Every worker has one request waiting for a socket or in flight when the deadline hits,
      // except a worker whose reply was read after the deadline's time but before its timer
      // ran (a loaded machine): it sees the deadline passed and issues nothing more. Only the
      // 5 in flight can be such; the 15 waiting for a socket are always cancelled.
      assert.ok(r.cancelled >= 15 && r.cancelled <= 20, JSON.stringify(r));
      assert.equal(r.errors, 0);
      assert.ok(r.requests >= 5, JSON.stringify(r));
      assert.ok(r.durationMs >= 1000, String(r.durationMs));
      assert.equal(r.sockets.opened, 5, "the preflight's socket is not the run's");
      // Borrows: each completed request and the 5 in flight at the deadline; all but 5 reused a socket.
      assert.equal(r.sockets.reused, r.requests);
    },
  );

  test("--duration against a server that stops answering still ends at the deadline", opts, async (t) => {
    // Echoes the preflight, then never answers again: without the deadline this run would last an hour.
    let messages = 0;
    const server = await rawServer(t, (socket) => socket.on("data", (d) => messages++ === 0 && socket.write(d)));
    const args = ["bench", server.endpoint, "-d", "300ms", "-c", "4", "-p", "2", "--timeout", "1h", "--json"];
    const result = await runCli(t, args);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.deepEqual([r.requests, r.errors, r.cancelled, r.interrupted], [0, 0, 4, false], JSON.stringify(r));
    assert.deepEqual(r.timeline, { requests: [0], errors: {} });
  });

  test("a bare --duration is seconds, as autocannon reads it", opts, async (t) => {
    const server = await echoServer(t);
    const result = await runCli(t, ["bench", server.endpoint, "-d", "0.3", "-c", "2", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.equal(r.settings.durationMs, 300);
    assert.ok(r.durationMs >= 300, String(r.durationMs));
  });

  test(
    "the preflight fails fast with a plain message against a server that does not echo (serve ack)",
    opts,
    async (t) => {
      const { port } = await serveCli(t, ["ack"]);
      const result = await runCli(t, ["bench", `127.0.0.1:${port}`, "-n", "100"]);
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr,
        `ERR_SOCKPOOL_INVALID_ARGUMENT: 127.0.0.1:${port} did not echo a 1 KiB message within 2 s; ` +
          'sockpool bench needs an echo server (it answered "Message received\\n")\n',
      );
      assert.equal(result.stdout, "");
    },
  );

  test("the preflight gives a silent server --timeout to answer, then says it answered nothing", opts, async (t) => {
    const server = await rawServer(t, () => {});
    const result = await runCli(t, ["bench", server.endpoint, "-n", "5", "--size", "16", "--timeout", "150ms"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^ERR_SOCKPOOL_INVALID_ARGUMENT: 127\.0\.0\.1:\d+ did not echo a 16 B message within 150 ms; .*\(it answered nothing\)\n$/,
    );
  });

  test("--duration runs for about that long", opts, async (t) => {
    const server = await echoServer(t);
    const result = await runCli(t, ["bench", server.endpoint, "--duration", "300ms", "-c", "2", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.ok(r.durationMs >= 300, String(r.durationMs));
    assert.ok(r.requests > 0 && r.errors === 0);
  });

  test("--rpc multiplexes requests over at most --pool sockets of an rpc-echo server", opts, async (t) => {
    const server = createRpcEchoServer({ delay: 100 });
    await server.listen({ port: 0 });
    t.after(() => server.close({ timeout: 1000 }));
    const ep = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await runCli(t, ["bench", ep, "--rpc", "-n", "100", "-c", "50", "--pool", "2", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.equal(r.requests, 100);
    assert.equal(r.errors, 0);
    assert.ok(r.sockets.opened >= 1 && r.sockets.opened <= 2, `opened ${r.sockets.opened}`);
    // 50 in flight at once over ≤ 2 sockets: 100 requests take about 2 delays, not 50.
    assert.ok(r.latencyMs.p50 >= 100 && r.durationMs >= 200, JSON.stringify(r.latencyMs));
    assert.ok(server.stats().total <= 3, "the preflight's own socket, then at most --pool");
  });

  test("bad flags: exit 1, naming the flag and value", opts, async (t) => {
    const cases: [string[], RegExp][] = [
      [["-n", "5", "--duration", "1s"], /--requests and --duration exclude each other/],
      [["--size", "1XB"], /--size: expected a size .*got "1XB"/],
      [["--concurrency", "0"], /--concurrency: expected a whole number ≥ 1, got "0"/],
      [["--rate", "fast"], /--rate: expected .*got "fast"/],
      [["--bogus"], /unknown option --bogus; see "sockpool bench --help"/],
      [["--pool"], /option --pool needs a value/],
      [["-d", "0s"], /--duration: must be positive, got "0s"/],
      [["--duration", "-2"], /--duration: must be positive, got "-2"/],
      [["--timeout", "-5"], /--timeout: must be positive, got "-5"/],
      [["-c", "-1"], /--concurrency: must be positive, got "-1"/],
      [["--size", "65MiB"], /--size: expected a size .*at most 64 MiB, got "65MiB"/],
      [["--ca", "ca.pem"], /--ca applies to tls:\/\/ targets only, not "127\.0\.0\.1:1"/],
    ];
    const results = await Promise.all(cases.map(([flags]) => runCli(t, ["bench", "127.0.0.1:1", ...flags])));
    for (const [i, [flags, message]] of cases.entries()) {
      const result = results[i]!;
      assert.equal(result.code, 1, flags.join(" "));
      assert.match(result.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: /);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.split("\n").length, 2, "one line");
    }
  });

  test("a service target: --json and the summary show each replica's share and errors", opts, async (t) => {
    const servers = await Promise.all([echoServer(t), echoServer(t), echoServer(t)]);
    const dead = `127.0.0.1:${await closedPort()}`;
    const target = [...servers.map((s) => s.endpoint), dead].join(",");
    const result = await runCli(t, ["bench", target, "-n", "300", "-c", "6", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.deepEqual([r.requests, r.errors], [300, 0], "the dead replica cost no request");
    const replicas = r.replicas ?? [];
    assert.deepEqual(replicas.map((x) => x.endpoint).sort(), target.split(",").sort());
    for (const s of servers) {
      const share = replicas.find((x) => x.endpoint === s.endpoint);
      assert.ok(share !== undefined && share.share > 0.2 && share.errors === 0, JSON.stringify(share));
    }
    const down = replicas.find((x) => x.endpoint === dead);
    assert.deepEqual([down?.requests, down?.share, down?.state], [0, 0, "ejected"]);
    assert.ok((down?.errors ?? 0) >= 5);
    const sum = replicas.reduce((total, x) => total + x.share, 0);
    assert.ok(Math.abs(sum - 1) < 0.001, String(sum));

    const text = await runCli(t, ["bench", target, "-n", "60", "-c", "3"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /replicas +\s*[\d.]+% {2}127\.0\.0\.1:\d+ {2}\d+ requests, 0 errors/);
    assert.ok(text.stdout.includes(`0.0%  ${dead}  0 requests,`), text.stdout);
    assert.match(text.stdout, /0 requests, \d+ errors, ejected \(ejections: 1\)/);
  });

  test("--rpc with a service target: exit 1, one endpoint only", opts, async (t) => {
    const result = await runCli(t, ["bench", "127.0.0.1:1,127.0.0.1:2", "--rpc", "-n", "1"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: --rpc takes one endpoint/);
  });
});
