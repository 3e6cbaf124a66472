import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, describe, it, type TestContext } from "node:test";
import { createEchoServer, createRpcEchoServer, type EndpointStats, openChannel, type PoolStats } from "sockpool";
import { escapeLabelValue, PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "sockpool/metrics";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { promtoolCheck } from "../helpers/promtool.js";
import { testPool } from "../pool/helpers.js";

after(assertNoOpenSockets);

const opts = { timeout: TEST_TIMEOUT };

/** The samples of a scrape: "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** An echo server and a pool that made `n` round trips through it. */
async function loadedPool(t: TestContext, n: number) {
  const server = createEchoServer();
  await server.listen({ port: 0 });
  t.after(() => server.close({ timeout: 100 }));
  const endpoint = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const pool = testPool(t, { maxSocketsPerEndpoint: 2 });
  const roundTrips = (k: number) =>
    Promise.all(
      Array.from({ length: k }, () =>
        pool.use(endpoint, async (c) => {
          await c.write("ping\n");
          return c.readLine();
        }),
      ),
    );
  await roundTrips(n);
  return { server, endpoint, pool, roundTrips };
}

async function assertPromtoolPasses(text: string): Promise<void> {
  const lint = await promtoolCheck(text);
  assert.deepEqual(lint, { status: 0, output: "" }, `promtool check metrics on:\n${text}`);
}

describe("renderPrometheus", () => {
  it("escapes backslash, double quote and newline in label values, and nothing else", () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeLabelValue("[::1]:3000 unix:/tmp/x.sock é\t"), "[::1]:3000 unix:/tmp/x.sock é\t");
  });

  it("writes a pool's histograms cumulatively in seconds, +Inf equal to _count", opts, async (t) => {
    const { pool, endpoint } = await loadedPool(t, 10);
    const text = renderPrometheus({ pools: { main: pool } });
    const s = samples(text);
    const labels = `pool="main",endpoint="${endpoint}"`;
    const stats = pool.stats().endpoints[endpoint] as EndpointStats;
    for (const [name, h] of [
      ["sockpool_pool_acquire_wait_seconds", stats.waitMs],
      ["sockpool_pool_hold_seconds", stats.holdMs],
      ["sockpool_pool_dial_seconds", stats.dialMs],
    ] as const) {
      const les = [...s.keys()].filter((k) => k.startsWith(`${name}_bucket{${labels},le=`));
      assert.equal(les.length, h.bounds.length + 1, `${name}: one bucket per bound and +Inf`);
      const counts = les.map((k) => s.get(k) as number);
      for (let i = 1; i < counts.length; i++) assert.ok((counts[i] as number) >= (counts[i - 1] as number), name);
      assert.equal(s.get(`${name}_bucket{${labels},le="0.0001"}`), h.buckets[0]);
      assert.equal(s.get(`${name}_bucket{${labels},le="30"}`), h.buckets.at(-1));
      assert.equal(s.get(`${name}_bucket{${labels},le="+Inf"}`), h.count);
      assert.equal(s.get(`${name}_count{${labels}}`), h.count);
      assert.equal(s.get(`${name}_sum{${labels}}`), h.sum / 1000);
    }
    assert.equal(s.get(`sockpool_pool_acquires_total{${labels}}`), 10);
    assert.equal(s.get(`sockpool_pool_dial_seconds_count{${labels}}`), stats.created);
    assert.equal(s.get(`sockpool_pool_sockets{${labels},state="idle"}`), stats.idle);
    assert.match(text, /^# HELP sockpool_pool_hold_seconds .+\n# TYPE sockpool_pool_hold_seconds histogram\n/m);
    await assertPromtoolPasses(text);
  });

  it("counters never go down between scrapes under more load", opts, async (t) => {
    const { pool, roundTrips } = await loadedPool(t, 5);
    const before = samples(renderPrometheus({ pools: { main: pool } }));
    await roundTrips(20);
    const later = samples(renderPrometheus({ pools: { main: pool } }));
    const monotonic = [...before.keys()].filter((k) => /_total\{|_bucket\{|_count\{|_sum\{/.test(k));
    assert.ok(monotonic.length > 20, "counters and histogram series are there");
    for (const k of monotonic) assert.ok((later.get(k) as number) >= (before.get(k) as number), k);
    const grew = (k: string) => (later.get(k) as number) > (before.get(k) as number);
    assert.ok([...before.keys()].some((k) => k.startsWith("sockpool_pool_acquires_total") && grew(k)));
  });

  it("labels each of several pools, servers and channels; each family is written once", opts, async (t) => {
    const a = await loadedPool(t, 3);
    const b = await loadedPool(t, 1);
    const rpc = createRpcEchoServer();
    await rpc.listen({ port: 0 });
    t.after(() => rpc.close({ timeout: 100 }));
    const channel = await openChannel(`127.0.0.1:${(rpc.address() as { port: number }).port}`);
    t.after(() => channel.close());
    assert.equal((await channel.request("hi")).toString(), "hi");
    const text = renderPrometheus({
      pools: { a: a.pool, 'b "quoted"\n': b.pool },
      servers: { echo: a.server, rpc },
      channels: { "rpc-echo": channel },
    });
    const s = samples(text);
    assert.equal(s.get(`sockpool_pool_acquires_total{pool="a",endpoint="${a.endpoint}"}`), 3);
    assert.equal(s.get(`sockpool_pool_acquires_total{pool="b \\"quoted\\"\\n",endpoint="${b.endpoint}"}`), 1);
    assert.equal(s.get('sockpool_server_connections_accepted_total{server="echo"}'), 2);
    assert.equal(s.get('sockpool_rpc_server_requests_total{server="rpc"}'), 1);
    assert.equal(
      s.has('sockpool_rpc_server_requests_total{server="echo"}'),
      false,
      "a plain server has no RPC metrics",
    );
    assert.equal(s.get('sockpool_channel_requests_total{channel="rpc-echo"}'), 1);
    assert.equal(s.get('sockpool_channel_replies_total{channel="rpc-echo"}'), 1);
    assert.equal(s.get('sockpool_channel_open{channel="rpc-echo"}'), 1);
    const types = text.match(/^# TYPE \S+/gm) ?? [];
    assert.equal(new Set(types).size, types.length, "no family twice");
    for (const line of text.split("\n")) {
      if (line.startsWith("# TYPE") && line.endsWith(" counter")) assert.match(line, /_total counter$/);
    }
    await assertPromtoolPasses(text);
  });

  it("process metrics: the standard names, and the event loop delay as a summary", opts, async () => {
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    await new Promise((resolve) => setTimeout(resolve, 50)); // give the monitor a few samples
    const text = renderPrometheus({ process: true, eventLoopDelay: loop });
    loop.disable();
    const s = samples(text);
    assert.ok((s.get("process_cpu_seconds_total") as number) > 0);
    assert.ok((s.get("process_resident_memory_bytes") as number) > 1_000_000);
    const start = s.get("process_start_time_seconds") as number;
    assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) < 2, `start ${start}`);
    assert.ok((s.get("nodejs_heap_size_used_bytes") as number) > 0);
    assert.equal(s.get(`nodejs_version_info{version="${process.version}"}`), 1);
    assert.ok((s.get("nodejs_eventloop_delay_seconds_count") as number) > 0);
    assert.ok((s.get('nodejs_eventloop_delay_seconds{quantile="0.99"}') as number) > 0);
    assert.match(text, /^# TYPE nodejs_eventloop_delay_seconds summary$/m);
    await assertPromtoolPasses(text);
  });

  it("snapshots work as sources; nothing to write is an empty string", () => {
    assert.equal(renderPrometheus({}), "");
    const empty = { endpoints: {} } as PoolStats;
    assert.equal(renderPrometheus({ pools: { p: { stats: () => empty } } }), "");
    assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  });

  it("bad input is an InvalidArgumentError naming the key and the value", () => {
    const bad = (sources: unknown, pattern: RegExp) =>
      assert.throws(
        () => renderPrometheus(sources as Parameters<typeof renderPrometheus>[0]),
        (err: Error) => {
          assert.equal((err as { code?: string }).code, "ERR_SOCKPOOL_INVALID_ARGUMENT");
          assert.match(err.message, pattern);
          return true;
        },
      );
    bad(undefined, /needs sources/);
    bad({ pool: {} }, /unknown option "pool"/);
    bad({ pools: { main: { size: 3 } } }, /pools\["main"\] must have a stats\(\) method, got \{"size":3\}/);
    bad({ servers: [createEchoServer()] }, /servers must map names to sources, got an array/);
    bad({ channels: 7 }, /channels must be an object, got 7/);
    bad({ process: "yes" }, /process must be a boolean, got "yes"/);
    bad({ eventLoopDelay: { p99: 1 }, process: true }, /monitorEventLoopDelay\(\) histogram, got \{"p99":1\}/);
    bad({ eventLoopDelay: monitorEventLoopDelay() }, /add process: true/);
  });
});
