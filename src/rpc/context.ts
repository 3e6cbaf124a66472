import type { Connection, ProxiedBy } from "../connection/connection.js";

/** What a handler may return: bytes, a string (sent as UTF-8), or nothing (an empty reply). */
// biome-ignore lint/suspicious/noConfusingVoidType: lets `async () => {}` handlers type-check
export type RpcReply = Uint8Array | string | undefined | null | void;

/**
 * Answers one request. Runs concurrently with the connection's other requests; a thrown
 * error (or rejection) becomes an error reply carrying its string `code` (else
 * `ERR_RPC_HANDLER`) and message.
 */
export type RpcHandler = (payload: Buffer, ctx: RpcContext) => RpcReply | Promise<RpcReply>;

/** Totals kept across the connections of one RPC server. */
export interface RpcCounters {
  requests: number;
  replies: number;
  errorReplies: number;
  cancelled: number;
  protocolErrors: number;
}

/**
 * For the session that runs the request: cancels it once (the client cancelled it, or the
 * connection was lost). Not a method, so handlers cannot call it. Set by RpcContext itself.
 */
export let abortContext: (ctx: RpcContext, reason: Error) => void;

/**
 * One request as its handler sees it. `signal` aborts when the client cancels the request
 * (reason: AbortError) or the connection is lost (reason: ConnectionClosedError); the reply
 * of an aborted request is discarded.
 *
 * State: `#controller` is made on the first read of `signal` (most handlers never look);
 * `#reason` is set once, by `abort()`, and `aborted` follows it.
 */
export class RpcContext {
  /** The request's id on its connection. */
  readonly id: number;
  /** The request's bytes; a view into the received data. */
  readonly payload: Buffer;
  readonly #conn: Connection;
  #controller: AbortController | undefined;
  #reason: Error | undefined;

  constructor(id: number, payload: Buffer, conn: Connection) {
    this.id = id;
    this.payload = payload;
    this.#conn = conn;
  }

  /** The client's address as used in messages. */
  get where(): string {
    return this.#conn.where;
  }
  get remoteAddress(): string | undefined {
    return this.#conn.remoteAddress;
  }
  /** The load balancer the client came through (PROXY protocol), or undefined. */
  get proxiedBy(): ProxiedBy | undefined {
    return this.#conn.proxiedBy;
  }
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  static {
    abortContext = (ctx, reason) => {
      if (ctx.#reason !== undefined) return;
      ctx.#reason = reason;
      ctx.#controller?.abort(reason);
    };
  }
}
