import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type BenchSettings, benchReport } from "../../src/cli/commands/bench.js";
import { LoadRun } from "../../src/cli/load.js";
import { renderHtmlReport } from "../../src/cli/report/html.js";
import { BadFrameError } from "../../src/errors.js";
import { CHROMIUM, chromiumSkip, dumpDom, screenshot } from "../helpers/chromium.js";
import { assertNoOpenSockets, echoServer, rawServer, TEST_TIMEOUT } from "../helpers/net.js";
import { runCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

/** Where the report and its screenshot are left to look at: dist/test/cli/artifacts/ (not committed). */
const ARTIFACTS = fileURLToPath(new URL("./artifacts/", import.meta.url));

interface BenchJson {
  requests: number;
  errors: number;
  cancelled: number;
  rps: number;
  durationMs: number;
  latencyMs: Record<"min" | "mean" | "p50" | "p90" | "p99" | "max", number>;
  sockets: { opened: number; reused: number; retries: number };
  errorCodes: Record<string, number>;
  timeline: { requests: number[]; errors: Record<string, number[]> };
  replicas: { endpoint: string; share: number; requests: number; errors: number }[] | null;
  settings: Record<string, unknown>;
}

/** Every match of `pattern` (with a global flag) in `text`, as its groups. */
function all(text: string, pattern: RegExp): string[][] {
  return [...text.matchAll(pattern)].map((m) => m.slice(1));
}

/** The `data-value` of the element marked `data-field="field"`. */
function field(dom: string, name: string): string | undefined {
  return new RegExp(`data-field="${name.replaceAll(".", "\\.")}" data-value="([^"]*)"`).exec(dom)?.[1];
}

describe("sockpool bench --html", () => {
  test("a self-contained report whose charts carry the run's figures, in headless chromium", {
    timeout: 60_000,
    skip: chromiumSkip,
  }, async (t) => {
    assert.ok(CHROMIUM, "chromium must be installed under CI (apt-get install -y chromium)");
    // A service of two replicas: one echoes; the other garbles every 7th message and cuts
    // every 11th short, so the errors chart has two codes.
    const good = await echoServer(t);
    let messages = 0;
    const flaky = await rawServer(t, (socket) =>
      socket.on("data", (d) => {
        messages++;
        if (messages % 7 === 0) socket.write(Buffer.from(d).fill(0x78));
        else if (messages % 11 === 0) socket.end(d.subarray(0, 10));
        else socket.write(d);
      }),
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = `${ARTIFACTS}bench-report.html`;
    const target = `${good.endpoint},${flaky.endpoint}`;
    const result = await runCli(
      t,
      ["bench", target, "-d", "2", "-c", "4", "--rate", "1500", "--size", "256", "--json", "--html", file],
      30_000,
    );
    assert.equal(result.code, 1, result.stderr); // errors: exit 1
    const json = JSON.parse(result.stdout) as BenchJson;
    assert.ok(json.errors > 0 && json.requests > json.errors, result.stdout);

    const html = readFileSync(file, "utf8");
    assert.doesNotMatch(html, /\b(?:src|href)=|<link|@import|url\(/i, "nothing to fetch: the page works offline");
    assert.doesNotMatch(html, /<script(?! type="application\/json")/, "no script runs");

    const dom = await dumpDom(t, file);
    assert.match(dom, /<svg class="chart" data-chart="rps"/);

    // The run as --json printed it is in the page.
    const embedded = /<script type="application\/json" id="bench-json">([\s\S]*?)<\/script>/.exec(dom)?.[1];
    assert.deepEqual(JSON.parse(embedded ?? "null"), json);

    // Headline figures and tables match the JSON.
    for (const name of ["requests", "errors", "cancelled", "rps", "durationMs", "latencyMs.p50", "latencyMs.p99"]) {
      const value = name.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], json);
      assert.equal(field(dom, name), String(value), name);
    }
    for (const name of ["opened", "reused", "retries"] as const) {
      assert.equal(field(dom, `sockets.${name}`), String(json.sockets[name]), name);
    }
    assert.equal(field(dom, "settings.concurrency"), "4");
    assert.equal(field(dom, "settings.durationMs"), "2000");

    // Requests per second: one point per second of the timeline, with its count.
    const points = all(dom, /<circle class="point[^"]*" data-second="(\d+)" data-requests="(\d+)"/g);
    assert.deepEqual(
      points.map(([, n]) => Number(n)),
      json.timeline.requests,
    );
    const rate = /data-field="rpsPerSecond" data-min="([\d.]+)" data-mean="([\d.]+)"/.exec(dom);
    assert.ok(rate, "the per-second figures are in the caption");

    // The histogram's bars hold every successful request.
    const bars = all(dom, /<rect class="bar" data-from="([\d.]+)" data-to="([\d.]+)" data-count="(\d+)"/g);
    assert.ok(bars.length >= 10, String(bars.length));
    assert.equal(
      bars.reduce((n, [, , c]) => n + Number(c), 0),
      json.requests - json.errors,
    );
    assert.equal(Number(bars[0]![0]), json.latencyMs.min);
    assert.equal(Number(bars.at(-1)![1]), json.latencyMs.max);

    // The percentile curve is marked at the JSON's percentiles.
    const markers = new Map(
      all(dom, /<g class="marker" data-p="([\d.]+)" data-ms="([\d.]+)"/g).map(([p, ms]) => [p, ms]),
    );
    assert.equal(markers.get("50"), String(json.latencyMs.p50));
    assert.equal(markers.get("90"), String(json.latencyMs.p90));
    assert.equal(markers.get("99"), String(json.latencyMs.p99));
    assert.equal(markers.get("100"), String(json.latencyMs.max));

    // Errors over time, by code: each segment is the timeline's count; totals are errorCodes.
    const segments = all(dom, /<rect class="error-bar" data-second="(\d+)" data-code="([A-Z_]+)" data-count="(\d+)"/g);
    assert.deepEqual(Object.keys(json.errorCodes).sort(), ["ERR_SOCKPOOL_BAD_FRAME", "ERR_SOCKPOOL_INCOMPLETE_READ"]);
    for (const [second, code, count] of segments) {
      assert.equal(Number(count), json.timeline.errors[code!]![Number(second)], `${code} in second ${second}`);
    }
    for (const [code, total] of Object.entries(json.errorCodes)) {
      const drawn = segments.filter(([, c]) => c === code).reduce((n, [, , count]) => n + Number(count), 0);
      assert.equal(drawn, total, code);
      assert.match(dom, new RegExp(`<li data-code="${code}" data-total="${total}">`));
    }

    // Each replica's share.
    const replicas = all(
      dom,
      /<tr class="replica" data-endpoint="([^"]+)" data-share="([\d.]+)" data-requests="(\d+)"/g,
    );
    assert.deepEqual(
      replicas.map(([endpoint, share, requests]) => ({ endpoint, share: Number(share), requests: Number(requests) })),
      json.replicas?.map(({ endpoint, share, requests }) => ({ endpoint, share, requests })),
    );

    // A picture, to look at while working on the page (dist/test/cli/artifacts/).
    const png = `${ARTIFACTS}bench-report.png`;
    await screenshot(t, file, png, 1200, 900);
    assert.deepEqual([...readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], "a PNG");
    t.diagnostic(`report: ${file}; screenshot: ${png}`);
  });
});

