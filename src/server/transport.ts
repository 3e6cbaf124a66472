import type { Socket } from "node:net";
import type { ProxiedBy } from "../connection/connection.js";
import { wrapSocketError } from "../errors.js";
import type { TimerHandle } from "../internal/clock.js";
import { startTimer } from "../internal/timer.js";
import { copyOf, isBorrowed, lendScratch, settleScratch } from "./fast-read.js";
import { HeldInput } from "./held-input.js";
import type { Session, SessionRunner } from "./session.js";

/**
 * Protocol callbacks, like asyncio's `Protocol`: the server calls them on socket events, in
 * this order: `connectionMade` once, `dataReceived` per chunk, `eofReceived` at most once,
 * `connectionLost` exactly once. Each also gets the transport as its last argument, so a
 * stateless protocol can be one shared object. A callback that throws closes that
 * connection only (the error goes to the server's `error` event).
 */
export interface Protocol {
  /** The connection is up; keep `transport` to write. */
  connectionMade?(transport: Transport): void;
  /**
   * A chunk arrived. Chunk boundaries are arbitrary: frame them yourself (see codecs). What
   * this writes leaves in one batch (one write or writev) when it returns.
   */
  dataReceived?(data: Buffer, transport: Transport): void;
  /**
   * The peer half-closed, or the server is shutting down. Return `true` to keep the write side
   * open and close the transport yourself later; otherwise it is closed once writes flush.
   */
  eofReceived?(transport: Transport): boolean | undefined;
  /** The socket closed. `error` is the socket error or the reason the server closed it. */
  connectionLost?(error: Error | undefined, transport: Transport): void;
  /**
   * `true`: `dataReceived` may get a view into a buffer the server reuses for its next read
   * (on the fast read path; see `ServerOptions.fastRead`), valid only until `dataReceived`
   * returns. Copy what you keep (`Buffer.from(data)`). Writing it or part of it with
   * `transport.write` is safe: the transport copies what a write must keep. That spares an
   * allocation per read. Default false: every chunk is the protocol's own, to keep.
   */
  readonly borrowsChunks?: boolean | undefined;
  /** The write buffer passed the high-water mark; reading is paused meanwhile. */
  pauseWriting?(transport: Transport): void;
  /** The write buffer drained below the mark; reading resumes. */
  resumeWriting?(transport: Transport): void;
}

/** Makes the protocol for each connection (or returns one shared stateless protocol). */
export type ProtocolFactory = () => Protocol;

/** Lifecycle of a transport: `open → closing → closed`; `closing` waits for writes to flush. */
export type TransportState = "open" | "closing" | "closed";

/** Makes the transport of a protocol runner; installed by Transport's static block. */
let createTransport: (runner: ProtocolRunner) => Transport;

/**
 * What a protocol writes through: asyncio's `Transport`. The server makes one per client and
 * hands it to the protocol's callbacks; its work is done by the session's protocol runner.
 *
 * Flow control: when unsent bytes pass the server's `highWaterMark`, reading stops (a client
 * that does not read its replies cannot make the server buffer without bound) and
 * `pauseWriting` runs; on `drain` reading resumes (unless the protocol paused it) and
 * `resumeWriting` runs.
 */
export class Transport {
  readonly #runner: ProtocolRunner;

  private constructor(runner: ProtocolRunner) {
    this.#runner = runner;
  }

  static {
    createTransport = (runner) => new Transport(runner);
  }

