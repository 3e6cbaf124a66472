import type { Socket } from "node:net";
import type { Decoder } from "../codec/codec.js";
import { DEFAULT_MAX_LINE } from "../codec/lines.js";
import type { ProxyHeader } from "../codec/proxy-header.js";
import { ConnectionClosedError, wrapSocketError } from "../errors.js";
import type { WaitOptions } from "../internal/cancel.js";
import { type Deferred, deferred } from "../internal/deferred.js";
import { startTimer } from "../internal/timer.js";
import { type ChunkResult, Reader, type ReadUntilOptions } from "./reader.js";
import { Writer } from "./writer.js";

export type { ReadUntilOptions } from "./reader.js";

/** Per-connection settings; every duration is in milliseconds. */
export interface ConnectionOptions {
  /** Default timeout of each read, unless the call passes its own. Default: none. */
  readTimeout?: number | undefined;
  /** Default timeout of a write waiting for `drain`. Default: none. */
  writeTimeout?: number | undefined;
  /**
   * Default maximum for `readLine`/`readUntil`, and the read buffer's flow-control limit:
   * the socket is paused above 2× this many unread bytes and resumed at or below it, or
   * whenever a read waits for more. Default 64 KiB.
   */
  limit?: number | undefined;
  /** How long `close()` waits for the peer's FIN before destroying. Default 2000. */
  closeTimeout?: number | undefined;
}

/**
 * Who lends this connection out (a pool's lease). When set, `[Symbol.asyncDispose]` hands
 * the connection back to it instead of closing it.
 */
export interface ConnectionOwner {
  release(conn: Connection): Promise<void>;
}

/**
 * The load balancer a server's client came through (PROXY protocol): the balancer's own
 * address and port (both undefined on a Unix socket listener) and the header it sent, TLVs
 * included (`header.tlvs`).
 */
export interface ProxiedBy {
  readonly address: string | undefined;
  readonly port: number | undefined;
  readonly header: ProxyHeader;
}

/** The peer a server's connection reports when a PROXY protocol header named it. */
export interface ProxiedPeer {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly proxiedBy: ProxiedBy;
}

/** Lifecycle: `open → closing → closed`; `closing` is `close()` waiting for the peer. */
export type ConnectionState = "open" | "closing" | "closed";

export const DEFAULT_LIMIT = DEFAULT_MAX_LINE;
const RESOLVED = Promise.resolve();

/** Socket → its Connection, for the shared socket listeners (installed by Connection). */
const connectionOf = new WeakMap<Socket, Connection>();
let onData: (this: Socket, chunk: Buffer) => void;
let onEnd: (this: Socket) => void;
let onError: (this: Socket, err: Error) => void;
let onDrain: (this: Socket) => void;
let onClose: (this: Socket) => void;

// What a pool may do to a Connection and its users may not. These are not methods, so they
// stay off the public surface (src/index.ts does not export them); the class body installs
// them, where its private fields are in reach.

/**
 * Sets who `conn[Symbol.asyncDispose]` hands the connection back to (a pool's lease);
 * `undefined` detaches, so disposing closes it again.
 */
export let lendConnection: (conn: Connection, owner: ConnectionOwner | undefined) => void;

/**
 * Calls `listener` whenever bytes, EOF, an error or a close arrive while no read is pending
 * (`undefined` stops). This is how an idle pooled socket that the peer closed, reset or wrote
 * to is noticed at once, without a timer.
 */
export let watchIdle: (conn: Connection, listener: (() => void) | undefined) => void;

/**
 * Feeds bytes read from the socket by someone else: a server's fast read path, whose sockets
 * have no `'data'` events. `chunk` becomes the connection's: pass a copy of a borrowed buffer.
 */
export let feedConnection: (conn: Connection, chunk: Buffer) => void;

/**
 * A connection whose bytes come through `feedConnection`, from a socket that reads nothing
 * while paused: it listens for no `'data'`. Node's `'data'` path goes on reading a paused
 * socket into its own buffer (up to `readableHighWaterMark`), and what it read counts as
 * received (`endInput`); so that the same bytes do on both paths, the reader takes that much
 * more before it pauses.
 */
export let connectionFedFromOutside: (socket: Socket, where: string, options: ConnectionOptions) => Connection;

