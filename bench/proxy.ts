/**
 * What reading a PROXY protocol header costs a server: accepts per second with and without
 * a v2 header, in the same process and run.
 *
 * - **plain**: `createEchoServer()`; each client connects, sends `ping\n`, waits for the echo.
 * - **PROXY v2**: `createEchoServer({ proxyProtocol: {} })`; each client sends a v2 header
 *   (IPv4, with an authority and a unique id TLV, as a balancer would) and `ping\n` in one write.
 *
 * Clients are raw `net` sockets, `--concurrency` of them in a closed loop; each resets its
 * socket once the echo arrives (no TIME_WAIT, so no run exhausts the ephemeral ports). On a
 * shared VM the machine's speed drifts by the second, so the two sides take turns in short
 * slices: each of `--repeats` rounds gives each side `--ms` in `--slices` slices, alternating
 * (the order rotating each round), and yields one rate per side. The table shows each side's
 * median and min–max over the rounds, and the median of the rounds' ratios.
 *
 *   node dist/bench/proxy.js [--ms 1000] [--slices 5] [--repeats 7] [--concurrency 32]
 */
import net from "node:net";
import { encodeProxyHeader } from "../src/codec/proxy-protocol.js";
import { createEchoServer } from "../src/server/index.js";
import { arg, fmt, median, rotate, table } from "./lib/stats.js";

const MS = arg("ms", 1000);
const SLICES = arg("slices", 5);
const REPEATS = arg("repeats", 7);
const CONCURRENCY = arg("concurrency", 32);

const PING = Buffer.from("ping\n");
const HEADER = encodeProxyHeader({
  version: 2,
  source: { address: "192.0.2.44", port: 51000 },
  destination: { address: "198.51.100.1", port: 443 },
  tlvs: { authority: "api.example.com", uniqueId: "0123456789abcdef" },
});

/** One connection: connect, send `bytes`, wait for the 5-byte echo, reset. */
function once(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, noDelay: true });
    let got = 0;
    s.on("connect", () => s.write(bytes));
    s.on("data", (chunk: Buffer) => {
      got += chunk.length;
      if (got < PING.length) return;
      s.resetAndDestroy();
      resolve();
    });
    s.on("error", reject);
  });
}

/** `CONCURRENCY` closed-loop clients for `ms`; returns connections served and the time taken (ms). */
async function run(port: number, bytes: Buffer, ms: number): Promise<{ done: number; took: number }> {
  let done = 0;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await once(port, bytes);
        done++;
      }
    }),
  );
  return { done, took: performance.now() - start };
}

async function main(): Promise<void> {
  const plain = createEchoServer();
  const proxied = createEchoServer({ proxyProtocol: {} });
  plain.on("error", () => {});
  proxied.on("error", () => {});
  await plain.listen({ port: 0 });
  await proxied.listen({ port: 0 });
  const sides = [
    { name: "plain", port: (plain.address() as net.AddressInfo).port, bytes: PING, rates: [] as number[] },
    {
      name: "PROXY v2 header",
      port: (proxied.address() as net.AddressInfo).port,
      bytes: Buffer.concat([HEADER, PING]),
      rates: [] as number[],
    },
  ];
  for (const side of sides) await run(side.port, side.bytes, Math.min(300, MS)); // warm up
  const ratios: number[] = [];
  for (let round = 0; round < REPEATS; round++) {
    const totals = sides.map(() => ({ done: 0, took: 0 }));
    for (let slice = 0; slice < SLICES; slice++) {
      for (const i of rotate([0, 1], round + slice)) {
        const side = sides[i]!;
        const { done, took } = await run(side.port, side.bytes, MS / SLICES);
        totals[i]!.done += done;
        totals[i]!.took += took;
      }
    }
    for (const [i, t] of totals.entries()) sides[i]!.rates.push(t.done / (t.took / 1000));
    ratios.push(sides[1]!.rates[round]! / sides[0]!.rates[round]!);
  }
  console.log(
    `\n${CONCURRENCY} clients, connect + ${PING.length}-byte echo + reset; ${REPEATS} rounds of ${MS} ms per side ` +
      `in ${SLICES} alternating slices; node ${process.version}; readPath ${proxied.stats().readPath}\n`,
  );
  const spread = (xs: number[], digits: number) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;
  table(
    ["server", "accepts/s (median)", "min–max", "ratio to plain (median of rounds, min–max)"],
    [
      [sides[0]!.name, fmt(median(sides[0]!.rates), 0), spread(sides[0]!.rates, 0), "1.00×"],
      [
        sides[1]!.name,
        fmt(median(sides[1]!.rates), 0),
        spread(sides[1]!.rates, 0),
        `${fmt(median(ratios), 2)}× (${spread(ratios, 2)})`,
      ],
    ],
  );
  const refused = proxied.stats().proxyRefused;
  if (refused > 0) throw new Error(`${refused} connections refused: the bench is broken`);
  await plain.close({ timeout: 1000 });
  await proxied.close({ timeout: 1000 });
}

await main();
