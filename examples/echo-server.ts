/**
 * A stream-handler server: one async function per client, all on one event loop.
 * Upper-cases every line; Ctrl-C closes gracefully (in-flight lines still get answers).
 *
 *   npm run build && node dist/examples/echo-server.js 3000
 *   node bin/sockpool.js send 127.0.0.1:3000 hello --line      # prints HELLO
 *
 * In your project: import { createServer } from "sockpool";
 */
import type { AddressInfo } from "node:net";
import { createServer } from "../src/index.js";

const server = createServer(
  async (conn) => {
    // readLine() resolves with null when the client ends (or the server is closing).
    for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
      await conn.write(`${line.toUpperCase()}\n`);
    }
  },
  { maxLineLength: 8 * 1024, idleTimeout: 60_000, maxConnections: 1_000 },
);

server.on("error", (err) => console.error(`client error: ${err instanceof Error ? err.message : String(err)}`));
await server.listen({ host: "127.0.0.1", port: Number(process.argv[2] ?? 3000) });
console.log(`listening on 127.0.0.1:${(server.address() as AddressInfo).port}`);

process.once("SIGINT", async () => {
  await server.close({ timeout: 5_000 }); // stop accepting, let handlers finish, then close
  console.log(`closed after ${server.stats().total} clients`);
});
