import { validateOptions } from "../../internal/validate.js";
import { LINE_SERVER_DEFAULTS } from "../options.js";
import { createServer, type Server, type ServerOptions } from "../server.js";

export interface ChatServerOptions extends ServerOptions {
  /**
   * Tag each relayed line with its sender: `127.0.0.1:50312: hello` (`[::1]:50312: hello`;
   * Unix clients are numbered, `unix client 3: hello`). Default false: lines are relayed as
   * sent. The CLI's `serve chat` turns it on.
   */
  prefix?: boolean | undefined;
}

/**
 * A chat room: every line a client sends goes to every other client. Lines are capped at
 * `maxLineLength` (default 64 KiB) and must complete within `lineTimeout` (default 30 s);
 * a member that stops reading is handled by `slowClientPolicy` (default: disconnected).
 * With a `bus`, the room spans every server on it, and the prefix names the sender there too.
 */
export function createChatServer(options: ChatServerOptions = {}): Server {
  const { prefix = false, ...serverOptions } = options;
  validateOptions("chat server options", { prefix }, { prefix: "boolean" });
  let unixClients = 0;
  const server: Server = createServer(
    async (conn) => {
      const from = !prefix ? "" : conn.remotePort === undefined ? `unix client ${++unixClients}: ` : `${conn.where}: `;
      for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
        server.broadcast(`${from}${line}\n`, { except: conn });
      }
    },
    { ...LINE_SERVER_DEFAULTS, ...serverOptions },
  );
  return server;
}
