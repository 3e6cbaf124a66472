import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { createRpcEchoServer } from "../../src/rpc/index.js";
import { createEchoServer } from "../../src/server/index.js";
import { assertNoOpenSockets, closedPort, echoServer, rawServer, TEST_TIMEOUT } from "../helpers/net.js";
import { type CliResult, runCli, startCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

interface BenchJson {
  requests: number;
  errors: number;
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
    assert.equal(r.sockets.opened, 5);
    assert.ok(r.durationMs >= 4 * 200 - 10, `durationMs ${r.durationMs}`);
    assert.ok(r.latencyMs.max >= 4 * 200 - 10, `max ${r.latencyMs.max}`);
  });

  test("prints a summary table: requests, throughput, percentiles, sockets", opts, async (t) => {
    const server = await echoServer(t);
    const result = await runCli(t, ["bench", server.endpoint, "-n", "50", "-c", "4"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^bench 127\.0\.0\.1:\d+: 50 requests, concurrency 4, 1 KiB each/);
    assert.match(result.stdout, /requests +50 \(0 errors\)/);
    assert.match(result.stdout, /throughput +[\d.]+ req\/s, [\d.]+ MB\/s/);
    assert.match(result.stdout, /latency +p50 [\d.]+ m?s +p90 [\d.]+ m?s +p99 [\d.]+ m?s +max [\d.]+ m?s/);
    assert.match(result.stdout, /sockets +[1-4] opened, \d+ reused \(pool of 4\)/);
  });

  test("a reply that differs from the request counts as an error; exit 1", opts, async (t) => {
    const server = await rawServer(t, (socket) => socket.on("data", (d) => socket.write(Buffer.from(d).fill(0x78))));
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

  test("Ctrl-C stops a long run early and still prints the report, exit 0", opts, async (t) => {
    const server = await echoServer(t);
    const cli = startCli(t, ["bench", server.endpoint, "--duration", "1h", "-c", "2", "--pool", "2", "--json"]);
    await server.nthConnection(2); // the preflight socket, then the run's second one
    cli.child.kill("SIGINT");
    const result = await cli.exited;
    assert.equal(result.code, 0, result.stderr);
    const r = parseJson(result);
    assert.ok(r.requests > 0 && r.errors === 0, JSON.stringify(r));
    assert.ok(r.durationMs < 3_600_000);
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
    assert.ok(server.stats().total <= 2);
  });

  test("bad flags: exit 1, naming the flag and value", opts, async (t) => {
    const cases: [string[], RegExp][] = [
      [["-n", "5", "--duration", "1s"], /--requests and --duration exclude each other/],
      [["--size", "1XB"], /--size: expected a size .*got "1XB"/],
      [["--concurrency", "0"], /--concurrency: expected a whole number ≥ 1, got "0"/],
      [["--rate", "fast"], /--rate: expected .*got "fast"/],
      [["--bogus"], /unknown option --bogus; see "sockpool bench --help"/],
      [["--pool"], /option --pool needs a value/],
    ];
    for (const [flags, message] of cases) {
      const result = await runCli(t, ["bench", "127.0.0.1:1", ...flags]);
      assert.equal(result.code, 1, flags.join(" "));
      assert.match(result.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: /);
      assert.match(result.stderr, message);
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
