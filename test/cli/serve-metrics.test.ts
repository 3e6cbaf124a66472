import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, describe, test } from "node:test";
import { serveSettings } from "../../src/cli/commands/serve.js";
import { parseMetricsAddress, serveMetrics } from "../../src/cli/metrics-endpoint.js";
import { SocketPool } from "../../src/pool/index.js";
import { assertNoOpenSockets, closedPort, TEST_TIMEOUT } from "../helpers/net.js";
import { promtoolCheck } from "../helpers/promtool.js";
import { interrupt, runCli, startCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

interface Scrape {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request on its own connection (no keep-alive agent left holding a socket). */
function get(url: string, method = "GET"): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (s: string) => (body += s));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

/** The value of one sample line, `name{labels} value`, in a scrape. */
function value(body: string, series: string): number {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is in the scrape`);
  return Number(line.slice(series.length + 1));
}

describe("--metrics HOST:PORT: parsing", () => {
  test("takes IPv4, bracketed IPv6, a name, or a port alone for 127.0.0.1", () => {
    assert.deepEqual(parseMetricsAddress("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
    assert.deepEqual(parseMetricsAddress("[::1]:0"), { host: "::1", port: 0 });
    assert.deepEqual(parseMetricsAddress("localhost:9464"), { host: "localhost", port: 9464 });
    assert.deepEqual(parseMetricsAddress("9464"), { host: "127.0.0.1", port: 9464 });
  });

  test("a bad value is an InvalidArgumentError naming it and saying why", () => {
    for (const [text, why] of [
      ["127.0.0.1", /the port must be a whole number/],
      ["127.0.0.1:99999", /the port must be a whole number from 0 to 65535/],
      [":9464", /the host is missing/],
      ["::1:9464", /an IPv6 host goes in brackets/],
      ["[nope]:9464", /"nope" is not an IPv6 address/],
      ["127.0.0.1:-1", /the port must be/],
      ["", /the port must be/],
    ] as const) {
      assert.throws(
        () => parseMetricsAddress(text),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "ERR_SOCKPOOL_INVALID_ARGUMENT");
          assert.ok(err.message.startsWith(`--metrics ${JSON.stringify(text)}: `), err.message);
          assert.match(err.message, why);
          return true;
        },
      );
    }
  });

  test("--metrics serves one process: it refuses --workers", () => {
    assert.throws(() => serveSettings({ metrics: "127.0.0.1:9464", workers: "4" }, "echo"), {
      code: "ERR_SOCKPOOL_INVALID_ARGUMENT",
      message: /--metrics "127.0.0.1:9464" serves one process's stats; it does not combine with --workers 4/,
    });
    assert.deepEqual(serveSettings({ metrics: "9464" }, "chat").metrics, { host: "127.0.0.1", port: 9464 });
    assert.equal(serveSettings({}, "echo").metrics, undefined);
  });
});

describe("sockpool serve --metrics", () => {
  test("a scrape whose rendering throws gets a 500, and the endpoint goes on", opts, async (t) => {
    let fail = true;
    const endpoint = await serveMetrics({ host: "127.0.0.1", port: 0 }, () => {
      if (fail) throw new Error("stats broke");
      return "# TYPE up gauge\nup 1\n";
    });
    t.after(() => endpoint.close());
    const failed = await get(endpoint.url);
    assert.equal(failed.status, 500);
    assert.match(failed.body, /cannot render metrics: Error: stats broke/);
    fail = false;
    const ok = await get(endpoint.url);
    assert.deepEqual([ok.status, ok.body], [200, "# TYPE up gauge\nup 1\n"]);
  });

  test("a loaded echo server's scrape passes promtool; 404 elsewhere; closed on Ctrl-C", opts, async (t) => {
    const cli = startCli(t, ["serve", "echo", "--port", "0", "--metrics", "127.0.0.1:0"]);
    const port = Number((await cli.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const url = (await cli.waitFor(/metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/))[1] as string;

    // Load: 40 requests from 8 concurrent borrowers over a pool of 4 real sockets.
    const pool = new SocketPool({ maxSocketsPerEndpoint: 4 });
    t.after(() => pool.close({ timeout: 100 }));
    const endpoint = `127.0.0.1:${port}`;
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        pool.use(endpoint, async (c) => {
          await c.write(`line ${i}\n`);
          return c.readLine();
        }),
      ),
    );
    assert.deepEqual(replies.sort(), Array.from({ length: 40 }, (_, i) => `line ${i}`).sort());

    const scrape = await get(url);
    assert.equal(scrape.status, 200);
    assert.equal(scrape.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    const lint = await promtoolCheck(scrape.body);
    assert.deepEqual(lint, { status: 0, output: "" }, `promtool check metrics on:\n${scrape.body}`);
    assert.equal(value(scrape.body, 'sockpool_server_connections_accepted_total{server="echo"}'), 4);
    assert.equal(value(scrape.body, 'sockpool_server_connections{server="echo"}'), 4, "the pool's idle sockets");
    const bytes = 40 * "line NN\n".length - 10; // lines 0 to 9 are a byte shorter
    assert.equal(value(scrape.body, 'sockpool_server_received_bytes_total{server="echo"}'), bytes);
    assert.equal(value(scrape.body, 'sockpool_server_sent_bytes_total{server="echo"}'), bytes);
    assert.ok(value(scrape.body, "process_cpu_seconds_total") > 0);
    assert.ok(value(scrape.body, "process_resident_memory_bytes") > 0);
    assert.ok(value(scrape.body, "nodejs_heap_size_used_bytes") > 0);
    assert.match(scrape.body, /^nodejs_eventloop_delay_seconds_count \d+$/m);

    const head = await get(url, "HEAD");
    assert.deepEqual([head.status, head.body], [200, ""]);
    assert.equal((await get(url.replace("/metrics", "/"))).status, 404);
    assert.equal((await get(url.replace("/metrics", "/metricsx"))).status, 404);
    const post = await get(url, "POST");
    assert.deepEqual([post.status, post.headers.allow], [405, "GET, HEAD"]);
    assert.equal((await get(`${url}?x=1`)).status, 200);

    await pool.close();
    const result = await interrupt(cli);
    assert.equal(result.code, 0, result.stderr);
    await assert.rejects(get(url), { code: "ECONNREFUSED" }, "the metrics endpoint closed with the server");
  });

  test("a metrics port in use: exit 1 with a typed error naming the address, and no server left", opts, async (t) => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    t.after(() => taken.close());
    const at = `127.0.0.1:${(taken.address() as net.AddressInfo).port}`;
    const result = await runCli(t, ["serve", "echo", "--port", "0", "--metrics", at]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `ERR_SOCKPOOL_INVALID_ARGUMENT: --metrics ${at} cannot listen: EADDRINUSE\n`);
  });

  test("a bad --metrics value exits 1 before anything listens", opts, async (t) => {
    const port = await closedPort();
    const result = await runCli(t, ["serve", "echo", "--port", String(port), "--metrics", "nope"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: --metrics "nope": /);
    assert.equal(result.stdout, "");
  });
});
