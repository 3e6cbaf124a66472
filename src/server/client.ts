import type { Socket } from "node:net";
import type { Connection, ConnectionOptions } from "../connection/connection.js";
import { LimitExceededError, ReadTimeoutError } from "../errors.js";
import { armsTimer, startTimer } from "../internal/timer.js";
import type { HubMember } from "./hub.js";
import type { Transport } from "./protocol.js";

/** Counters a client bumps on its server when it is closed by policy. */
export type PolicyStat = "idleTimeouts" | "lineTimeouts" | "linesTooLong" | "slowDisconnects";

/** What a client needs from its server: the limits, and where to report. */
export interface ClientHost {
  readonly idleTimeout: number;
  readonly maxLineLength: number;
  readonly lineTimeout: number;
  readonly highWaterMark: number;
  readonly connection: ConnectionOptions;
  /** A handler or protocol error (not the peer's doing, not a policy close). */
  report(err: unknown, handle: object | undefined): void;
  count(stat: PolicyStat | "clientErrors"): void;
  /** The client's socket closed; called exactly once per client. */
  ended(client: Client): void;
}

/**
 * One accepted socket, and the per-connection limits a handler should not have to think
 * about: the idle timeout, and for line-based servers the maximum line length and the
 * per-line deadline (a slowloris trickling bytes is never idle, but its line never ends).
 * Subclasses run the handler: {@link StreamClient} on a Connection, Transport a Protocol.
 *
 * Socket listeners are shared functions that find their client in `clientOf`, so an idle
 * connection costs no closures (memory per idle connection stays near raw `net`'s).
 *
 * State:
 * - `reason`: why the server closed this client (a policy error), or undefined.
 * - `#lineBytes`: bytes of the current unterminated line; only tracked with a line guard.
 * - `#lineTimer`: armed while a line is unterminated and `lineTimeout` is finite; it started
 *   with the line's first byte and is never pushed back by later bytes.
 */
export abstract class Client implements HubMember {
  readonly socket: Socket;
  /** The remote address (IPv4-mapped IPv6 as IPv4) when per-address limits need it. */
  readonly address: string | undefined;
  protected readonly host: ClientHost;
  protected reason: Error | undefined;
  #lineBytes = 0;
  #lineTimer: NodeJS.Timeout | undefined;

  constructor(host: ClientHost, socket: Socket, address: string | undefined) {
    this.host = host;
    this.socket = socket;
    this.address = address;
  }

  /** The peer, as `address:port`, for messages. */
  get where(): string {
    const { remoteAddress: a, remotePort: p } = this.socket;
    if (a === undefined || p === undefined) return "unix client";
    return a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`;
  }

  /** What the handler holds: the Connection (once running) or the Transport. */
  abstract get handle(): Connection | Transport | undefined;

  /** @internal Wires the limits and the close, then starts the handler. */
  start(): void {
    const { socket, host } = this;
    clientOf.set(socket, this);
    if (armsTimer(host.idleTimeout)) {
      socket.setTimeout(host.idleTimeout);
      socket.on("timeout", onTimeout);
    }
    if (Number.isFinite(host.maxLineLength) || Number.isFinite(host.lineTimeout)) socket.on("data", onLineData);
    socket.on("close", onClose);
    this.run();
  }

  /** Server shutdown: input ends (after what is buffered), so handlers finish their work. */
  abstract endInput(): void;

  /** Closes at once; a handler waiting on the connection sees `reason`. */
  abstract destroy(reason?: Error): void;

  /** @internal Hub: too slow to read its broadcasts. */
  disconnect(reason: Error): void {
    this.expire("slowDisconnects", reason);
  }

  protected abstract run(): void;

  /** The socket closed. Subclasses extend this to tell their handler. */
  protected closed(): void {
    if (this.#lineTimer) clearTimeout(this.#lineTimer);
    clientOf.delete(this.socket);
    this.host.ended(this);
  }

  protected expire(stat: PolicyStat, reason: Error): void {
    if (this.socket.destroyed) return;
    this.host.count(stat);
    this.reason ??= reason;
    this.destroy(reason);
  }

  /** @internal Tracks the current line's length and age across chunks. */
  guardLine(chunk: Buffer): void {
    if (this.socket.destroyed) return;
    const max = this.host.maxLineLength;
    let pending = this.#lineBytes;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      if (pending + nl - start > max) {
        this.#tooLong(pending + nl - start);
        return;
      }
      pending = 0;
      start = nl + 1;
    }
    pending += chunk.length - start;
    if (pending > max) {
      this.#tooLong(pending);
      return;
    }
    this.#lineBytes = pending;
    if (start > 0 && this.#lineTimer) {
      clearTimeout(this.#lineTimer);
      this.#lineTimer = undefined;
    }
    if (pending > 0 && this.#lineTimer === undefined) {
      const ms = this.host.lineTimeout;
      this.#lineTimer = startTimer(() => this.expire("lineTimeouts", new ReadTimeoutError("line", ms, this.where)), ms);
    }
  }

  /** @internal The socket's idle timer fired. */
  idle(): void {
    this.expire("idleTimeouts", new ReadTimeoutError("idle connection", this.host.idleTimeout, this.where));
  }

  #tooLong(seen: number): void {
    this.#lineBytes = 0;
    const err = new LimitExceededError(`line from ${this.where}`, this.host.maxLineLength, seen, this.where);
    this.expire("linesTooLong", err);
  }

  /** @internal For the shared close listener. */
  static onClose(client: Client): void {
    client.closed();
  }
}

/** Accepted socket → its client, for the shared socket listeners below. */
export const clientOf = new WeakMap<Socket, Client>();

function onTimeout(this: Socket): void {
  clientOf.get(this)?.idle();
}

function onLineData(this: Socket, chunk: Buffer): void {
  clientOf.get(this)?.guardLine(chunk);
}

function onClose(this: Socket): void {
  const client = clientOf.get(this);
  if (client) Client.onClose(client);
}
