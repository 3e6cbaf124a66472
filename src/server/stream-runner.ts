import { Connection, connectionFedFromOutside, feedConnection, setPeer } from "../connection/connection.js";
import { ConnectionClosedError, ConnectionResetError, SocketError } from "../errors.js";
import { copyOf } from "./fast-read.js";
import type { Session, SessionRunner } from "./session.js";

/** A stream handler: asyncio's `start_server` callback. The connection closes when it returns. */
export type StreamHandler = (conn: Connection) => Promise<void> | void;

/**
 * Runs a stream handler on a {@link Connection}. When the handler returns the connection
 * closes gracefully (flush, FIN); when it throws, the error is reported unless the peer or a
 * server policy caused it, and the connection closes the same way.
 *
 * State: `#conn` is set by `run()` and never changes.
 */
export class StreamRunner implements SessionRunner {
  readonly #session: Session;
  readonly #handler: StreamHandler;
  #conn: Connection | undefined;

  constructor(session: Session, handler: StreamHandler) {
    this.#session = session;
    this.#handler = handler;
  }

  get handle(): Connection | undefined {
    return this.#conn;
  }

  run(): void {
    const session = this.#session;
    const { socket, where } = session;
    const options = session.host.settings.connection;
    const conn =
      session.readPath === "onread"
        ? connectionFedFromOutside(socket, where, options)
        : new Connection(socket, where, options);
    if (session.peer) setPeer(conn, session.peer);
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

  /** The fast read path: the connection's buffer keeps chunks, so it gets a copy. */
  received(buffer: Buffer, nread: number): void {
    if (this.#conn) feedConnection(this.#conn, copyOf(buffer, nread));
  }

  endInput(): void {
    this.#conn?.endInput();
  }

  destroy(reason: Error | undefined): void {
    if (this.#conn) this.#conn.destroy(reason);
    else this.#session.socket.destroy();
  }

  closed(): void {}

  #failed(err: unknown, conn: Connection): void {
    const host = this.#session.host;
    if (err === this.#session.reason || err === conn.error || isPeerError(err)) host.count("clientErrors");
    else host.report(err, conn);
    void conn.close();
  }
}

/** Errors that mean the peer went away, not that the handler is broken. */
function isPeerError(err: unknown): boolean {
  return err instanceof ConnectionResetError || err instanceof ConnectionClosedError || err instanceof SocketError;
}