  get state(): TransportState {
    return this.#runner.state;
  }
  /** The peer's address: behind a load balancer, the client its PROXY header named. */
  get remoteAddress(): string | undefined {
    return (this.#runner.session.peer ?? this.#runner.socket).remoteAddress;
  }
  get remotePort(): number | undefined {
    return (this.#runner.session.peer ?? this.#runner.socket).remotePort;
  }
  /** The load balancer the client came through (PROXY protocol), or undefined. */
  get proxiedBy(): ProxiedBy | undefined {
    return this.#runner.session.peer?.proxiedBy;
  }
  /** The peer, as `address:port`, for messages. */
  get where(): string {
    return this.#runner.where;
  }
  /** Bytes written but not yet taken by the kernel. */
  get writableLength(): number {
    return this.#runner.socket.writableLength;
  }
  /** Writes are accepted (not closing, not closed). */
  get writable(): boolean {
    return this.#runner.writable;
  }

  /**
   * Queues `data` for sending. Returns false once unsent bytes pass the high-water mark
   * (reading is then paused until they drain). Writes after close are dropped.
   */
  write(data: string | Uint8Array): boolean {
    return this.#runner.write(data);
  }

  /** Stops reading from the peer until `resume()`. */
  pause(): void {
    this.#runner.pause();
  }

  resume(): void {
    this.#runner.resume();
  }

  /** Half-closes: sends FIN once queued writes flush. Reading goes on. */
  end(): void {
    this.#runner.end();
  }

  /**
   * Graceful close: stops delivering input, flushes, sends FIN, and destroys the socket if
   * it has not closed `connection.closeTimeout` ms (default 2000) later. Idempotent.
   */
  close(): void {
    this.#runner.close();
  }

  /** Closes at once; `connectionLost` gets `err`. */
  destroy(err?: Error): void {
    this.#runner.session.destroy(err);
  }
}

/** Accepted socket → its protocol runner, for the shared socket listeners. */
const runnerOf = new WeakMap<Socket, ProtocolRunner>();
let onData: (this: Socket, chunk: Buffer) => void;
let onEnd: (this: Socket) => void;
let onError: (this: Socket, err: Error) => void;
let onDrain: (this: Socket) => void;
let releaseHeld: (runner: ProtocolRunner) => void;
// (installed by ProtocolRunner's static block, where its private fields are in reach)

/**
 * Runs protocol callbacks for one session: the socket's events become `dataReceived`,
 * `eofReceived` and `connectionLost`, and the {@link Transport} façade's calls land here.
 *
 * State:
 * - `state`: see {@link TransportState}. `#userPaused`: `pause()` was called;
 *   `#flowPaused`: paused for flow control. `dataReceived` runs only while neither is set.
 *   On the public path the socket is paused meanwhile (Node still fills its own buffer);
 *   on the fast read path (`#fast`) chunks go to `#held` instead, which stops the socket
 *   once it holds as much (see HeldInput), and are delivered first when reading resumes.
 * - `#error`: the first socket error, or the reason the server closed the connection.
 * - `#eof`: input ended (peer FIN, server shutdown or close); later data is discarded.
 * - `#eofAfter`: input ended (server shutdown, or the peer's FIN on the fast path) while this
 *   many received bytes still waited (in Node's buffer or `#held`, for a paused transport):
 *   they are delivered first, then input ends. Undefined otherwise.
 * - `#closeTimer`: armed by `close()` to destroy a peer that never closes; cleared on close.
 */
class ProtocolRunner implements SessionRunner {
  readonly session: Session;
  readonly socket: Socket;
  readonly transport: Transport;
  readonly #protocol: Protocol;
  state: TransportState = "open";
  #userPaused = false;
  #flowPaused = false;
  #eof = false;
  #eofAfter: number | undefined;
  #error: Error | undefined;
  #closeTimer: TimerHandle | undefined;
  readonly #fast: boolean;
  /** The protocol takes borrowed chunks (fast read path only). */
  readonly #borrows: boolean;
  /** Inside `dataReceived`: writes are batched (`#corked` once the first one corked the socket). */
  #batching = false;
  #corked = false;
  #held: HeldInput | undefined;

  constructor(session: Session, protocol: Protocol) {
    this.session = session;
    this.socket = session.socket;
    this.#protocol = protocol;
    this.transport = createTransport(this);
    this.#fast = session.readPath === "onread";
    this.#borrows = this.#fast && protocol.borrowsChunks === true;
  }

  get handle(): Transport {
    return this.transport;
  }
  get where(): string {
    return this.session.where;
  }
  get writable(): boolean {
    return this.state === "open" && !this.socket.destroyed && !this.socket.writableEnded;
  }

  run(): void {
    const socket = this.socket;
    runnerOf.set(socket, this);
    if (!this.#fast) socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    this.#call(this.#protocol.connectionMade);
  }

  write(data: string | Uint8Array): boolean {
    if (!this.writable) return false;
    const socket = this.socket;
    if (this.#batching) {
      if (!this.#corked) {
        this.#corked = true;
        socket.cork(); // until dataReceived returns: its writes leave as one
      }
      socket.write(isBorrowed(data) ? lendScratch(data) : data);
    } else socket.write(isBorrowed(data) ? copyOf(data) : data); // a stale view: its bytes as they are now
    if (socket.writableLength <= this.session.host.settings.highWaterMark) return true;
    if (!this.#flowPaused) {
      this.#flowPaused = true;
      if (!this.#fast) socket.pause();
      socket.once("drain", onDrain);
      this.#call(this.#protocol.pauseWriting);
    }
    return false;
  }

  pause(): void {
    this.#userPaused = true;
    if (!this.#fast) this.socket.pause();
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#flowPaused) this.#read();
  }

  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  close(): void {
    if (this.state !== "open") return;
    this.state = "closing";
    this.#eof = true;
    this.#held?.clear();
    this.#held?.release(this.socket);
    this.socket.resume(); // keep draining input so the peer's FIN and our close can happen
    this.end();
    const socket = this.socket;
    this.#closeTimer = startTimer(() => socket.destroy(), this.session.host.settings.connection.closeTimeout ?? 2000);
  }

  destroy(reason: Error | undefined): void {
    if (reason !== undefined) this.#error ??= reason;
    this.socket.destroy();
  }

  /**
   * Server shutdown: input ends as if the peer sent FIN (see {@link Protocol.eofReceived}),
   * after every byte already received: what a paused socket still holds (its
   * `readableLength`) reaches `dataReceived` first, once the transport reads again. Bytes
   * that arrive later are discarded.
   */
  endInput(): void {
    if (this.#eof || this.#eofAfter !== undefined) return;
    const held = this.#fast ? (this.#held?.bytes ?? 0) : this.socket.readableLength;
    if (held > 0) this.#eofAfter = held;
    else this.#ended();
  }

  /** The fast read path: a protocol may keep its chunk, so it gets its own copy. */
  received(buffer: Buffer, nread: number): void {
    if (this.#eof) return;
    const held = this.#held;
    if (this.#userPaused || this.#flowPaused || (held !== undefined && held.bytes > 0)) {
      (this.#held ??= new HeldInput()).hold(copyOf(buffer, nread), this.socket);
    } else this.#data(this.#borrows ? buffer.subarray(0, nread) : copyOf(buffer, nread));
  }

  closed(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer as NodeJS.Timeout);
    if (this.state === "closed") return;
    this.state = "closed";
    const lost = this.#protocol.connectionLost;
    if (!lost) return;
    try {
      lost.call(this.#protocol, this.#error, this.transport);
    } catch (err) {
      this.session.host.report(err, this.transport);
    }
  }

  /** Runs `dataReceived`; what it writes leaves in one batch (one write or writev) when it returns. */
  #data(chunk: Buffer): void {
    this.#batching = true;
    try {
      this.#protocol.dataReceived?.(chunk, this.transport);
    } catch (err) {
      this.session.host.report(err, this.transport);
      this.close();
    }
    this.#batching = false;
    if (this.#corked) {
      this.#corked = false;
      this.socket.uncork();
      settleScratch(this.socket);
    }
    if (this.#eofAfter !== undefined && (this.#eofAfter -= chunk.length) <= 0) this.#ended();
  }

  /** Reading may go on: the public path resumes the socket; the fast one delivers `#held`, then reads. */
  #read(): void {
    if (this.state !== "open") return;
    if (!this.#fast) this.socket.resume();
    else if (this.#held !== undefined && this.#held.bytes > 0) process.nextTick(releaseHeld, this); // as Node's flow
  }

  /** The peer's FIN: on the fast path, held bytes reach the protocol before it. */
  #peerEnded(): void {
    const held = this.#held?.bytes ?? 0;
    if (this.#fast && held > 0 && !this.#eof) this.#eofAfter = held;
    else this.#ended();
  }

  #ended(): void {
    if (this.#eof) return;
    this.#eof = true;
    const onEof = this.#protocol.eofReceived;
    let keepOpen = false;
    try {
      keepOpen = onEof?.call(this.#protocol, this.transport) === true;
    } catch (err) {
      this.session.host.report(err, this.transport);
    }
    if (!keepOpen) this.close();
  }

  /** Runs a protocol callback; a throw is reported and closes this connection only. */
  #call(fn: ((t: Transport) => void) | undefined): void {
    if (fn === undefined) return;
    try {
      fn.call(this.#protocol, this.transport);
    } catch (err) {
      this.session.host.report(err, this.transport);
      this.close();
    }
  }

  static {
    onData = function (this: Socket, chunk: Buffer) {
      const r = runnerOf.get(this);
      if (r === undefined || r.#eof || this.destroyed) return;
      r.#data(chunk);
    };
    onEnd = function (this: Socket) {
      const r = runnerOf.get(this);
      if (r) r.#peerEnded();
    };
    onError = function (this: Socket, err: Error) {
      const r = runnerOf.get(this);
      if (r) r.#error ??= wrapSocketError(err, r.where);
    };
    releaseHeld = (r) => {
      const held = r.#held as HeldInput;
      for (;;) {
        if (r.#eof || r.#userPaused || r.#flowPaused || r.socket.destroyed) return;
        const chunk = held.shift();
        if (chunk === undefined) break;
        r.#data(chunk);
      }
      held.release(r.socket);
    };
    onDrain = function (this: Socket) {
      const r = runnerOf.get(this);
      if (r === undefined || !r.#flowPaused) return;
      r.#flowPaused = false;
      if (!r.#userPaused) r.#read();
      r.#call(r.#protocol.resumeWriting);
    };
  }
}

/** A runner of `protocol` for `session`. */
export function protocolRunner(session: Session, protocol: Protocol): SessionRunner {
  return new ProtocolRunner(session, protocol);
}
