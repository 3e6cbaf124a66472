import type { Socket } from "node:net";
import { LineScanner } from "../codec/lines.js";
import type { ProxiedPeer } from "../connection/connection.js";
import { LimitExceededError, ReadTimeoutError } from "../errors.js";
import type { TimerHandle } from "../internal/clock.js";
import { armsTimer, startTimer } from "../internal/timer.js";
import type { ReadPath } from "./fast-read.js";
import type { HubMember } from "./hub.js";
import type { ServerSettings } from "./options.js";

/** Counters a session bumps on its server when it closes a client by policy. */
export type PolicyStat = "idleTimeouts" | "lineTimeouts" | "linesTooLong" | "slowDisconnects";

/** What a session needs from its server: the settings, and where to report. */
export interface SessionHost {
  readonly settings: ServerSettings;
  /** A handler or protocol error (not the peer's doing, not a policy close). */
  report(err: unknown, handle: object | undefined): void;
  count(stat: "clientErrors"): void;
  /** The server is closing `session` for a policy: count it and tell whoever watches. */
  expired(session: Session, stat: PolicyStat, reason: Error): void;
  /** The session's socket closed; called exactly once per session. */
  ended(session: Session): void;
}

/**
 * Runs the handler of one session: a stream handler on a Connection (stream-runner.ts) or
 * protocol callbacks on a Transport (transport.ts). The session owns the socket's limits and
 * its close; the runner owns reading, writing and the handler.
 */
export interface SessionRunner {
  /** What the handler holds: the Connection (once running) or the Transport. */
  readonly handle: object | undefined;
  run(): void;
  /**
   * The fast read path (`readPath` "onread"): `buffer[0, nread)` arrived. The bytes are
   * borrowed: the next read overwrites them, so the runner copies what it keeps before
   * returning.
   */
  received(buffer: Buffer, nread: number): void;
  /** Server shutdown: input ends after what was received, so the handler finishes its work. */
  endInput(): void;
  /** Closes at once; a handler waiting on the connection sees `reason`. */
  destroy(reason: Error | undefined): void;
  /** The socket closed. */
  closed(): void;
}

/** Accepted socket → its session, for the shared socket listeners (installed by Session). */
const sessionOf = new WeakMap<Socket, Session>();
let onTimeout: (this: Socket) => void;
let onLineData: (this: Socket, chunk: Buffer) => void;
let onClose: (this: Socket) => void;

/**
 * The `onread` callback of sockets on the fast read path (see fast-read.ts): `buffer[0, nread)`
 * is borrowed until it returns. Installed by Session's static block.
 */
export let sessionRead: (this: Socket, nread: number, buffer: Buffer) => void;

/**
 * One accepted socket, and the per-connection limits a handler should not have to think
 * about: the idle timeout, and for line-based servers the maximum line length and the
 * per-line deadline (a slowloris trickling bytes is never idle, but its line never ends).
 * The lines are found by the codec's {@link LineScanner}.
 *
 * Socket listeners are shared functions that find their session in `sessionOf`, so an idle
 * connection costs no closures. On the fast read path the socket has no `'data'` events:
 * `sessionRead` hands each read to the line guard and then to the runner.
 *
 * State:
 * - `#runner`: runs the handler; set by `start()`.
 * - `#reason`: why the server closed this client (a policy error), or undefined.
 * - `#lines`: the line guard's scanner (bytes of the unterminated line), with a line guard.
 * - `#lineTimer`: armed while a line is unterminated and `lineTimeout` is finite; it started
 *   with the line's first byte and is never pushed back by later bytes.
 * - `#tooLongSeen`: the bytes of the line that passed `maxLineLength`, for its error.
 */
export class Session implements HubMember {
  readonly socket: Socket;
  /** The remote address (IPv4-mapped IPv6 as IPv4) when per-address limits need it. */
  readonly address: string | undefined;
  /** How the socket is read: `onread` (borrowed chunks through `sessionRead`) or `data`. */
  readonly readPath: ReadPath;
  /** The client a PROXY protocol header named (the socket's peer is then the balancer). */
  readonly peer: ProxiedPeer | undefined;
  readonly #host: SessionHost;
  #runner: SessionRunner | undefined;
  #reason: Error | undefined;
  #lines: LineScanner | undefined;
  #lineTimer: TimerHandle | undefined;
  #tooLongSeen = 0;

  constructor(
    host: SessionHost,
    socket: Socket,
    address: string | undefined,
    readPath: ReadPath,
    peer?: ProxiedPeer | undefined,
  ) {
    this.#host = host;
    this.socket = socket;
    this.address = address;
    this.readPath = readPath;
    this.peer = peer;
  }

  /** The peer (the client a PROXY header named, if any), as `address:port`, for messages. */
  get where(): string {
    return peerOf(this.peer ?? this.socket);
  }

