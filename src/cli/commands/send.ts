import { ConnectionClosedError, parseEndpoint, SocketPool } from "../../index.js";
import { type Command, type CommandContext, EXIT, str } from "../command.js";
import { parseDuration } from "../parse.js";

const DEFAULT_TIMEOUT = "5s";

/**
 * `sockpool send HOST:PORT MESSAGE`: one request through a pool of one socket. Writes the
 * message (plus a newline unless `--raw`), prints the reply, closes the pool. The reply is
 * the first chunk that arrives, or with `--line` exactly one line.
 */
export const sendCommand: Command = {
  name: "send",
  summary: "send one message through a pool and print the reply",
  usage: ["send HOST:PORT MESSAGE [--line] [--timeout 5s] [--raw]"],
  description:
    "Writes MESSAGE followed by a newline, then prints the reply: the first bytes that arrive,\n" +
    "or with --line exactly one line (read across chunks, newline removed). A server that\n" +
    "closes without answering, refuses, or stays silent past --timeout is an error (exit 1).",
  options: {
    line: { type: "boolean", help: "read exactly one line as the reply" },
    timeout: {
      type: "string",
      value: "DURATION",
      help: `give up connecting or waiting for the reply after this long (default ${DEFAULT_TIMEOUT})`,
    },
    raw: { type: "boolean", help: "send MESSAGE exactly, without the trailing newline" },
  },
  positionals: { min: 2, max: 2 },
  examples: [
    "sockpool send 127.0.0.1:3000 hello",
    "sockpool send 127.0.0.1:3000 'PING' --line --timeout 250ms",
    "sockpool send unix:/tmp/sockpool.sock status",
  ],
  run: send,
};

async function send({ values, positionals, io }: CommandContext): Promise<number> {
  const [target, message] = positionals as [string, string];
  const endpoint = parseEndpoint(target);
  const timeout = parseDuration("--timeout", str(values, "timeout") ?? DEFAULT_TIMEOUT);
  const payload = values.raw === true ? message : `${message}\n`;
  const pool = new SocketPool({ maxSocketsPerEndpoint: 1, connectTimeout: timeout, acquireTimeout: timeout });
  try {
    const reply = await pool.use(endpoint, async (conn) => {
      await conn.write(payload, { timeout });
      if (values.line === true) return conn.readLine({ timeout });
      const chunk = await conn.read(Number.POSITIVE_INFINITY, { timeout });
      return chunk.length === 0 ? null : chunk.toString("utf8");
    });
    if (reply === null) throw new ConnectionClosedError("reading the reply", endpoint.key);
    io.stdout.write(reply.endsWith("\n") ? reply : `${reply}\n`);
    return EXIT.ok;
  } finally {
    await pool.close({ timeout: 1000 });
  }
}