describe("renderHtmlReport", () => {
  const settings: BenchSettings = {
    target: "127.0.0.1:7000",
    key: "127.0.0.1:7000",
    resolver: undefined,
    concurrency: 2,
    requests: 6,
    duration: undefined,
    rate: undefined,
    pool: 2,
    size: 1024,
    timeout: Number.POSITIVE_INFINITY,
    preflightWindow: 2000,
    ca: undefined,
    html: "/tmp/x.html",
    json: false,
    rpc: false,
  };
  const sockets = { opened: 1, reused: 5, retries: 0 };

  test("a run without one success says so instead of drawing empty charts", opts, async () => {
    const run = new LoadRun(settings, async (seq) => {
      throw new BadFrameError(`echo of bench request ${seq} <differs>`);
    });
    const result = await run.run();
    const html = renderHtmlReport(settings, benchReport(settings, result, sockets), result);
    assert.match(html, /data-empty="histogram"/);
    assert.match(html, /data-empty="percentiles"/);
    assert.match(html, /data-code="ERR_SOCKPOOL_BAD_FRAME" data-total="6"/);
    assert.match(html, /data-field="settings.timeoutMs" data-value="null"><dt>timeout<\/dt><dd>none<\/dd>/);
    assert.match(html, /bad frame: echo of bench request 0 &#60;differs&#62;/, "text is escaped");
    assert.match(html, /<div class="status errors"/);
  });

  test("a clean run shows no errors and no replicas section", opts, async () => {
    const result = await new LoadRun(settings, async () => 1024).run();
    const html = renderHtmlReport(settings, benchReport(settings, result, sockets), result);
    assert.match(html, /data-empty="errors"/);
    assert.doesNotMatch(html, /class="replica"/);
    assert.equal((html.match(/<circle class="point/g) ?? []).length, 1);
    assert.match(html, /<div class="status ok"/);
  });
});