  get host(): SessionHost {
    return this.#host;
  }

  /** What the handler holds (see SessionRunner). */
  get handle(): object | undefined {
    return this.#runner?.handle;
  }

  /** Why the server closed this client, if it did. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  /** Wires the limits and the close, then runs the handler through `runner`. */
  start(runner: SessionRunner): void {
    const { socket } = this;
    const settings = this.#host.settings;
    this.#runner = runner;
    sessionOf.set(socket, this);
    if (armsTimer(settings.idleTimeout)) {
      socket.setTimeout(settings.idleTimeout);
      socket.on("timeout", onTimeout);
    }
    if (settings.guardsLines) {
      this.#lines = new LineScanner();
      if (this.readPath === "data") socket.on("data", onLineData);
    }
    socket.on("close", onClose);
    runner.run();
  }

  /** Server shutdown: input ends (after what was received), so handlers finish their work. */
  endInput(): void {
    this.#runner?.endInput();
  }

  /** Closes at once; a handler waiting on the connection sees `reason`. */
  destroy(reason?: Error): void {
    if (reason) this.#reason ??= reason;
    if (this.#runner) this.#runner.destroy(reason);
    else this.socket.destroy();
  }

  /** Hub: too slow to read its broadcasts. */
  disconnect(reason: Error): void {
    this.expire("slowDisconnects", reason);
  }

  /** Closes the client for a policy (counted), unless it is gone already. */
  expire(stat: PolicyStat, reason: Error): void {
    if (this.socket.destroyed) return;
    this.#host.expired(this, stat, reason);
    this.destroy(reason);
  }

  #closed(): void {
    if (this.#lineTimer) clearTimeout(this.#lineTimer as NodeJS.Timeout);
    sessionOf.delete(this.socket);
    this.#runner?.closed();
    this.#host.ended(this);
  }

  /**
   * Tracks the current line's length and age across chunks. Returns -1, or when a line passes
   * `maxLineLength`, how many leading bytes of `chunk` end complete lines: the caller may
   * deliver those, then close the client (`#tooLong`).
   */
  #guardLine(chunk: Buffer): number {
    const lines = this.#lines as LineScanner;
    const { maxLineLength, lineTimeout } = this.#host.settings;
    let complete = 0;
    try {
      for (let nl = lines.next(chunk, 0, maxLineLength); nl >= 0; nl = lines.next(chunk, nl + 1, maxLineLength)) {
        complete = nl + 1;
      }
    } catch (err) {
      this.#tooLongSeen = (err as LimitExceededError).consumed;
      return complete;
    }
    if (complete > 0 && this.#lineTimer) {
      clearTimeout(this.#lineTimer as NodeJS.Timeout);
      this.#lineTimer = undefined;
    }
    if (lines.pending > 0 && this.#lineTimer === undefined) {
      const where = this.where;
      const expire = () => this.expire("lineTimeouts", new ReadTimeoutError("line", lineTimeout, where));
      this.#lineTimer = startTimer(expire, lineTimeout);
    }
    return -1;
  }

  /** Closes the client whose line passed the maximum (`#tooLongSeen` bytes seen). */
  #tooLong(): void {
    const max = this.#host.settings.maxLineLength;
    const seen = this.#tooLongSeen;
    this.expire("linesTooLong", new LimitExceededError(`line from ${this.where}`, max, seen, this.where));
  }

  #idle(): void {
    const ms = this.#host.settings.idleTimeout;
    this.expire("idleTimeouts", new ReadTimeoutError("idle connection", ms, this.where));
  }

  static {
    onTimeout = function (this: Socket) {
      const session = sessionOf.get(this);
      if (session) session.#idle();
    };
    onLineData = function (this: Socket, chunk: Buffer) {
      const session = sessionOf.get(this);
      if (session && !this.destroyed && session.#guardLine(chunk) >= 0) session.#tooLong();
    };
    sessionRead = function (this: Socket, nread: number, buffer: Buffer) {
      const session = sessionOf.get(this);
      if (session === undefined || this.destroyed) return;
      const complete = session.#lines ? session.#guardLine(buffer.subarray(0, nread)) : -1; // keeps nothing
      if (complete < 0) session.#runner?.received(buffer, nread);
      else {
        // A line passed the maximum: the lines complete before it are still delivered.
        if (complete > 0) session.#runner?.received(buffer, complete);
        session.#tooLong();
      }
    };
    onClose = function (this: Socket) {
      const session = sessionOf.get(this);
      if (session) session.#closed();
    };
  }
}

/** A client socket's peer as `address:port` (`[v6]:port`), or `unix client`. */
export function peerOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  const { remoteAddress: a, remotePort: p } = socket;
  if (a === undefined || p === undefined) return "unix client";
  return a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`;
}
