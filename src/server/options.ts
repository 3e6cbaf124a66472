import type tls from "node:tls";
import { DEFAULT_MAX_LINE } from "../codec/lines.js";
import type { ConnectionOptions } from "../connection/connection.js";
import { MAX_UNIX_PATH_BYTES } from "../endpoint.js";
import { InvalidArgumentError, quote } from "../errors.js";
import { TrustList } from "../internal/cidr.js";
import { MAX_TIMER_MS } from "../internal/timer.js";
import { type Schema, validateOptions } from "../internal/validate.js";
import { type Bus, type BusStats, checkBus } from "./bus.js";
import type { ReadPath } from "./fast-read.js";
import type { SlowClientPolicy } from "./hub.js";
import type { ProxySettings } from "./proxy-headers.js";

/** Behind a load balancer: read the PROXY protocol header (v1 or v2) of every connection. */
export interface ProxyProtocolOptions {
  /**
   * The balancers whose headers are believed: IPv4 and IPv6 addresses and CIDR blocks
   * (`"10.0.0.0/8"`, `"fd00::/8"`). Default `["127.0.0.1", "::1"]`, a balancer on this host.
   * A header from any other peer closes the connection (`ProxyProtocolError`, reason
   * `untrusted`). Peers on a Unix socket are trusted.
   */
  trust?: readonly string[] | undefined;
  /**
   * A trusted peer must send a header, or it is closed (reason `missing`); an untrusted
   * peer is closed at accept. Default true. `false` serves peers without a header as
   * themselves (a header from an untrusted one still closes it).
   */
  required?: boolean | undefined;
  /**
   * The header must be complete this long after accept (a hard deadline, however the peer
   * trickles), or the socket is closed (reason `timeout`). Default 5000; past 2^31-1 ms (or
   * Infinity) means never.
   */
  timeout?: number | undefined;
}

/** Every duration is in ms; every limit is off (Infinity) unless set. */
export interface ServerOptions {
  /** Clients beyond this are closed at once and counted as `rejected`. `0` is rejected as ambiguous. */
  maxConnections?: number | undefined;
  /** Same, per remote address. */
  maxConnectionsPerAddress?: number | undefined;
  /** Close a client that sends and receives nothing for this long. */
  idleTimeout?: number | undefined;
  /** Line-based servers: close a client whose line passes this many bytes (without `\n`). */
  maxLineLength?: number | undefined;
  /** Line-based servers: close a client whose line is not complete this long after its first byte. */
  lineTimeout?: number | undefined;
  /** Per-client cap on unsent bytes for broadcasts and protocol flow control. Default 1 MiB. */
  highWaterMark?: number | undefined;
  /** Broadcast past `highWaterMark`: `drop` the message for that client or `disconnect` it (default). */
  slowClientPolicy?: SlowClientPolicy | undefined;
  /** Options of each stream handler's Connection (`limit` defaults to `maxLineLength`). */
  connection?: ConnectionOptions | undefined;
  /**
   * TLS servers: a handshake must finish within this long after accept (a hard deadline,
   * however the client trickles), or the socket is destroyed and counted in `tlsErrors`.
   * Default 5000; past 2^31-1 ms (or Infinity) means never.
   */
  handshakeTimeout?: number | undefined;
  /** `close()` without a timeout waits this long for handlers. Default 10 000. */
  closeTimeout?: number | undefined;
  /** Disable Nagle's algorithm on accepted sockets. Default true. */
  noDelay?: boolean | undefined;
  /** TCP keep-alive probes on accepted sockets (first after 30 s). Default true. */
  keepAlive?: boolean | undefined;
  /**
   * The room this server's `broadcast()` shares with other processes (see {@link Bus}): the
   * server joins it in `listen()` (which rejects if the bus cannot start) and closes it in
   * `close()`. Inside `runCluster`'s `start()` the default is the workers' room; `null` means
   * none, this process only.
   */
  bus?: Bus | null | undefined;
  /**
   * Read accepted TCP and Unix sockets into one reused buffer (Node's `onread`) instead of a
   * fresh allocation per read. Default true; it runs only where Node's internals are as
   * tested (`stats().readPath` says which path is in use), never for TLS. `false` keeps
   * Node's public `'data'` path. Handlers see no difference: their chunks are their own.
   */
  fastRead?: boolean | undefined;
  /**
   * Read a PROXY protocol header (v1 or v2) before each connection's first byte, and report
   * the client it names as the connection's `remoteAddress`, `remotePort` and `where`, for
   * `maxConnectionsPerAddress`, logs and events; the balancer is `proxiedBy`. With TLS the
   * header comes before the handshake. See docs/proxy-protocol.md.
   */
  proxyProtocol?: ProxyProtocolOptions | undefined;
}

