import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import tls from "node:tls";
import {
  type Bus,
  createAckServer,
  createChatServer,
  createEchoServer,
  createPrintServer,
  createRpcEchoServer,
  InvalidArgumentError,
  RpcServer,
  runCluster,
  type Server,
  type ServerOptions,
  TrustList,
} from "../../index.js";
import { renderPrometheus } from "../../metrics/index.js";
import { type CliIo, type Command, type CommandContext, EXIT, type FlagValues, str } from "../command.js";
import { formatMs } from "../format.js";
import { onInterrupt } from "../interrupt.js";
import { type MetricsAddress, type MetricsEndpoint, parseMetricsAddress, serveMetrics } from "../metrics-endpoint.js";
import { parseCount, parseDuration, parsePort } from "../parse.js";
import { formatBusStats, openRoom, type RoomSettings } from "../room.js";
import { clearStaleSocket } from "../unix-socket.js";

const KINDS = ["echo", "chat", "ack", "print", "rpc-echo"] as const;
type Kind = (typeof KINDS)[number];

/** Flags that only some servers take. */
const ONLY: Record<string, Kind[]> = {
  delay: ["echo", "rpc-echo"],
  once: ["echo"],
  message: ["ack"],
  "per-line": ["ack"],
  redis: ["chat"],
  room: ["chat"],
  prefix: ["chat"],
  "no-prefix": ["chat"],
};

/** Everything `serve` was asked to do, parsed. */
export interface ServeSettings {
  kind: Kind;
  host: string;
  port: number;
  /** --path: a Unix socket instead of host and port. */
  path: string | undefined;
  /** --tls: the certificate and key read from --cert and --key. */
  tls: { cert: Buffer; key: Buffer } | undefined;
  handshakeTimeout: number;
  /** --proxy-protocol: the balancers trusted (--trust-proxy; the server's default without it). */
  proxy: { trust: TrustList | undefined } | undefined;
  /** chat: tag each relayed line with its sender (--no-prefix turns it off). */
  prefix: boolean;
  delay: number;
  once: boolean;
  message: string | undefined;
  perLine: boolean;
  maxConnections: number | undefined;
  workers: number;
  closeTimeout: number;
  /** chat --redis: the room shared through Redis. */
  room: RoomSettings | undefined;
  /** --metrics: where to serve Prometheus metrics on /metrics. */
  metrics: MetricsAddress | undefined;
}