/** Set while `connectionFedFromOutside` runs the constructor: no `'data'` listener then. */
let makingFed = false;

/**
 * Says that `conn`'s peer is the client a PROXY protocol header named, not the socket's
 * own peer (the balancer): `remoteAddress`, `remotePort` and `proxiedBy` report `peer`.
 */
export let setPeer: (conn: Connection, peer: ProxiedPeer) => void;

/**
 * Promises over a `net.Socket` or `tls.TLSSocket`: asyncio's StreamReader and StreamWriter
 * in one object. One read runs at a time; writes resolve when the socket takes the bytes.
 * The read side is a {@link Reader} (connection/reader.ts), the write side a {@link Writer}
 * (connection/writer.ts); this class wires them to the socket and owns the lifecycle.
 *
 * Socket listeners are shared functions that find their connection in a WeakMap, so a
 * connection costs no closures; what only some connections need is made on first use.
 *
 * State:
 * - `#state`: see {@link ConnectionState}; `#closing`: the close() promise once closing;
 *   `#closed`: made when first asked for (`closed`, `close()`), resolved on the socket's
 *   `close`.
 * - `#owner`: the pool lease this connection is lent to, if any.
 */
export class Connection implements AsyncIterable<Buffer>, AsyncDisposable {
  readonly #socket: Socket;
  readonly #where: string;
  readonly #reader: Reader;
  readonly #writer: Writer;
  readonly #closeTimeout: number;
  #state: ConnectionState = "open";
  #closing: Promise<void> | undefined;
  #closed: Deferred<void> | undefined;
  #owner: ConnectionOwner | undefined;
  #peer: ProxiedPeer | undefined;
  readonly #createdAt = Date.now();