export interface ServerStats {
  state: ServerState;
  /** Clients connected now. */
  current: number;
  /** Clients accepted since listen. */
  total: number;
  /** Clients closed at once for `maxConnections` or `maxConnectionsPerAddress`. */
  rejected: number;
  bytesIn: number;
  bytesOut: number;
  /** Broadcast messages skipped for slow clients (`drop` policy). */
  dropped: number;
  /** Clients closed for being slow (`disconnect` policy). */
  slowDisconnects: number;
  idleTimeouts: number;
  lineTimeouts: number;
  linesTooLong: number;
  /** Handler or protocol errors (each also emitted as `error`). */
  handlerErrors: number;
  /** Handlers that ended on the client's own reset or close. */
  clientErrors: number;
  /** TLS handshakes that failed or timed out (a peer's FIN or reset before the end counts too). */
  tlsErrors: number;
  /**
   * Sockets accepted and still in their TLS handshake or PROXY protocol header (not yet
   * clients: not in `current`).
   */
  handshaking: number;
  /**
   * Connections closed for the PROXY protocol (`proxyProtocol`): an untrusted peer, a missing,
   * malformed or late header. Each is also emitted as `error` (a `ProxyProtocolError`) when
   * the server has an `error` listener.
   */
  proxyRefused: number;
  /** PROXY protocol headers with the LOCAL command: the balancer's own connections (health checks). */
  proxyLocal: number;
  /**
   * PROXY protocol connections whose peer reset before the server could read its address
   * (HAProxy's health checks do, at once): their header is never believed and nobody is
   * served. A LOCAL header among them still counts in `proxyLocal`; the rest count here.
   */
  proxyVanished: number;
  /** The broadcast bus's counters, when the server has one. */
  bus?: BusStats;
  /**
   * How new clients are read: `onread` (the fast path, into one reused buffer) or `data`
   * (Node's public path: TLS, `fastRead: false`, or a Node whose internals differ from
   * those tested).
   */
  readPath: ReadPath;
}

/** `idle → listening → closing → closed`; `idle → closed` when closed before listening. */
export type ServerState = "idle" | "listening" | "closing" | "closed";

/** Where and how to listen. */
export interface ListenOptions {
  /** Default 127.0.0.1 (never every interface by accident). `"::"` accepts IPv4 and IPv6. */
  host?: string | undefined;
  /** Default 0: any free port; `server.address().port` tells which. */
  port?: number | undefined;
  /** A Unix socket path instead of host and port. */
  path?: string | undefined;
  /** Serve TLS: certificates and settings for `tls.createServer`. TLS 1.2 is the minimum. */
  tls?: (tls.TlsOptions & tls.SecureContextOptions) | undefined;
  /** Length of the kernel's queue of unaccepted connections. */
  backlog?: number | undefined;
  /** With `host: "::"`, accept IPv6 only. Default false (dual stack). */
  ipv6Only?: boolean | undefined;
}

export const serverOptionsSchema: Schema = {
  maxConnections: "count?",
  maxConnectionsPerAddress: "count?",
  idleTimeout: "ms?",
  maxLineLength: "bytes",
  lineTimeout: "ms?",
  highWaterMark: "bytes",
  slowClientPolicy: { oneOf: ["drop", "disconnect"] },
  connection: "object",
  handshakeTimeout: "ms?",
  closeTimeout: "ms?",
  noDelay: "boolean",
  keepAlive: "boolean",
  bus: "object",
  fastRead: "boolean",
  proxyProtocol: "object",
};

const proxyProtocolSchema: Schema = { trust: "object", required: "boolean", timeout: "ms?" };

/** The CLI's and the option's default trust: a balancer on this host. */
export const DEFAULT_PROXY_TRUST: readonly string[] = ["127.0.0.1", "::1"];

export const listenOptionsSchema: Schema = {
  host: "string",
  port: "count0",
  path: "string",
  tls: "object",
  backlog: "count",
  ipv6Only: "boolean",
};

const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"];

/**
 * Options for `tls.createServer`: TLS 1.2 minimum (lower is refused). The handshake deadline
 * is the server's own (see Handshakes): Node's idle timer cannot be turned off (0 means its
 * 120 s default), so it gets the longest delay a timer takes. Sockets are not half-open
 * until their handshake completes, so a FIN before it closes them.
 */
