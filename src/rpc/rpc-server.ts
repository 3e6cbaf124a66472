import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Connection } from "../connection/connection.js";
import { InvalidArgumentError } from "../errors.js";
import { type Schema, validateOptions } from "../internal/validate.js";
import {
  createServer,
  type ListenOptions,
  type Server,
  type ServerOptions,
  type ServerState,
  type ServerStats,
} from "../server/index.js";
import type { RpcHandler } from "./context.js";
import {
  DEFAULT_RPC_HIGH_WATER_MARK,
  RpcSession,
  type RpcSessionCounters,
  type ServeRpcOptions,
  serveRpcOptionsSchema,
} from "./serve.js";

/** The server options that apply to framed RPC: limits, timeouts, socket settings. */
type RpcServerOwnOptions = Pick<
  ServerOptions,
  | "maxConnections"
  | "maxConnectionsPerAddress"
  | "idleTimeout"
  | "highWaterMark"
  | "connection"
  | "handshakeTimeout"
  | "closeTimeout"
  | "noDelay"
  | "keepAlive"
  | "proxyProtocol"
>;

/**
 * Server options (limits, timeouts, TLS at listen) plus the per-connection RPC limits. The
 * `highWaterMark` (default 1 MiB) is each connection's RPC flow-control mark: past it in
 * unsent replies and pongs, a connection is not read until they drain.
 */
export interface RpcServerOptions extends RpcServerOwnOptions, Omit<ServeRpcOptions, "highWaterMark"> {}

const LINE_OPTION = { unsupported: "framed RPC has no lines; its limit is maxFrameSize" } as const;
const rpcServerSchema: Schema = {
  ...serveRpcOptionsSchema,
  maxConnections: "count?",
  maxConnectionsPerAddress: "count?",
  idleTimeout: "ms?",
  connection: "object",
  handshakeTimeout: "ms",
  closeTimeout: "ms?",
  noDelay: "boolean",
  keepAlive: "boolean",
  proxyProtocol: "object",
  maxLineLength: LINE_OPTION,
  lineTimeout: LINE_OPTION,
  slowClientPolicy: { unsupported: "an RPC server does not broadcast" },
};

/** The server's stats plus RPC totals across its connections. */
export interface RpcServerStats extends ServerStats {
  /** Requests read. */
  requests: number;
  replies: number;
  errorReplies: number;
  /** Requests the client cancelled before their reply. */
  cancelled: number;
  /** Connections closed for garbage or oversized frames. */
  protocolErrors: number;
  /**
   * Times a connection stopped reading because its unsent replies and pongs passed
   * `highWaterMark` (a client not reading them); it reads again once they drain.
   */
  slowReaderPauses: number;
  /** Handlers running now, across connections. */
  running: number;
}

/**
 * An async server that speaks the RPC protocol (docs/protocol.md) to every client: each
 * connection runs {@link serveRpc}. It is made by composition over `createServer`, so limits,
 * TLS and graceful close are the server layer's. Garbage or an oversized frame closes that
 * connection only (counted in `protocolErrors`, emitted as `error`); `close({ timeout })`
 * lets the requests already read finish and get their replies. Events (`error`) are the
 * underlying server's.
 */
export class RpcServer implements AsyncDisposable {
  readonly #server: Server;
  readonly #counters: RpcSessionCounters = {
    requests: 0,
    replies: 0,
    errorReplies: 0,
    cancelled: 0,
    protocolErrors: 0,
    slowReaderPauses: 0,
    running: 0,
  };

  /** Throws InvalidArgumentError naming the option and value when a handler or option is bad. */
  constructor(handler: RpcHandler, options: RpcServerOptions = {}) {
    if (typeof handler !== "function") {
      throw new InvalidArgumentError(`rpc handler must be a function, got ${typeof handler}`);
    }
    validateOptions("rpc server options", options, rpcServerSchema);
    const { maxConcurrent, maxFrameSize, ...serverOptions } = options;
    const session: ServeRpcOptions = {
      maxConcurrent,
      maxFrameSize,
      highWaterMark: options.highWaterMark ?? DEFAULT_RPC_HIGH_WATER_MARK,
    };
    this.#server = createServer((conn) => new RpcSession(conn, handler, session, this.#counters).run(), serverOptions);
  }

  get state(): ServerState {
    return this.#server.state;
  }

  /** See `Server.listen`. */
  listen(options?: ListenOptions): Promise<void> {
    return this.#server.listen(options);
  }

  /** See `Server.address`. */
  address(): AddressInfo | string | null {
    return this.#server.address();
  }

  /** Adds a listener for the underlying server's events (`error`: a handler or protocol error). */
  on(event: "error", listener: (err: Error, handle?: object) => void): this {
    // Handler throws become error replies, so only protocol and socket errors reach here: Errors.
    this.#server.on(event, listener as (err: unknown, handle: object | undefined) => void);
    return this;
  }

  /** The connected clients' connections, in accept order. */
  clients(): Connection[] {
    return this.#server.clients() as Connection[];
  }

  stats(): RpcServerStats {
    return { ...this.#server.stats(), ...this.#counters };
  }

  /** See `Server.close`: requests already read are answered before each connection closes. */
  close(options?: { timeout?: number | undefined }): Promise<void> {
    return this.#server.close(options);
  }

  /** See `Server.destroy`. */
  destroy(): void {
    this.#server.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates an RPC server running `handler` for each request; call `listen()` to start it. */
export function createRpcServer(handler: RpcHandler, options?: RpcServerOptions): RpcServer {
  return new RpcServer(handler, options);
}

export interface RpcEchoServerOptions extends RpcServerOptions {
  /** Milliseconds each reply waits (cancellable). Default 0. */
  delay?: number | undefined;
}

/** The built-in `rpc-echo` server: answers each request with its own payload after `delay` ms. */
export function createRpcEchoServer(options: RpcEchoServerOptions = {}): RpcServer {
  const { delay = 0, ...rest } = options;
  validateOptions("rpc-echo options", { delay }, { delay: "ms" });
  if (delay === 0) return new RpcServer((payload) => payload, rest);
  return new RpcServer(async (payload, ctx) => {
    await sleep(delay, undefined, { signal: ctx.signal });
    return payload;
  }, rest);
}
