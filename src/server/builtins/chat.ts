import { LINE_SERVER_DEFAULTS } from "../options.js";
import { createServer, type Server, type ServerOptions } from "../server.js";

/**
 * A chat room: every line a client sends goes to every other client. Lines are capped at
 * `maxLineLength` (default 64 KiB) and must complete within `lineTimeout` (default 30 s);
 * a member that stops reading is handled by `slowClientPolicy` (default: disconnected).
 */
export function createChatServer(options: ServerOptions = {}): Server {
  const server: Server = createServer(
    async (conn) => {
      for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
        server.broadcast(`${line}\n`, { except: conn });
      }
    },
    { ...LINE_SERVER_DEFAULTS, ...options },
  );
  return server;
}
