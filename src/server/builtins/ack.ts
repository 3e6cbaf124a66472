import { validateOptions } from "../../internal/validate.js";
import { LINE_SERVER_DEFAULTS } from "../options.js";
import { createServer, type Server, type ServerOptions } from "../server.js";

export interface AckServerOptions extends ServerOptions {
  /** The answer to each line. Default "Message received". */
  message?: string | undefined;
}

/** Answers each line a client sends with `message` and a newline. */
export function createAckServer(options: AckServerOptions = {}): Server {
  const { message = "Message received", ...serverOptions } = options;
  validateOptions("ack server options", { message }, { message: "string" });
  const reply = Buffer.from(`${message}\n`);
  return createServer(
    async (conn) => {
      while ((await conn.readLine()) !== null) await conn.write(reply);
    },
    { ...LINE_SERVER_DEFAULTS, ...serverOptions },
  );
}