export const serveCommand: Command = {
  name: "serve",
  summary: "run a built-in server: echo, chat, ack, print or rpc-echo",
  usage: [
    "serve echo     [--host H] [--port P] [--delay 1s] [--once]",
    "serve chat     [--host H] [--port P] [--no-prefix] [--redis URL [--room NAME]]",
    "serve ack      [--host H] [--port P] [--message TEXT] [--per-line]",
    "serve print    [--host H] [--port P]",
    "serve rpc-echo [--host H] [--port P] [--delay 1s]",
  ],
  description:
    "echo      sends back every chunk it gets (after --delay; with --once, answers one\n" +
    "          message and closes: a one-shot server a pool must not reuse)\n" +
    "chat      sends every line to every other client: of every worker with --workers,\n" +
    "          and of every serve chat on the same Redis and --room with --redis\n" +
    "ack       answers each chunk it receives with --message and a newline, at once, as\n" +
    "          asyncio's Protocol example does (with --per-line, each complete line)\n" +
    "print     prints each line on stdout, prefixed by the client's address, control\n" +
    "          characters escaped; a last line without a newline is marked as partial\n" +
    "rpc-echo  answers each request of the multiplexed RPC protocol with its payload\n" +
    "          (after --delay; many in flight per socket); load it with bench --rpc\n\n" +
    "Every kind serves on a Unix socket with --path, and TLS (1.2 or later) with --tls\n" +
    "--cert FILE --key FILE; a client must finish its handshake within --handshake-timeout.\n" +
    "Behind a load balancer (HAProxy send-proxy / send-proxy-v2), --proxy-protocol reads each\n" +
    "client's PROXY header (v1 or v2, before TLS) from the peers --trust-proxy lists (default\n" +
    "127.0.0.1,::1), so logs and limits see the real client; other peers are refused.\n" +
    "--metrics HOST:PORT serves the server's and the process's metrics to Prometheus on\n" +
    "http://HOST:PORT/metrics (docs/metrics.md lists them).\n" +
    "chat tags each line with its sender (127.0.0.1:50312: hello) unless --no-prefix.\n\n" +
    'Prints "<kind> server listening on HOST:PORT" once bound. Ctrl-C or SIGTERM closes\n' +
    "gracefully: stops accepting, lets clients finish for up to --close-timeout, exits 0;\n" +
    "a second Ctrl-C forces (exit 130). Binds 127.0.0.1 unless --host says otherwise.",
  options: {
    host: { type: "string", value: "HOST", help: 'address to bind (default 127.0.0.1; "::" for all)' },
    port: { type: "string", value: "PORT", help: "port to bind, 0 for any free one (default 3000)" },
    path: { type: "string", value: "SOCK", help: "serve on this Unix socket instead (a stale one is replaced)" },
    tls: { type: "boolean", help: "serve TLS 1.2+ with --cert and --key" },
    cert: { type: "string", value: "FILE", help: "--tls: the certificate chain, PEM" },
    key: { type: "string", value: "FILE", help: "--tls: the private key, PEM" },
    "handshake-timeout": { type: "string", value: "DURATION", help: "--tls: handshake deadline (default 5s)" },
    "proxy-protocol": { type: "boolean", help: "read a PROXY protocol header (v1/v2) from each client" },
    "trust-proxy": {
      type: "string",
      value: "CIDR,...",
      help: "--proxy-protocol: the balancers believed (default 127.0.0.1,::1)",
    },
    prefix: { type: "boolean", help: "chat: tag each line with its sender (the default)" },
    "no-prefix": { type: "boolean", help: "chat: relay lines as sent" },
    delay: { type: "string", value: "DURATION", help: "echo, rpc-echo: answer each message after this long" },
    once: { type: "boolean", help: "echo: answer one message per connection, then close it" },
    message: { type: "string", value: "TEXT", help: 'ack: the answer (default "Message received")' },
    "per-line": { type: "boolean", help: "ack: answer each complete line instead of each chunk" },
    "max-connections": { type: "string", value: "N", help: "clients beyond N are closed at once" },
    workers: { type: "string", value: "N", help: "serve from N processes (node:cluster) sharing the port" },
    redis: { type: "string", value: "URL", help: "chat: share the room through Redis (redis://127.0.0.1:6379)" },
    room: { type: "string", value: "NAME", help: 'chat --redis: the room to join (default "chat")' },
    "close-timeout": { type: "string", value: "DURATION", help: "graceful close deadline (default 5s)" },
    metrics: { type: "string", value: "HOST:PORT", help: "serve Prometheus metrics on http://HOST:PORT/metrics" },
  },
  positionals: { min: 1, max: 1 },
  examples: [
    "sockpool serve echo --port 3000 --delay 1s",
    "sockpool serve echo --port 0 --once",
    "sockpool serve echo --path /tmp/echo.sock",
    "sockpool serve echo --tls --cert server.pem --key server-key.pem",
    "sockpool serve print --proxy-protocol --trust-proxy 10.0.0.0/8,fd00::/8",
    "sockpool serve echo --metrics 127.0.0.1:9464",
    "sockpool serve chat --host :: --port 4000 --max-connections 1000",
    'sockpool serve ack --message "OK"',
    "sockpool serve ack --per-line",
    "sockpool serve print --workers 4",
    "sockpool serve chat --workers 4 --redis redis://127.0.0.1:6379 --room lobby",
  ],
  run: (ctx) => serve(ctx),
};

