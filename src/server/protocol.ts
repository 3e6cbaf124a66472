import type { Socket } from "node:net";
import { wrapSocketError } from "../errors.js";
import { startTimer } from "../internal/timer.js";
import { Client, type ClientHost, clientOf } from "./client.js";

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
  /** A chunk arrived. Chunk boundaries are arbitrary: frame them yourself (see codecs). */
  dataReceived?(data: Buffer, transport: Transport): void;
  /**
   * The peer half-closed, or the server is shutting down. Return `true` to keep the write side
   * open and close the transport yourself later; otherwise it is closed once writes flush.
   */
  eofReceived?(transport: Transport): boolean | undefined;
  /** The socket closed. `error` is the socket error or the reason the server closed it. */
  connectionLost?(error: Error | undefined, transport: Transport): void;
  /** The write buffer passed the high-water mark; reading is paused meanwhile. */
  pauseWriting?(transport: Transport): void;
  /** The write buffer drained below the mark; reading resumes. */
  resumeWriting?(transport: Transport): void;
}

/** Makes the protocol for each connection (or returns one shared stateless protocol). */
export type ProtocolFactory = () => Protocol;

/** Lifecycle of a transport: `open → closing → closed`; `closing` waits for writes to flush. */
export type TransportState = "open" | "closing" | "closed";

/**
 * What a protocol writes through: asyncio's `Transport` over a `net.Socket`.
 *
 * Flow control: when unsent bytes pass the server's `highWaterMark`, reading stops (a client
 * that does not read its replies cannot make the server buffer without bound) and
 * `pauseWriting` runs; on `drain` reading resumes (unless the protocol paused it) and
 * `resumeWriting` runs.
 *
 * State:
 * - `#state`: see {@link TransportState}. `#userPaused`: `pause()` was called;
 *   `#flowPaused`: paused for flow control. The socket reads iff neither is set.
 * - `#error`: the first socket error, or the reason the server closed the connection.
 * - `#eof`: input ended (peer FIN, server shutdown or close); later data is discarded.
 * - `#eofAfter`: server shutdown began while the socket still held this many received bytes
 *   (a paused transport): they are delivered first, then input ends. Undefined otherwise.
 * - `#closeTimer`: armed by `close()` to destroy a peer that never closes; cleared on close.
 */
export class Transport extends Client {
  readonly #protocol: Protocol;
  #state: TransportState = "open";
  #userPaused = false;
  #flowPaused = false;
  #eof = false;
  #eofAfter: number | undefined;
  #error: Error | undefined;
  #closeTimer: NodeJS.Timeout | undefined;

  /** Made by the server for each client; protocols get it in `connectionMade`. */
  constructor(host: ClientHost, socket: Socket, address: string | undefined, protocol: Protocol) {
    super(host, socket, address);
    this.#protocol = protocol;
  }

  get handle(): Transport {
    return this;
  }
  get state(): TransportState {
    return this.#state;
  }
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  /** Bytes written but not yet taken by the kernel. */
  get writableLength(): number {
    return this.socket.writableLength;
  }
  /** Writes are accepted (not closing, not closed). */
  get writable(): boolean {
    return this.#state === "open" && !this.socket.destroyed && !this.socket.writableEnded;
  }

  /**
   * Queues `data` for sending. Returns false once unsent bytes pass the high-water mark
   * (reading is then paused until they drain). Writes after close are dropped.
   */
  write(data: string | Uint8Array): boolean {
    if (!this.writable) return false;
    const socket = this.socket;
    socket.write(data);
    if (socket.writableLength <= this.host.highWaterMark) return true;
    if (!this.#flowPaused) {
      this.#flowPaused = true;
      socket.pause();
      socket.once("drain", Transport.#onDrain);
      this.#call(this.#protocol.pauseWriting);
    }
    return false;
  }

  /** Stops reading from the peer until `resume()`. */
  pause(): void {
    this.#userPaused = true;
    this.socket.pause();
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#flowPaused) this.socket.resume();
  }

  /** Half-closes: sends FIN once queued writes flush. Reading goes on. */
  end(): void {
    if (!this.socket.writableEnded) this.socket.end();
  }

  /**
   * Graceful close: stops delivering input, flushes, sends FIN, and destroys the socket if
   * it has not closed `connection.closeTimeout` ms (default 2000) later. Idempotent.
   */
  close(): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#eof = true;
    this.socket.resume(); // keep draining input so the peer's FIN and our close can happen
    this.end();
    const socket = this.socket;
    this.#closeTimer = startTimer(() => socket.destroy(), this.host.connection.closeTimeout ?? 2000);
  }

  /** Closes at once; `connectionLost` gets `err`. */
  destroy(err?: Error): void {
    if (err !== undefined) {
      this.reason ??= err;
      this.#error ??= err;
    }
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
    const held = this.socket.readableLength;
    if (held > 0) this.#eofAfter = held;
    else this.#ended();
  }

  protected run(): void {
    const socket = this.socket;
    socket.on("data", Transport.#onData);
    socket.on("end", Transport.#onEnd);
    socket.on("error", Transport.#onError);
    this.#call(this.#protocol.connectionMade);
  }

  protected override closed(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    if (this.#state !== "closed") {
      this.#state = "closed";
      const lost = this.#protocol.connectionLost;
      if (lost) {
        try {
          lost.call(this.#protocol, this.#error, this);
        } catch (err) {
          this.host.report(err, this);
        }
      }
    }
    super.closed();
  }

  #ended(): void {
    if (this.#eof) return;
    this.#eof = true;
    const onEof = this.#protocol.eofReceived;
    let keepOpen = false;
    try {
      keepOpen = onEof?.call(this.#protocol, this) === true;
    } catch (err) {
      this.host.report(err, this);
    }
    if (!keepOpen) this.close();
  }

  /** Runs a protocol callback; a throw is reported and closes this connection only. */
  #call(fn: ((t: Transport) => void) | undefined): void {
    if (fn === undefined) return;
    try {
      fn.call(this.#protocol, this);
    } catch (err) {
      this.host.report(err, this);
      this.close();
    }
  }

  static readonly #onData = function (this: Socket, chunk: Buffer): void {
    const t = clientOf.get(this) as Transport | undefined;
    if (t === undefined || t.#eof || this.destroyed) return;
    try {
      t.#protocol.dataReceived?.(chunk, t);
    } catch (err) {
      t.host.report(err, t);
      t.close();
    }
    if (t.#eofAfter !== undefined && (t.#eofAfter -= chunk.length) <= 0) t.#ended();
  };

  static readonly #onEnd = function (this: Socket): void {
    const t = clientOf.get(this) as Transport | undefined;
    if (t) t.#ended();
  };

  static readonly #onError = function (this: Socket, err: Error): void {
    const t = clientOf.get(this) as Transport | undefined;
    if (t) t.#error ??= wrapSocketError(err, t.where);
  };

  static readonly #onDrain = function (this: Socket): void {
    const t = clientOf.get(this) as Transport | undefined;
    if (t === undefined || !t.#flowPaused) return;
    t.#flowPaused = false;
    if (!t.#userPaused && t.#state === "open") this.resume();
    t.#call(t.#protocol.resumeWriting);
  };
}
