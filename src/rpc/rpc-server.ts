import { setTimeout as sleep } from "node:timers/promises";
import { InvalidArgumentError } from "../errors.js";
import { validateOptions } from "../internal/validate.js";
import { Server, type ServerOptions, type ServerStats } from "../server/server.js";
import type { RpcHandler } from "./context.js";
import { RpcSession, type RpcSessionCounters, type ServeRpcOptions, serveRpcOptionsSchema } from "./serve.js";

/**
 * Server options (limits, timeouts, TLS at listen) plus the per-connection RPC limits. The
 * server's `highWaterMark` (default 1 MiB) is also each connection's RPC flow-control mark:
 * past it in unsent replies and pongs, a connection is not read until they drain.
 */
export interface RpcServerOptions extends Omit<ServerOptions, "maxLineLength" | "lineTimeout">, ServeRpcOptions {}

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
}

/**
 * An async server that speaks the RPC protocol (docs/protocol.md) to every client: each
 * connection runs {@link serveRpc}. Garbage or an oversized frame closes that connection
 * only (counted in `protocolErrors`, emitted as `error`); `close({ timeout })` lets the
 * requests already read finish and get their replies.
 */
export class RpcServer extends Server {
  readonly #counters: RpcSessionCounters;

  constructor(handler: RpcHandler, options: RpcServerOptions = {}) {
    if (typeof handler !== "function")
      throw new InvalidArgumentError(`rpc handler must be a function, got ${typeof handler}`);
    const { maxConcurrent, maxFrameSize, ...serverOptions } = options as RpcServerOptions & ServerOptions;
    const rpc: ServeRpcOptions = { maxConcurrent, maxFrameSize };
    validateOptions("rpc server options", rpc, serveRpcOptionsSchema);
    for (const key of ["maxLineLength", "lineTimeout"] as const) {
      if (serverOptions[key] !== undefined)
        throw new InvalidArgumentError(`rpc server options: ${key} does not apply to framed RPC; use maxFrameSize`);
    }
    const counters: RpcSessionCounters = {
      requests: 0,
      replies: 0,
      errorReplies: 0,
      cancelled: 0,
      protocolErrors: 0,
      slowReaderPauses: 0,
    };
    super((conn) => new RpcSession(conn, handler, rpc, counters).run(), serverOptions);
    rpc.highWaterMark = this.highWaterMark; // validated and defaulted by the server layer
    this.#counters = counters;
  }

  override stats(): RpcServerStats {
    return { ...super.stats(), ...this.#counters };
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