/** Parses and cross-checks `serve` flags; throws InvalidArgumentError naming the flag. */
export function serveSettings(values: FlagValues, kindText: string): ServeSettings {
  if (!(KINDS as readonly string[]).includes(kindText)) {
    throw new InvalidArgumentError(
      `serve: unknown server ${JSON.stringify(kindText)}; choose one of ${KINDS.join(", ")}`,
    );
  }
  const kind = kindText as Kind;
  for (const [flag, only] of Object.entries(ONLY)) {
    if (values[flag] !== undefined && !only.includes(kind)) {
      const which = only.map((k) => `"serve ${k}"`).join(" and ");
      throw new InvalidArgumentError(`--${flag} applies to ${which} only, not "serve ${kind}"`);
    }
  }
  const max = str(values, "max-connections");
  const workers = str(values, "workers");
  const redis = str(values, "redis");
  const room = str(values, "room");
  if (room !== undefined && redis === undefined) {
    throw new InvalidArgumentError(
      `--room ${JSON.stringify(room)} needs --redis URL: the room is shared through Redis`,
    );
  }
  if (values.prefix === true && values["no-prefix"] === true) {
    throw new InvalidArgumentError("--prefix and --no-prefix contradict each other; give one");
  }
  const metrics = str(values, "metrics");
  if (metrics !== undefined && workers !== undefined && workers !== "1") {
    throw new InvalidArgumentError(
      `--metrics ${JSON.stringify(metrics)} serves one process's stats; it does not combine with --workers ${workers}`,
    );
  }
  const path = str(values, "path");
  if (path !== undefined) {
    const both = ["host", "port"].filter((f) => values[f] !== undefined).map((f) => `--${f}`);
    if (both.length > 0) {
      throw new InvalidArgumentError(`--path ${JSON.stringify(path)} serves a Unix socket; drop ${both.join(" and ")}`);
    }
    if (path === "") throw new InvalidArgumentError('--path must name a file, got ""');
  }
  return {
    kind,
    host: str(values, "host") ?? "127.0.0.1",
    port: parsePort("--port", str(values, "port") ?? "3000"),
    path,
    tls: tlsSettings(values),
    proxy: proxySettings(values),
    handshakeTimeout: parseDuration("--handshake-timeout", str(values, "handshake-timeout") ?? "5s", {
      positive: true,
    }),
    prefix: values["no-prefix"] !== true,
    delay: parseDuration("--delay", str(values, "delay") ?? "0"),
    once: values.once === true,
    message: str(values, "message"),
    perLine: values["per-line"] === true,
    maxConnections: max === undefined ? undefined : parseCount("--max-connections", max),
    workers: workers === undefined ? 1 : parseCount("--workers", workers, 1, 256),
    closeTimeout: parseDuration("--close-timeout", str(values, "close-timeout") ?? "5s"),
    room: redis === undefined ? undefined : { url: redis, room: room ?? "chat" },
    metrics: metrics === undefined ? undefined : parseMetricsAddress(metrics),
  };
}

/**
 * `--tls --cert FILE --key FILE`, read and checked now: a missing file, a PEM that does not
 * parse or a key that does not match the certificate is one error naming the flag, before
 * anything listens.
 */
function tlsSettings(values: FlagValues): ServeSettings["tls"] {
  const cert = str(values, "cert");
  const key = str(values, "key");
  const extra = ["cert", "key", "handshake-timeout"].filter((f) => values[f] !== undefined);
  if (values.tls !== true) {
    if (extra.length === 0) return undefined;
    throw new InvalidArgumentError(`--${extra[0]} applies to --tls only; add --tls to serve TLS`);
  }
  if (cert === undefined || key === undefined) {
    throw new InvalidArgumentError(
      `--tls needs --cert FILE and --key FILE (missing ${cert === undefined ? "--cert" : "--key"})`,
    );
  }
  const pem = { cert: readPem("--cert", cert), key: readPem("--key", key) };
  try {
    tls.createSecureContext(pem);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidArgumentError(
      `--cert ${JSON.stringify(cert)} and --key ${JSON.stringify(key)} cannot serve TLS: ${why}`,
    );
  }
  return pem;
}

