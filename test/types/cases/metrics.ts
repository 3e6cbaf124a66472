// sockpool/metrics and the pool's duration histograms as a TypeScript user sees them.
import { createEchoServer, type DurationStats, SocketPool } from "sockpool";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "sockpool/metrics";
import { type Equal, expectTrue } from "./expect.js";

const pool = new SocketPool();
const stats = pool.stats();
expectTrue<Equal<typeof stats.holdMs, DurationStats>>();
expectTrue<Equal<typeof stats.dialMs.buckets, number[]>>();
expectTrue<Equal<typeof stats.waitMs.bounds, readonly number[]>>();

const text: string = renderPrometheus({ pools: { main: pool }, servers: { echo: createEchoServer() }, process: true });
export const scrape = { text, type: PROMETHEUS_CONTENT_TYPE };
// @ts-expect-error: an unknown source kind does not compile
renderPrometheus({ pool: { main: pool } });
// @ts-expect-error: a source needs a stats() method
renderPrometheus({ pools: { main: {} } });
// @ts-expect-error: a server is not a pool
renderPrometheus({ pools: { echo: createEchoServer() } });
