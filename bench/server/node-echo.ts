/**
 * The Node servers of bench/server, one per process:
 *
 *   node --expose-gc dist/bench/server/node-echo.js raw|echo|stream|rawiter
 *
 * - raw: the minimal `net` echo, `socket.on("data", d => socket.write(d))`, with
 *   TCP_NODELAY like every other server in the bench.
 * - echo: sockpool's `createEchoServer()` (protocol callbacks).
 * - stream: a sockpool stream handler, `for await (const chunk of conn) await conn.write(chunk)`.
 * - rawiter: the same loop on a raw `net` socket, with Node's own async iterator and a wait for
 *   `drain` when `write` returns false (the backpressure `conn.write` keeps). Not a target:
 *   the floor of the stream-handler style, what the language and Node's streams cost
 *   before sockpool does anything.
 *
 * It keeps the peer contract (bench/server/peers.ts): listens on 127.0.0.1, port 0, prints
 * the port on the first line of stdout, exits when stdin closes. A "gc" line on stdin runs
 * two garbage collections 200 ms apart, then prints "heap <bytes used>".
 */
import { once } from "node:events";
import net from "node:net";
import { createInterface } from "node:readline";
import { createEchoServer, createServer } from "sockpool";

async function listen(kind: string): Promise<number> {
  if (kind === "raw") {
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.on("data", (data) => socket.write(data));
      socket.on("error", () => {});
    });
    server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 });
    await once(server, "listening");
    return (server.address() as net.AddressInfo).port;
  }
  if (kind === "rawiter") {
    const server = net.createServer({ noDelay: true }, async (socket) => {
      socket.on("error", () => {});
      try {
        for await (const chunk of socket) if (!socket.write(chunk)) await once(socket, "drain");
      } catch {}
      socket.end();
    });
    server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 });
    await once(server, "listening");
    return (server.address() as net.AddressInfo).port;
  }
  if (kind !== "echo" && kind !== "stream") throw new Error(`unknown server kind ${JSON.stringify(kind)}`);
  const server =
    kind === "echo"
      ? createEchoServer()
      : createServer(async (conn) => {
          for await (const chunk of conn) await conn.write(chunk);
        });
  server.on("error", () => {});
  await server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 });
  return (server.address() as net.AddressInfo).port;
}

function answerGc(): void {
  globalThis.gc?.();
  setTimeout(() => {
    globalThis.gc?.();
    process.stdout.write(`heap ${process.memoryUsage().heapUsed}\n`);
  }, 200);
}

const port = await listen(process.argv[2] ?? "");
process.stdout.write(`${port}\n`);
const stdin = createInterface({ input: process.stdin });
stdin.on("line", (line) => {
  if (line === "gc") answerGc();
});
stdin.on("close", () => process.exit(0));
