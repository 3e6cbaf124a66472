import { validateOptions } from "../../internal/validate.js";
import { LINE_SERVER_DEFAULTS } from "../options.js";
import { createServer, type Server, type ServerOptions } from "../server.js";
import type { Protocol, Transport } from "../transport.js";

export interface AckServerOptions extends ServerOptions {
  /** The answer, sent with a trailing newline. Default "Message received". */
  message?: string | undefined;
  /**
   * Answer each complete line instead of each chunk received. Lines are then capped at
   * `maxLineLength` (default 64 KiB) and must complete within `lineTimeout` (default 30 s).
   * Default false.
   */
  perLine?: boolean | undefined;
}

/**
 * The server of asyncio's `Protocol` example: every chunk a client sends is answered at once
 * with `message` and a newline (`data_received` → `transport.write`), whatever it holds, so a
 * client that sends `hi` without a newline gets its answer. Chunk boundaries are the network's:
 * two messages that arrive together get one answer. The newline is ours (the asyncio example
 * sends none), so line-reading clients can read the answers. With `perLine`, each complete
 * line is answered instead.
 */
export function createAckServer(options: AckServerOptions = {}): Server {
  const { message = "Message received", perLine = false, ...serverOptions } = options;
  validateOptions("ack server options", { message, perLine }, { message: "string", perLine: "boolean" });
  const reply = Buffer.from(`${message}\n`);
  if (!perLine) {
    const ack = ackEachChunk(reply);
    return createServer({ protocol: () => ack }, serverOptions);
  }
  return createServer(
    async (conn) => {
      while ((await conn.readLine()) !== null) await conn.write(reply);
    },
    { ...LINE_SERVER_DEFAULTS, ...serverOptions },
  );
}

/** One stateless protocol per server: each chunk is answered with `reply`. */
function ackEachChunk(reply: Buffer): Protocol {
  return {
    borrowsChunks: true, // reads nothing of the chunk
    dataReceived(_data: Buffer, transport: Transport): void {
      transport.write(reply);
    },
  };
}
