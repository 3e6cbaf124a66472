/**
 * Many requests in flight on one socket: an RPC server and a ChannelPool in one process.
 * 100 requests to a handler that takes 200 ms finish in about 200 ms over 2 sockets.
 *
 *   npm run build && node dist/examples/rpc.js
 *
 * In your project: import { ChannelPool, createRpcServer } from "sockpool";
 */
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ChannelPool, createRpcServer } from "../src/index.js";

// The handler gets each request's payload and returns the reply; many run at once.
const server = createRpcServer(async (payload, ctx) => {
  await sleep(200, undefined, { signal: ctx.signal }); // ctx.signal aborts if the client cancels
  return Buffer.from(payload.toString().toUpperCase());
});
await server.listen({ port: 0 });
const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;

const pool = new ChannelPool({ maxChannelsPerEndpoint: 2 });
const started = performance.now();
const replies = await Promise.all(
  Array.from({ length: 100 }, (_, i) => pool.request(endpoint, `request ${i}`, { timeout: 5_000 })),
);
const ms = Math.round(performance.now() - started);
console.log(`${replies.length} replies in ${ms} ms over ${pool.stats().opened} sockets; first: ${replies[0]}`);

await pool.close();
await server.close();
