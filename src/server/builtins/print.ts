import { validateOptions } from "../../internal/validate.js";
import { LINE_SERVER_DEFAULTS } from "../options.js";
import { createServer, type Server, type ServerOptions } from "../server.js";

export interface PrintServerOptions extends ServerOptions {
  /** Where each line goes. Default `console.log`. */
  log?: ((line: string) => void) | undefined;
}

/** Logs each line a client sends, prefixed by the client's address: `127.0.0.1:50312: hello`. */
export function createPrintServer(options: PrintServerOptions = {}): Server {
  const { log = console.log, ...serverOptions } = options;
  validateOptions("print server options", { log }, { log: "function" });
  return createServer(
    async (conn) => {
      for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) log(`${conn.where}: ${line}`);
    },
    { ...LINE_SERVER_DEFAULTS, ...serverOptions },
  );
}