/** `--proxy-protocol [--trust-proxy CIDR,...]`, the list checked now (each entry named when bad). */
function proxySettings(values: FlagValues): ServeSettings["proxy"] {
  const text = str(values, "trust-proxy");
  if (values["proxy-protocol"] !== true) {
    if (text === undefined) return undefined;
    throw new InvalidArgumentError(
      `--trust-proxy ${JSON.stringify(text)} applies to --proxy-protocol only; add --proxy-protocol`,
    );
  }
  if (text === undefined) return { trust: undefined };
  try {
    return { trust: new TrustList(text.split(",").map((entry) => entry.trim())) };
  } catch (err) {
    throw new InvalidArgumentError(`--trust-proxy ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const why = (err as { code?: string }).code ?? String(err);
    throw new InvalidArgumentError(`${flag} ${JSON.stringify(file)} cannot be read (${why})`);
  }
}

/**
 * Builds the server `settings` describe; `io` receives the print server's lines. `bus` is
 * chat's room (left out in a worker, whose server joins the workers' room).
 */
export function buildServer(s: ServeSettings, io: CliIo, bus?: Bus): Server | RpcServer {
  const options: ServerOptions = {
    ...(s.maxConnections !== undefined && { maxConnections: s.maxConnections }),
    ...(s.tls && { handshakeTimeout: s.handshakeTimeout }),
    ...(s.proxy && { proxyProtocol: s.proxy.trust ? { trust: s.proxy.trust.toJSON() } : {} }),
  };
  switch (s.kind) {
    case "echo":
      return createEchoServer({ ...options, delay: s.delay, once: s.once });
    case "chat":
      return createChatServer({ ...options, bus, prefix: s.prefix });
    case "ack":
      return createAckServer({ ...options, message: s.message, perLine: s.perLine });
    case "print":
      return createPrintServer({ ...options, log: (line) => io.stdout.write(`${line}\n`) });
    case "rpc-echo":
      return createRpcEchoServer({ ...options, delay: s.delay });
  }
}

async function serve({ values, positionals, io }: CommandContext): Promise<number> {
  const s = serveSettings(values, positionals[0]!);
  if (s.path !== undefined && cluster.isPrimary) await clearStaleSocket(s.path);
  if (s.workers > 1) return serveCluster(s, io);
  const bus = s.room ? await openRoom(s.room, io) : undefined;
  const server = await startServer(s, io, bus);
  const metrics = s.metrics && (await startMetrics(s.metrics, s.kind, server));
  const stopped = interrupted(() => server.destroy());
  try {
    io.stdout.write(
      `${s.kind} server listening on ${where(s, server.address())}${inRoom(s)}${behind(s)} (Ctrl-C to stop)\n`,
    );
    if (metrics) io.stdout.write(`metrics on ${metrics.url}\n`);
    const signal = await stopped.signal;
    const clients = server.stats().current;
    io.stderr.write(`${signal}: closing, up to ${formatMs(s.closeTimeout)} for ${clients} clients (again to force)\n`);
    await server.close({ timeout: s.closeTimeout });
    io.stderr.write(`closed after serving ${server.stats().total} clients\n`);
    if (bus) io.stderr.write(`redis bus: ${formatBusStats(bus.stats())}\n`);
    return EXIT.ok;
  } finally {
    await metrics?.close();
    stopped.remove();
  }
}

/**
 * Serves `server`'s stats (labelled with its kind) and the process's, the event loop delay
 * included, on `at`; closing the endpoint stops the delay monitor too. When the endpoint
 * cannot listen, destroys the server so the process can exit with the error.
 */
async function startMetrics(at: MetricsAddress, kind: Kind, server: Server | RpcServer): Promise<MetricsEndpoint> {
  const loop = monitorEventLoopDelay();
  loop.enable();
  const render = () => renderPrometheus({ servers: { [kind]: server }, process: true, eventLoopDelay: loop });
  try {
    const endpoint = await serveMetrics(at, render);
    return { url: endpoint.url, close: () => endpoint.close().finally(() => loop.disable()) };
  } catch (err) {
    loop.disable();
    server.destroy();
    throw err;
  }
}

/** Builds the server, reports its errors on stderr, and listens. */
async function startServer(s: ServeSettings, io: CliIo, bus?: Bus): Promise<Server | RpcServer> {
  const server = buildServer(s, io, bus);
  const onError = (err: unknown): void => void io.stderr.write(errorLine(err));
  // Two branches: a call on the union cannot pick between Server's typed `on` and RpcServer's.
  if (server instanceof RpcServer) server.on("error", onError);
  else server.on("error", onError);
  const on = s.path !== undefined ? { path: s.path } : { host: s.host, port: s.port };
  await server.listen({ ...on, ...(s.tls && { tls: s.tls }) });
  return server;
}

/**
 * `--workers N`: the primary forks N processes that re-run this command line and share the
 * port; it prints where they listen and, on Ctrl-C, asks each to close gracefully. A worker
 * handles its own signals (see runCluster) and returns once its server has closed. The
 * primary relays chat lines between the workers, and with --redis joins the Redis room for
 * all of them (one pair of Redis connections per host).
 */
async function serveCluster(s: ServeSettings, io: CliIo): Promise<number> {
  const bus = s.room && cluster.isPrimary ? await openRoom(s.room, io) : undefined;
  const handle = await runCluster({
    workers: s.workers,
    closeTimeout: s.closeTimeout,
    start: () => startServer(s, io),
    bus,
  });
  if (!handle.isPrimary) {
    await handle.closed;
    return EXIT.ok;
  }
  const stopped = interrupted(() => handle.destroy());
  try {
    io.stdout.write(
      `${s.kind} server listening on ${where(s, handle.address)} with ${s.workers} workers${inRoom(s)}${behind(s)} (Ctrl-C to stop)\n`,
    );
    const first = await Promise.race([stopped.signal, handle.closed.then(() => "exited" as const)]);
    if (first === "exited") {
      io.stderr.write(`ERR_SOCKPOOL_SERVER_CLOSED: every worker exited on its own; see their errors above\n`);
      return EXIT.error;
    }
    io.stderr.write(`closing ${s.workers} workers, up to ${formatMs(s.closeTimeout)} each (again to force)\n`);
    await handle.close();
    io.stderr.write("closed\n");
    if (bus) io.stderr.write(`redis bus: ${formatBusStats(bus.stats())}\n`);
    return EXIT.ok;
  } finally {
    stopped.remove();
  }
}

/** ` behind a balancer (PROXY protocol from 10.0.0.0/8)`, or nothing. */
function behind(s: ServeSettings): string {
  if (!s.proxy) return "";
  const trust = s.proxy.trust?.toJSON().join(",") ?? "127.0.0.1,::1";
  return ` behind a balancer (PROXY protocol from ${trust})`;
}

/** ` in room "lobby" on redis://host:6379`, or nothing (the password, if any, hidden). */
function inRoom(s: ServeSettings): string {
  if (!s.room) return "";
  let url = s.room.url;
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    url = u.toString().replace(/\/$/, "");
  } catch {
    // redisBus refused it already
  }
  return ` in room ${JSON.stringify(s.room.room)} on ${url}`;
}

/** The first SIGINT/SIGTERM resolves `signal`; a second one calls `force`, then exits 130. */
function interrupted(force: () => void): { signal: Promise<NodeJS.Signals>; remove: () => void } {
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  return { signal, remove: onInterrupt(stop, force) };
}

/** Where the server listens, as `send` and `bench` take it: `tls://` in front for TLS. */
function where(s: ServeSettings, address: AddressInfo | string | null): string {
  return `${s.tls ? "tls://" : ""}${formatAddress(address)}`;
}

/** `127.0.0.1:3000`, `[::1]:3000`, or a Unix path. */
export function formatAddress(address: AddressInfo | string | null): string {
  if (address === null) return "(not listening)";
  if (typeof address === "string") return `unix:${address}`;
  return address.family === "IPv6" ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** `code: message` for a reported error (its name when it has no code). */
function errorLine(err: unknown): string {
  if (!(err instanceof Error)) return `error: ${String(err)}\n`;
  const code = (err as { code?: unknown }).code;
  return `${typeof code === "string" ? code : err.name}: ${err.message}\n`;
}
