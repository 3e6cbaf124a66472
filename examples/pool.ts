/**
 * Scenario 1 in code: many concurrent requests through a pool that bounds the sockets.
 * Against a server that answers after 1 s, 20 requests over 5 sockets take about 4 s.
 *
 *   node bin/sockpool.js serve echo --port 3000 --delay 1s &
 *   npm run build && node dist/examples/pool.js 127.0.0.1:3000 20
 *
 * In your project: import { SocketPool } from "sockpool";
 */
import { SocketPool } from "../src/index.js";

async function main(endpoint = "127.0.0.1:3000", count = 20): Promise<void> {
  await using pool = new SocketPool({ maxSocketsPerEndpoint: 5, idleTimeout: 10_000, acquireTimeout: 30_000 });

  // pool.use() borrows a socket, runs the function, and gives the socket back, or destroys
  // it if the function threw, so a half-read reply never reaches the next borrower.
  const ask = (i: number) =>
    pool.use(endpoint, async (conn) => {
      await conn.write(`request ${i}\n`);
      return conn.readLine();
    });

  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: count }, (_, i) => ask(i)));
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  console.log(`${replies.length} replies in ${seconds} s; last: ${replies.at(-1)}`);

  // `await using` hands a socket back at the end of the block, even on a throw.
  {
    await using conn = await pool.acquire(endpoint);
    await conn.write("one more\n");
    console.log(`reused socket: ${pool.isReused(conn)}, reply: ${await conn.readLine()}`);
  }

  const { created, reused, idle, borrowed } = pool.stats();
  console.log(`sockets: ${created} opened, ${reused} reused, ${idle} idle, ${borrowed} borrowed`);
} // the pool closes here (`await using`): idle sockets end, new acquires are refused

main(process.argv[2], Number(process.argv[3] ?? 20)).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