  /**
   * Wraps a connected socket. `where` names the peer in error messages (an endpoint key or
   * an address). Most code gets a Connection from `connect()`, a pool or a server instead.
   */
  constructor(socket: Socket, where: string, options: ConnectionOptions = {}) {
    this.#socket = socket;
    this.#where = where;
    const reader = new Reader(socket, where, options.limit ?? DEFAULT_LIMIT, options.readTimeout);
    this.#reader = reader;
    this.#writer = new Writer(socket, where, options.writeTimeout, reader);
    this.#closeTimeout = options.closeTimeout ?? 2000;
    connectionOf.set(socket, this);
    if (!makingFed) socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("drain", onDrain);
    socket.on("close", onClose);
    if (socket.destroyed) queueMicrotask(() => this.#onClose());
  }

  static {
    lendConnection = (conn, owner) => {
      conn.#owner = owner;
    };
    watchIdle = (conn, listener) => {
      conn.#reader.watcher = listener;
    };
    feedConnection = (conn, chunk) => {
      conn.#reader.feed(chunk);
    };
    setPeer = (conn, peer) => {
      conn.#peer = peer;
    };
    connectionFedFromOutside = (socket, where, options) => {
      makingFed = true;
      let conn: Connection;
      try {
        conn = new Connection(socket, where, options);
      } finally {
        makingFed = false;
      }
      conn.#reader.slack = socket.readableHighWaterMark;
      return conn;
    };
    onData = function (this: Socket, chunk: Buffer) {
      const conn = connectionOf.get(this);
      if (conn) conn.#reader.feed(chunk);
    };
    onEnd = function (this: Socket) {
      const conn = connectionOf.get(this);
      if (conn) conn.#reader.feedEof();
    };
    onError = function (this: Socket, err: Error) {
      const conn = connectionOf.get(this);
      if (conn) conn.#reader.feedError(wrapSocketError(err, conn.#where));
    };
    onDrain = function (this: Socket) {
      const conn = connectionOf.get(this);
      if (conn) conn.#writer.drain();
    };
    onClose = function (this: Socket) {
      const conn = connectionOf.get(this);
      if (conn) conn.#onClose();
    };
  }

  /** The peer's name as used in messages: the endpoint key or `address:port`. */
  get where(): string {
    return this.#where;
  }
  /** The peer's address: on a server behind a load balancer, the client its PROXY header named. */
  get remoteAddress(): string | undefined {
    return this.#peer ? this.#peer.remoteAddress : this.#socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#peer ? this.#peer.remotePort : this.#socket.remotePort;
  }
  /** The load balancer this server's client came through (PROXY protocol), or undefined. */
  get proxiedBy(): ProxiedBy | undefined {
    return this.#peer?.proxiedBy;
  }
  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.#socket.localPort;
  }
  get state(): ConnectionState {
    return this.#state;
  }
  /** Resolves once the socket has closed, however it closed. Never rejects. */
  get closed(): Promise<void> {
    if (this.#state === "closed") return RESOLVED;
    this.#closed ??= deferred<void>();
    return this.#closed.promise;
  }
  /** Unread bytes held in the read buffer. */
  get bufferedLength(): number {
    return this.#reader.size;
  }
  /** The peer has half-closed (sent FIN) or the socket failed: no more bytes will arrive. */
  get readableEnded(): boolean {
    return this.#reader.ended;
  }
  /** The socket can still take writes. */
  get writable(): boolean {
    return this.#state === "open" && !this.#socket.destroyed && !this.#socket.writableEnded;
  }
  /** The first socket error, wrapped (ConnectionResetError, SocketError…), if any. */
  get error(): Error | undefined {
    return this.#reader.error;
  }
  /** An operation failed or was cancelled mid-way: the stream may be out of step. */
  get dirty(): boolean {
    return this.#reader.dirty;
  }
  /** A read or a write waiting for drain is pending, or written bytes are not flushed. */
  get busy(): boolean {
    return this.#reader.busy || this.#writer.busy;
  }
  /** Bytes written but not yet taken by the kernel (the socket's `writableLength`). */
  get writableLength(): number {
    return this.#socket.writableLength;
  }
  /** Milliseconds since the connection was made. */
  get age(): number {
    return Date.now() - this.#createdAt;
  }
  get bytesRead(): number {
    return this.#socket.bytesRead;
  }
  get bytesWritten(): number {
    return this.#socket.bytesWritten;
  }
  /** The socket itself, for options sockpool does not wrap. Reading from it directly breaks the buffer. */
  get socket(): Socket {
    return this.#socket;
  }

  /**
   * Reads up to `max` bytes (default: the oldest buffered chunk, without copying). Resolves as
   * soon as at least one byte is available; resolves with an empty Buffer at EOF. Rejects
   * with ReadTimeoutError, AbortError, ReadInProgressError, or the socket's error.
   */
  read(max = Number.POSITIVE_INFINITY, options?: WaitOptions): Promise<Buffer> {
    return this.#reader.read(max, options);
  }

  /**
   * Reads exactly `n` bytes. Rejects with IncompleteReadError (its `partial` holds the bytes
   * that came, which are consumed) if EOF arrives first. A timeout or abort consumes nothing.
   */
  readExactly(n: number, options?: WaitOptions): Promise<Buffer> {
    return this.#reader.readExactly(n, options);
  }

  /**
   * Reads through the first `separator`, which is included in the result. Rejects with
   * LimitExceededError when `max` bytes (default: the connection's limit) pass without a
   * separator, leaving the bytes buffered and buffering no more; with IncompleteReadError
   * (partial consumed) at EOF without one.
   */
  readUntil(separator: string | Buffer, options?: ReadUntilOptions): Promise<Buffer> {
    return this.#reader.readUntil(separator, options);
  }

  /**
   * Reads one line and returns it as UTF-8 without its `\n` or `\r\n`. At EOF returns the
   * unterminated rest, or `null` when nothing is left. Rejects with LimitExceededError past
   * `max` bytes (default: the connection's limit) without a newline.
   */
  readLine(options?: ReadUntilOptions): Promise<string | null> {
    return this.#reader.readLine(options);
  }

  /**
   * Reads one frame through `decoder` (a codec's `decoder()`, e.g. `lengthPrefixedCodec()`),
   * mini-redis's `read_frame`: the bytes go to the decoder, and frames it completes beyond
   * this one wait for the next `readFrame` with the same decoder (a byte read meanwhile is
   * refused). Resolves with the frame, or `null` at EOF between frames. Rejects with the
   * decoder's LimitExceededError or BadFrameError (the connection is then dirty),
   * IncompleteReadError at EOF inside a frame, ReadTimeoutError, AbortError, or the socket's
   * error. Once a decoder has read from a connection, the bytes it holds are its own.
   */
  readFrame(decoder: Decoder, options?: WaitOptions): Promise<Buffer | null> {
    return this.#reader.readFrame(decoder, options);
  }

  /**
   * Like `readFrame`, but resolves with every frame complete so far (at least one), in
   * order: one promise per batch, not per frame. Resolves with `[]` at EOF between frames.
   */
  readFrames(decoder: Decoder, options?: WaitOptions): Promise<Buffer[]> {
    return this.#reader.readFrames(decoder, options);
  }

  /** Yields batches of frames through `decoder` until EOF (see `readFrames`). */
  async *frames(decoder: Decoder): AsyncGenerator<Buffer[], void, undefined> {
    for (let batch = await this.readFrames(decoder); batch.length > 0; batch = await this.readFrames(decoder)) {
      yield batch;
    }
  }

  /**
   * Writes `data`. Resolves at once when the socket takes it below its high-water mark,
   * otherwise after `drain` (backpressure: memory stays bounded). Rejects with
   * ConnectionClosedError if the socket is closed or closes first, WriteTimeoutError or
   * AbortError (the bytes may still go out; the connection is marked dirty). A signal already
   * aborted rejects with AbortError at once and writes nothing.
   */
  write(data: string | Uint8Array, options?: WaitOptions): Promise<void> {
    return this.#writer.write(data, options, this.writable, this.#reader.error);
  }

  /**
   * Resolves once every byte written so far has been taken by the kernel: at once when none
   * is pending or the socket no longer takes writes, else when its write queue empties or
   * the socket closes first. Never rejects. For writers that queue without awaiting each
   * write (the RPC outbox) and must stop producing while the peer does not read. Each
   * waiting call costs one empty write, whose callback runs after the bytes queued before it
   * (`drain` alone would not do: it fires only once the queue passed the socket's own mark).
   */
  drained(): Promise<void> {
    return this.#writer.drained(this.writable);
  }

  /** Half-closes: sends FIN after pending writes. Reading goes on. Resolves once flushed. */
  end(): Promise<void> {
    return this.#writer.end();
  }

  /**
   * Graceful close: flushes, sends FIN, discards further input and waits for the socket to
   * close, destroying it after `closeTimeout` ms if the peer does not answer. Idempotent:
   * every caller gets the same promise, which never rejects.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === "closed") return RESOLVED;
    this.#state = "closing";
    this.#reader.discard();
    const timer = startTimer(() => this.#socket.destroy(), this.#closeTimeout);
    this.#closing = this.#writer
      .end()
      .then(() => this.closed)
      .finally(() => clearTimeout(timer));
    return this.#closing;
  }

  /**
   * For servers shutting down: ends the input as if the peer had sent FIN, after every byte
   * already received. Bytes in the read buffer, and those a paused socket still holds (its
   * `readableLength`), are read first, then reads see EOF; later bytes are discarded.
   * Writing goes on. Flow control is kept: held bytes come in as reads make room.
   */
  endInput(): void {
    this.#reader.endAfter(this.#socket.readableLength);
  }

  /** Closes the socket at once; pending operations reject (with `err` if given). */
  destroy(err?: Error): void {
    if (err !== undefined) this.#reader.feedError(wrapSocketError(err, this.#where));
    this.#socket.destroy();
  }

  /**
   * Same as `close()`, or a release when a pool lent this connection. A getter on purpose:
   * `await using` fetches the dispose function when the declaration runs, so each scope gets
   * one bound to the borrow it declared. A pool lends this same object again after a
   * release, and a late scope exit must not give back the next borrower's socket.
   */
  get [Symbol.asyncDispose](): () => Promise<void> {
    const owner = this.#owner;
    return owner ? () => owner.release(this) : () => this.close();
  }

  /**
   * Yields chunks as they arrive until EOF; rethrows socket errors. Each step is one read
   * (`read()`'s rules: one at a time), with no generator in between.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return new ChunkIterator(this.#reader);
  }

  #onClose(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#reader.closed();
    this.#writer.fail(new ConnectionClosedError("write", this.#where, this.#reader.error));
    this.#closed?.resolve();
  }
}

/** The iterator of `for await (const chunk of conn)`: each step is one read of the reader. */
class ChunkIterator implements AsyncIterableIterator<Buffer> {
  readonly #reader: Reader;

  constructor(reader: Reader) {
    this.#reader = reader;
  }

  next(): Promise<ChunkResult> {
    return this.#reader.nextChunk();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return this;
  }
}
