import type { Socket } from "node:net";
import { Connection, type ConnectionOptions } from "../connection/connection.js";
import {
  ConnectionClosedError,
  ConnectionResetError,
  LimitExceededError,
  ReadTimeoutError,
  SocketError,
} from "../errors.js";
import type { HubMember } from "./hub.js";
import { type Protocol, Transport } from "./protocol.js";

/** A stream handler: asyncio's `start_server` callback. The connection closes when it returns. */
export type StreamHandler = (conn: Connection) => Promise<void> | void;

/** How the server runs each connection. */
export type ResolvedHandler = { kind: "stream"; run: StreamHandler } | { kind: "protocol"; make: () => Protocol };

/** Counters a session bumps on its server when it closes a client by policy. */
export type PolicyStat = "idleTimeouts" | "lineTimeouts" | "linesTooLong" | "slowDisconnects";

/** What a session needs from its server. */
export interface SessionHost {
  readonly handler: ResolvedHandler;
  readonly idleTimeout: number;
  readonly maxLineLength: number;
  readonly lineTimeout: number;
  readonly highWaterMark: number;
  readonly connection: ConnectionOptions;
  /** A handler or protocol error (not the peer's doing, not a policy close). */
  report(err: unknown, handle: object | undefined): void;
  count(stat: PolicyStat | "clientErrors"): void;
  /** The socket closed; called exactly once. */
  ended(session: Session): void;
}

/**
 * One accepted client: runs its handler (a stream handler on a {@link Connection}, or a
 * {@link Protocol} on a {@link Transport}) and enforces the per-connection limits the handler
 * should not have to think about: the idle timeout, and for line-based servers the maximum
 * line length and the per-line deadline (a slowloris trickling bytes is never idle).
 *
 * State:
 * - `handle`: the Connection or Transport given to the handler.
 * - `#reason`: why the server closed this client (a policy error), or undefined.
 * - `#lineBytes`: bytes of the current unterminated line; only tracked with a line guard.
 * - `#lineTimer`: armed while a line is unterminated and `lineTimeout` is finite; it started
 *   with the line's first byte and is never pushed back by later bytes.
 */
export class Session implements HubMember {
  readonly socket: Socket;
  readonly where: string;
  /** Remote address, IPv4-mapped IPv6 written as plain IPv4. */
  readonly address: string;
  handle: Connection | Transport | undefined;
  readonly #host: SessionHost;
  #reason: Error | undefined;
  #lineBytes = 0;
  #lineTimer: NodeJS.Timeout | undefined;

  constructor(host: SessionHost, socket: Socket, address: string) {
    this.#host = host;
    this.socket = socket;
    this.address = address;
    const port = socket.remotePort;
    this.where =
      port === undefined ? "unix client" : address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  }

  /** Wires the limits and starts the handler. */
  start(): void {
    const { socket } = this;
    const host = this.#host;
    if (Number.isFinite(host.idleTimeout)) {
      socket.setTimeout(host.idleTimeout);
      socket.on("timeout", () =>
        this.#expire("idleTimeouts", new ReadTimeoutError("idle connection", host.idleTimeout, this.where)),
      );
    }
    if (Number.isFinite(host.maxLineLength) || Number.isFinite(host.lineTimeout)) {
      socket.on("data", (chunk: Buffer) => this.#guardLine(chunk));
    }
    socket.on("close", () => {
      if (this.#lineTimer) clearTimeout(this.#lineTimer);
      host.ended(this);
    });
    if (host.handler.kind === "stream") this.#runStream(host.handler.run);
    else this.#runProtocol(host.handler.make);
  }

  /** Server shutdown: input ends (after what is buffered), so handlers finish their work. */
  endInput(): void {
    this.handle?.endInput();
  }

  /** Closes at once; a handler waiting on the connection sees `reason`. */
  destroy(reason?: Error): void {
    if (reason) this.#reason ??= reason;
    if (this.handle) this.handle.destroy(reason);
    else this.socket.destroy();
  }

  /** Hub: too slow to read its broadcasts. */
  disconnect(reason: Error): void {
    this.#expire("slowDisconnects", reason);
  }

  #expire(stat: PolicyStat, reason: Error): void {
    if (this.socket.destroyed) return;
    this.#host.count(stat);
    this.destroy(reason);
  }

  #runStream(run: StreamHandler): void {
    const host = this.#host;
    const conn = new Connection(this.socket, this.where, host.connection);
    this.handle = conn;
    let result: Promise<void> | void;
    try {
      result = run(conn);
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

  #runProtocol(make: () => Protocol): void {
    let protocol: Protocol;
    try {
      protocol = make();
    } catch (err) {
      this.#host.report(err, undefined);
      this.socket.destroy();
      return;
    }
    const transport = new Transport(this.socket, this.where, protocol, {
      highWaterMark: this.#host.highWaterMark,
      closeTimeout: this.#host.connection.closeTimeout ?? 2000,
      onError: (err) => this.#host.report(err, transport),
    });
    this.handle = transport;
    transport.start();
  }

  /** A stream handler threw: report it unless the peer or a policy caused it, then close. */
  #failed(err: unknown, conn: Connection): void {
    if (err === this.#reason || err === conn.error || isPeerError(err)) this.#host.count("clientErrors");
    else this.#host.report(err, conn);
    void conn.close();
  }

  #guardLine(chunk: Buffer): void {
    if (this.socket.destroyed) return;
    const max = this.#host.maxLineLength;
    let pending = this.#lineBytes;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      if (pending + nl - start > max) return this.#tooLong(pending + nl - start);
      pending = 0;
      start = nl + 1;
    }
    pending += chunk.length - start;
    if (pending > max) return this.#tooLong(pending);
    this.#lineBytes = pending;
    if (start > 0 && this.#lineTimer) {
      clearTimeout(this.#lineTimer);
      this.#lineTimer = undefined;
    }
    if (pending > 0 && this.#lineTimer === undefined && Number.isFinite(this.#host.lineTimeout)) {
      const ms = this.#host.lineTimeout;
      this.#lineTimer = setTimeout(
        () => this.#expire("lineTimeouts", new ReadTimeoutError("line", ms, this.where)),
        ms,
      );
      this.#lineTimer.unref();
    }
  }

  #tooLong(seen: number): void {
    this.#lineBytes = 0;
    const err = new LimitExceededError(`line from ${this.where}`, this.#host.maxLineLength, seen);
    this.#expire("linesTooLong", err);
  }
}

function isPeerError(err: unknown): boolean {
  return err instanceof ConnectionResetError || err instanceof ConnectionClosedError || err instanceof SocketError;
}
