/**
 * One side of bench/broadcast: a chat room server that first greets each client with its
 * process id (so the bench knows which process a client is on), then relays every line to
 * every other client, as `sockpool serve chat` does. Tells its parent `{ port, pids }` over
 * IPC once listening (`workers`: their pids, with `cluster`); closes and exits when the parent
 * disconnects.
 *
 *   node room.js single          one process, no bus (the baseline)
 *   node room.js cluster N       N workers via runCluster (the cluster IPC bus)
 *   node room.js redis URL       one process on a Redis bus (room "bench")
 */
import { type Bus, type Connection, createServer, runCluster, type Server } from "../../src/index.js";
import { redisBus } from "../../src/redis/index.js";

function room(bus?: Bus): Server {
  const server: Server = createServer(
    async (conn: Connection) => {
      await conn.write(`${process.pid}\n`);
      for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
        server.broadcast(`${line}\n`, { except: conn });
      }
    },
    { maxLineLength: 64 * 1024, bus },
  );
  return server;
}

async function single(bus?: Bus): Promise<void> {
  const server = room(bus);
  await server.listen({ port: 0 });
  const port = (server.address() as { port: number }).port;
  process.send?.({ port });
  process.once("disconnect", () => void server.close({ timeout: 500 }));
}

const [mode = "single", param] = process.argv.slice(2);
if (mode === "cluster") {
  const handle = await runCluster({
    workers: Number(param ?? 2),
    closeTimeout: 500,
    start: async () => {
      const server = room();
      await server.listen({ port: 0 });
      return server;
    },
  });
  if (handle.isPrimary) {
    process.send?.({ port: (handle.address as { port: number }).port, workers: handle.pids });
    process.once("disconnect", () => void handle.close());
  }
} else if (mode === "redis") {
  await single(redisBus({ url: param as string, room: "bench" }));
} else {
  await single();
}