export function tlsServerOptions(options: tls.TlsOptions): tls.TlsOptions {
  const minVersion = options.minVersion ?? "TLSv1.2";
  if (!TLS_VERSIONS.includes(minVersion)) {
    throw new InvalidArgumentError(
      `listen options.tls.minVersion must be TLSv1.2 or TLSv1.3, got ${quote(minVersion)}`,
    );
  }
  return { ...options, allowHalfOpen: false, minVersion, handshakeTimeout: MAX_TIMER_MS };
}

/** Checks what `listen()` binds to before any I/O. */
export function checkListenTarget(port: number, path: string | undefined): void {
  if (port > 65_535) throw new InvalidArgumentError(`listen options.port must be 0–65535, got ${port}`);
  if (path !== undefined && Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    throw new InvalidArgumentError(
      `listen options.path is longer than ${MAX_UNIX_PATH_BYTES} bytes (${Buffer.byteLength(path)}), got ${quote(path)}`,
    );
  }
}

/** The limits every line-based built-in server starts from (ack --per-line, chat, print). */
export const LINE_SERVER_DEFAULTS = { maxLineLength: DEFAULT_MAX_LINE, lineTimeout: 30_000 } as const;

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/** Server options after defaults: what the server and its sessions read. Internal. */
export interface ServerSettings {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number | undefined;
  readonly idleTimeout: number;
  readonly maxLineLength: number;
  readonly lineTimeout: number;
  readonly highWaterMark: number;
  readonly slowClientPolicy: SlowClientPolicy;
  /** Each stream handler's Connection options (`limit` defaults to `maxLineLength`). */
  readonly connection: ConnectionOptions;
  readonly handshakeTimeout: number;
  readonly closeTimeout: number;
  readonly noDelay: boolean;
  readonly keepAlive: boolean;
  readonly fastRead: boolean;
  /** Whether the line guard runs: a line limit or deadline is set. */
  readonly guardsLines: boolean;
  /** The bus option as given: undefined means the default (see ServerOptions.bus). */
  readonly bus: Bus | null | undefined;
  /** `proxyProtocol` after defaults, or undefined when off. */
  readonly proxy: ProxySettings | undefined;
}

/**
 * Checks server options once (InvalidArgumentError naming the key and value; `0` for a
 * connection limit is refused as ambiguous) and fills in the defaults.
 */
export function resolveServerOptions(options: ServerOptions = {}): ServerSettings {
  if (options?.maxConnections === 0 || options?.maxConnectionsPerAddress === 0) {
    const key = options.maxConnections === 0 ? "maxConnections" : "maxConnectionsPerAddress";
    throw new InvalidArgumentError(`server options.${key} 0 is ambiguous: use Infinity for no limit, got 0`);
  }
  const bus = options?.bus;
  validateOptions("server options", bus === null ? { ...options, bus: undefined } : options, serverOptionsSchema);
  if (bus !== undefined && bus !== null) checkBus("server options.bus", bus);
  const maxLineLength = options.maxLineLength ?? Number.POSITIVE_INFINITY;
  const lineTimeout = options.lineTimeout ?? Number.POSITIVE_INFINITY;
  const limit = options.connection?.limit ?? options.maxLineLength;
  return {
    maxConnections: options.maxConnections ?? Number.POSITIVE_INFINITY,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress,
    idleTimeout: options.idleTimeout ?? Number.POSITIVE_INFINITY,
    maxLineLength,
    lineTimeout,
    highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    slowClientPolicy: options.slowClientPolicy ?? "disconnect",
    connection: { ...options.connection, ...(limit !== undefined && { limit }) },
    handshakeTimeout: options.handshakeTimeout ?? 5000,
    closeTimeout: options.closeTimeout ?? 10_000,
    noDelay: options.noDelay ?? true,
    keepAlive: options.keepAlive ?? true,
    fastRead: options.fastRead ?? true,
    guardsLines: Number.isFinite(maxLineLength) || Number.isFinite(lineTimeout),
    bus,
    proxy: resolveProxyProtocol(options.proxyProtocol),
  };
}

/** Checks `proxyProtocol` (InvalidArgumentError naming the key and value) and fills in the defaults. */
function resolveProxyProtocol(options: ProxyProtocolOptions | undefined): ProxySettings | undefined {
  if (options === undefined) return undefined;
  validateOptions("server options.proxyProtocol", options, proxyProtocolSchema);
  const entries = options.trust ?? DEFAULT_PROXY_TRUST;
  let trust: TrustList;
  try {
    trust = new TrustList(entries);
  } catch (err) {
    throw new InvalidArgumentError(`server options.proxyProtocol.trust: ${(err as Error).message}`);
  }
  return { trust, required: options.required ?? true, timeout: options.timeout ?? 5000 };
}
