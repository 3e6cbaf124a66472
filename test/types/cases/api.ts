// Options, disposal and the main signatures as a TypeScript user sees them.
import {
  Agent,
  type Connection,
  connect,
  createRpcServer,
  createServer,
  type PoolStats,
  SocketPool,
  type SocketPoolOptions,
} from "sockpool";
import { type Equal, expectTrue } from "./expect.js";

const options: SocketPoolOptions = { maxSocketsPerEndpoint: 5, acquireTimeout: 5_000, idleTimeout: undefined };
const pool = new SocketPool(options);
// @ts-expect-error: an unknown option (a typo of maxSockets) does not compile
new SocketPool({ maxSocket: 5 });
// @ts-expect-error: durations are numbers of milliseconds, not strings
new SocketPool({ acquireTimeout: "5s" });
// @ts-expect-error: createServer's options are checked too
createServer(async () => {}, { maxConnection: 10 });

export async function borrow(): Promise<string | null> {
  await using conn = await pool.acquire("127.0.0.1:3000", { timeout: 1_000 });
  expectTrue<Equal<typeof conn, Connection>>();
  return conn.readLine();
}

export async function useIt(): Promise<number> {
  const n = await pool.use("127.0.0.1:3000", async (c) => (await c.readExactly(4)).length, { retryOnStale: true });
  expectTrue<Equal<typeof n, number>>();
  // @ts-expect-error: use() takes an async function
  await pool.use("127.0.0.1:3000", (c: Connection) => c.socket);
  return n;
}

export async function dispose(): Promise<void> {
  await using conn = await connect("127.0.0.1:3000");
  await using server = createServer(async (c) => void (await c.readLine()));
  await using agent = new Agent({ maxSocketsPerEndpoint: 2 });
  await using rpc = createRpcServer(async (payload) => payload);
  void [conn, server, agent, rpc];
}

const stats: PoolStats = pool.stats();
void stats.open;
// @ts-expect-error: stats have known fields only
void stats.nonexistent;
