import { IncompleteReadError } from "../../errors.js";
import { validateOptions } from "../../internal/validate.js";
import { LINE_SERVER_DEFAULTS } from "../options.js";
import { createServer, type Server, type ServerOptions } from "../server.js";

export interface PrintServerOptions extends ServerOptions {
  /** Where each line goes. Default `console.log`. */
  log?: ((line: string) => void) | undefined;
}

/** What marks a last line the client ended without a newline. */
export const PARTIAL_LINE_MARK = " [no newline before EOF]";

/**
 * Logs each line a client sends, prefixed by the client's address: `127.0.0.1:50312: hello`.
 * Control characters (and Unicode's invisible direction overrides) are shown escaped, such as
 * `\x1b` or `\u202e`, so a client cannot drive the operator's terminal. A last line ended by
 * EOF instead of a newline is logged too, marked with {@link PARTIAL_LINE_MARK}.
 */
export function createPrintServer(options: PrintServerOptions = {}): Server {
  const { log = console.log, ...serverOptions } = options;
  validateOptions("print server options", { log }, { log: "function" });
  return createServer(
    async (conn) => {
      for (;;) {
        let line: Buffer;
        try {
          line = await conn.readUntil("\n");
        } catch (err) {
          if (!(err instanceof IncompleteReadError)) throw err;
          if (err.partial.length > 0)
            log(`${conn.where}: ${printable(err.partial.toString("utf8"))}${PARTIAL_LINE_MARK}`);
          return;
        }
        const end = line.length > 1 && line[line.length - 2] === 0x0d ? 2 : 1;
        log(`${conn.where}: ${printable(line.toString("utf8", 0, line.length - end))}`);
      }
    },
    { ...LINE_SERVER_DEFAULTS, ...serverOptions },
  );
}

// C0 controls but tab, DEL, C1 controls, and the bidirectional overrides and isolates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with its control characters written as escapes, so printing it is harmless. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}
