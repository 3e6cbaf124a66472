import type { Socket } from "node:net";
import { Connection } from "../connection/connection.js";
import { ConnectionClosedError, ConnectionResetError, SocketError } from "../errors.js";
import { Client, type ClientHost } from "./client.js";

/** A stream handler: asyncio's `start_server` callback. The connection closes when it returns. */
export type StreamHandler = (conn: Connection) => Promise<void> | void;

/**
 * A client served by a stream handler on a {@link Connection}. When the handler returns the
 * connection closes gracefully (flush, FIN); when it throws, the error is reported unless
 * the peer or a server policy caused it, and the connection closes the same way.
 *
 * State: `#conn` is set by `run()` and never changes.
 */
export class StreamClient extends Client {
  readonly #handler: StreamHandler;
  #conn: Connection | undefined;

  constructor(host: ClientHost, socket: Socket, address: string | undefined, handler: StreamHandler) {
    super(host, socket, address);
    this.#handler = handler;
  }

  get handle(): Connection | undefined {
    return this.#conn;
  }

  endInput(): void {
    this.#conn?.endInput();
  }

  destroy(reason?: Error): void {
    if (reason) this.reason ??= reason;
    if (this.#conn) this.#conn.destroy(reason);
    else this.socket.destroy();
  }

  protected run(): void {
    const conn = new Connection(this.socket, this.where, this.host.connection);
    this.#conn = conn;
    let result: Promise<void> | void;
    try {
      result = this.#handler(conn);
    } catch (err) {
      this.#failed(err, conn);
      return;
    }
    if (result && typeof result.then === "function") {
      result.then(
        () => void conn.close(),
        (err) => this.#failed(err, conn),
      );
    } else void conn.close();
  }

  #failed(err: unknown, conn: Connection): void {
    if (err === this.reason || err === conn.error || isPeerError(err)) this.host.count("clientErrors");
    else this.host.report(err, conn);
    void conn.close();
  }
}

/** Errors that mean the peer went away, not that the handler is broken. */
function isPeerError(err: unknown): boolean {
  return err instanceof ConnectionResetError || err instanceof ConnectionClosedError || err instanceof SocketError;
}
