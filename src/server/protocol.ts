import type { Socket } from "node:net";
import { wrapSocketError } from "../errors.js";

/**
 * Protocol callbacks, like asyncio's `Protocol`: the server calls them on socket events, in
 * this order: `connectionMade` once, `dataReceived` per chunk, `eofReceived` at most once,
 * `connectionLost` exactly once. A callback that throws closes that connection only (the
 * error goes to the server's `error` event).
 */
export interface Protocol {
  /** The connection is up; keep `transport` to write. */
  connectionMade?(transport: Transport): void;
  /** A chunk arrived. Chunk boundaries are arbitrary: frame them yourself (see codecs). */
  dataReceived?(data: Buffer): void;
  /**
   * The peer half-closed, or the server is shutting down. Return `true` to keep the write side
   * open and close the transport yourself later; otherwise it is closed once writes flush.
   */
  eofReceived?(): boolean | undefined;
  /** The socket closed. `error` is the socket error or the reason the server closed it. */
  connectionLost?(error: Error | undefined): void;
  /** The transport's write buffer passed the high-water mark; reading is paused meanwhile. */
  pauseWriting?(): void;
  /** The write buffer drained. */
  resumeWriting?(): void;
}

/** Makes a fresh protocol for each connection. */
export type ProtocolFactory = () => Protocol;

/** Lifecycle of a transport: `open → closing → closed`; `closing` waits for writes to flush. */
export type TransportState = "open" | "closing" | "closed";

/**
 * What a protocol writes through: asyncio's `Transport` over a `net.Socket`.
 *
 * Flow control: when unsent bytes pass `highWaterMark`, reading stops (a client that does
 * not read its replies cannot make the server buffer without bound) and `pauseWriting` runs;
 * on `drain` reading resumes (unless the protocol paused it) and `resumeWriting` runs.
 *
 * State:
 * - `#state`: see {@link TransportState}. `#userPaused`: `pause()` was called;
 *   `#flowPaused`: we paused for flow control. The socket reads iff neither is set.
 * - `#error`: the first socket error or the reason passed to `destroy`.
 * - `#eof`: input ended (peer FIN or server shutdown); later data is discarded.
 */
export class Transport {
  readonly #socket: Socket;
  readonly #protocol: Protocol;
  readonly #highWaterMark: number;
  readonly #closeTimeout: number;
  readonly #onError: (err: unknown) => void;
  readonly where: string;
  #state: TransportState = "open";
  #userPaused = false;
  #flowPaused = false;
  #eof = false;
  #error: Error | undefined;

  constructor(
    socket: Socket,
    where: string,
    protocol: Protocol,
    options: { highWaterMark: number; closeTimeout: number; onError: (err: unknown) => void },
  ) {
    this.#socket = socket;
    this.where = where;
    this.#protocol = protocol;
    this.#highWaterMark = options.highWaterMark;
    this.#closeTimeout = options.closeTimeout;
    this.#onError = options.onError;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (err) => {
      this.#error ??= wrapSocketError(err, where);
    });
    socket.on("close", () => this.#onClose());
  }

  get state(): TransportState {
    return this.#state;
  }
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }
  /** Bytes written but not yet taken by the kernel. */
  get writableLength(): number {
    return this.#socket.writableLength;
  }
  /** Writes are accepted (not closing, not closed). */
  get writable(): boolean {
    return this.#state === "open" && !this.#socket.destroyed && !this.#socket.writableEnded;
  }
  /** The socket, for options sockpool does not wrap. */
  get socket(): Socket {
    return this.#socket;
  }

  /** Runs `connectionMade`; a throw closes the connection. */
  start(): void {
    this.#call(() => this.#protocol.connectionMade?.(this));
  }

  /**
   * Queues `data` for sending. Returns false once unsent bytes pass the high-water mark
   * (reading is then paused until they drain). Writes after close are dropped.
   */
  write(data: string | Uint8Array): boolean {
    if (!this.writable) return false;
    this.#socket.write(data);
    return this.#checkFlow();
  }

  /** Stops reading from the peer until `resume()`. */
  pause(): void {
    this.#userPaused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#flowPaused) this.#socket.resume();
  }

  /** Half-closes: sends FIN once queued writes flush. Reading goes on. */
  end(): void {
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  /**
   * Graceful close: stops reading, flushes, sends FIN, and destroys the socket if it has not
   * closed `closeTimeout` ms later. Idempotent.
   */
  close(): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#eof = true;
    this.#socket.resume(); // keep draining input so the peer's FIN and our close can happen
    this.end();
    setTimeout(() => this.#socket.destroy(), this.#closeTimeout).unref();
  }

  /** Closes at once; `connectionLost` gets `err`. */
  destroy(err?: Error): void {
    if (err !== undefined) this.#error ??= err;
    this.#socket.destroy();
  }

  /** Server shutdown: input ends as if the peer sent FIN (see {@link Protocol.eofReceived}). */
  endInput(): void {
    this.#onEnd();
  }

  #onData(chunk: Buffer): void {
    if (this.#eof || this.#socket.destroyed) return;
    this.#call(() => this.#protocol.dataReceived?.(chunk));
  }

  #onEnd(): void {
    if (this.#eof) return;
    this.#eof = true;
    let keepOpen: boolean | undefined;
    this.#call(() => {
      keepOpen = this.#protocol.eofReceived?.() === true;
    });
    if (!keepOpen) this.close();
  }

  #onDrain(): void {
    if (!this.#flowPaused) return;
    this.#flowPaused = false;
    if (!this.#userPaused && this.#state === "open") this.#socket.resume();
    this.#call(() => this.#protocol.resumeWriting?.());
  }

  #onClose(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#call(() => this.#protocol.connectionLost?.(this.#error));
  }

  #checkFlow(): boolean {
    if (this.#socket.writableLength <= this.#highWaterMark) return true;
    if (!this.#flowPaused) {
      this.#flowPaused = true;
      this.#socket.pause();
      this.#call(() => this.#protocol.pauseWriting?.());
    }
    return false;
  }

  /** Runs a protocol callback; a throw is reported and closes this connection only. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#onError(err);
      if (this.#state === "open") this.close();
    }
  }
}
