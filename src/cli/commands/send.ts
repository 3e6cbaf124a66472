import { ConnectionClosedError, parseTarget, SocketPool } from "../../index.js";
import { type Command, type CommandContext, EXIT, str } from "../command.js";
import { parseCaFile, parseDuration, parseResolver } from "../parse.js";

const DEFAULT_TIMEOUT = "5s";

/**
 * `sockpool send TARGET MESSAGE`: one request through a pool of one socket (per replica,
 * for a service). Writes the message (plus a newline unless `--raw`), prints the reply,
 * closes the pool. The reply is the first chunk that arrives, or with `--line` exactly one
 * line. A service target picks one replica; one that refuses the connection is passed over
 * for another.
 */
export const sendCommand: Command = {
  name: "send",
  summary: "send one message through a pool and print the reply",
  usage: [
    "send HOST:PORT | tls://HOST:PORT | unix:/PATH MESSAGE [--line] [--timeout 5s] [--raw] [--ca FILE]",
    "send A,B,C | srv:_SERVICE._tcp.NAME | dns:HOST:PORT MESSAGE [--resolver IP:PORT] [same options]",
  ],
  description:
    "Writes MESSAGE followed by a newline, then prints the reply: the first bytes that arrive,\n" +
    "or with --line exactly one line (read across chunks, newline removed). A server that\n" +
    "closes without answering, refuses, or stays silent past --timeout is an error (exit 1).\n" +
    "--timeout 0 waits as long as it takes (Ctrl-C stops it). A tls:// server's certificate is\n" +
    "checked against the system's CAs, or with --ca FILE against the certificates in FILE\n" +
    "(a private CA, or a self-signed server's own certificate).\n\n" +
    "A service target (replicas: a comma list, an SRV name, every address of a host) sends to\n" +
    "one replica; a replica that refuses the connection is passed over for another, and if\n" +
    "every one refuses the error names each with its last error. The message is not resent\n" +
    "once written.",
  options: {
    line: { type: "boolean", help: "read exactly one line as the reply" },
    timeout: {
      type: "string",
      value: "DURATION",
      help: `give up connecting or waiting for the reply after this long (default ${DEFAULT_TIMEOUT}; 0: never)`,
    },
    ca: { type: "string", value: "FILE", help: "trust the PEM certificates in FILE for tls:// (a private CA)" },
    raw: { type: "boolean", help: "send MESSAGE exactly, without the trailing newline" },
    resolver: {
      type: "string",
      value: "IP:PORT",
      help: "DNS server for srv: and dns: targets (default: the system's)",
    },
  },
  positionals: { min: 2, max: 2 },
  examples: [
    "sockpool send 127.0.0.1:3000 hello",
    "sockpool send 127.0.0.1:3000 'PING' --line --timeout 250ms",
    "sockpool send unix:/tmp/sockpool.sock status",
    "sockpool send tls://127.0.0.1:3443 hello --ca ca.pem",
    "sockpool send 127.0.0.1:7001,127.0.0.1:7002 hello",
    "sockpool send srv:_echo._tcp.sp.test hello --resolver 127.0.0.1:5353",
  ],
  run: send,
};

async function send({ values, positionals, io }: CommandContext): Promise<number> {
  const [target, message] = positionals as [string, string];
  const { key } = parseTarget(target);
  // 0 is no timeout: the pool waits forever (Infinity), each read and write without a timer.
  const ms = parseDuration("--timeout", str(values, "timeout") ?? DEFAULT_TIMEOUT);
  const timeout = ms === 0 ? undefined : ms;
  const resolverFlag = str(values, "resolver");
  const resolver = resolverFlag === undefined ? undefined : parseResolver("--resolver", resolverFlag);
  const caFlag = str(values, "ca");
  const ca = caFlag === undefined ? undefined : parseCaFile("--ca", caFlag, target);
  const payload = values.raw === true ? message : `${message}\n`;
  const pool = new SocketPool({
    maxSocketsPerEndpoint: 1,
    connectTimeout: timeout ?? Number.POSITIVE_INFINITY,
    acquireTimeout: timeout ?? Number.POSITIVE_INFINITY,
    resolver,
    ...(ca !== undefined && { connect: { tls: { ca } } }),
  });
  let peer = key;
  try {
    const reply = await pool.use(target, async (conn) => {
      peer = conn.where;
      await conn.write(payload, { timeout });
      if (values.line === true) return conn.readLine({ timeout });
      const chunk = await conn.read(Number.POSITIVE_INFINITY, { timeout });
      return chunk.length === 0 ? null : chunk.toString("utf8");
    });
    if (reply === null) throw new ConnectionClosedError("reading the reply", peer);
    io.stdout.write(reply.endsWith("\n") ? reply : `${reply}\n`);
    return EXIT.ok;
  } finally {
    await pool.close({ timeout: 1000 });
  }
}
