import type { Socket } from "node:net";
import {
  AbortError,
  ConnectionClosedError,
  IncompleteReadError,
  InvalidArgumentError,
  LimitExceededError,
  quote,
  ReadInProgressError,
  ReadTimeoutError,
  WriteTimeoutError,
  wrapSocketError,
} from "../errors.js";
import { armCancel, type WaitOptions } from "../internal/cancel.js";
import { type Deferred, deferred } from "../internal/deferred.js";
import { startTimer } from "../internal/timer.js";
import { ReadBuffer } from "./read-buffer.js";

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

export interface ReadUntilOptions extends WaitOptions {
  /** Longest result accepted, separator included. Default: the connection's `limit`. */
  max?: number | undefined;
}

/**
 * Who lends this connection out (a pool). When set, `[Symbol.asyncDispose]` hands the
 * connection back to it instead of closing it.
 */
export interface ConnectionOwner {
  release(conn: Connection): Promise<void>;
}

/** Lifecycle: `open → closing → closed`; `closing` is `close()` waiting for the peer. */
export type ConnectionState = "open" | "closing" | "closed";

export const DEFAULT_LIMIT = 64 * 1024;
const RESOLVED = Promise.resolve();
const NEWLINE = Buffer.from("\n");

/**
 * Promises over a `net.Socket` or `tls.TLSSocket`: asyncio's StreamReader and StreamWriter
 * in one object. One read runs at a time; writes resolve when the socket takes the bytes.
 *
 * State:
 * - `#buffer`: unread bytes, EOF and the first socket error (see {@link ReadBuffer}).
 * - `#reading`: the name of the pending read, or undefined; `#wake` resolves its wait.
 * - `#paused`: whether we paused the socket for flow control (never while a read waits).
 * - `#drains`: writes waiting for `drain`, oldest first.
 * - `#dirty`: an operation failed or was cancelled mid-way, so the byte stream may be out of
 *   step with the protocol; a pool never lends a dirty connection again.
 * - `#state`: see {@link ConnectionState}; `#closed` resolves on the socket's `close`.
 * - `#eofAfter`: `endInput()` ran while the (paused) socket still held this many received
 *   bytes; EOF is fed once they are. Undefined otherwise.
 */
export class Connection implements AsyncIterable<Buffer>, AsyncDisposable {
  readonly #socket: Socket;
  readonly #where: string;
  readonly #buffer = new ReadBuffer();
  readonly #limit: number;
  readonly #readTimeout: number | undefined;
  readonly #writeTimeout: number | undefined;
  readonly #closeTimeout: number;
  #reading: string | undefined;
  #wake: (() => void) | undefined;
  #paused = false;
  #drains: Deferred<void>[] = [];
  #dirty = false;
  #state: ConnectionState = "open";
  #closing: Promise<void> | undefined;
  readonly #closed = deferred<void>();
  #owner: ConnectionOwner | undefined;
  #watcher: (() => void) | undefined;
  #reused = false;
  readonly #createdAt = Date.now();
  /** The pending read's size argument (n for readExactly, max for readLine). One read at a time. */
  #want = 0;
  #eofAfter: number | undefined;

  // Read attempts are built once per connection, not per call: a read on a hot path then
  // allocates nothing but its result and promise.
  readonly #exactly = (b: ReadBuffer): Buffer | undefined => {
    const n = this.#want;
    if (b.size >= n) return b.take(n);
    if (b.error) throw b.error;
    if (b.eof) throw new IncompleteReadError(b.takeAll(), n);
    return undefined;
  };

  readonly #line = (b: ReadBuffer): string | null | undefined => {
    const max = this.#want;
    const hit = b.indexOf(NEWLINE);
    if (hit >= 0) {
      if (hit > max) throw this.#limitError("line", max, hit);
      return b.takeString(hit + 1, hit > 0 && b.byteAt(hit - 1) === 0x0d ? 2 : 1);
    }
    if (b.size > max) throw this.#limitError("line", max, b.size);
    if (b.error) throw b.error;
    if (b.eof) return b.size > 0 ? b.takeAll().toString("utf8") : null;
    return undefined;
  };

  /**
   * Wraps a connected socket. `where` names the peer in error messages (an endpoint key or
   * an address). Most code gets a Connection from `connect()`, a pool or a server instead.
   */
  constructor(socket: Socket, where: string, options: ConnectionOptions = {}) {
    this.#socket = socket;
    this.#where = where;
    this.#limit = options.limit ?? DEFAULT_LIMIT;
    this.#readTimeout = options.readTimeout;
    this.#writeTimeout = options.writeTimeout;
    this.#closeTimeout = options.closeTimeout ?? 2000;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (err) => this.#onError(err));
    socket.on("drain", () => this.#settleDrains());
    socket.on("close", () => this.#onClose());
    if (socket.destroyed) queueMicrotask(() => this.#onClose());
  }

  /** The peer's name as used in messages: the endpoint key or `address:port`. */
  get where(): string {
    return this.#where;
  }
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#socket.remotePort;
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
    return this.#closed.promise;
  }
  /** Unread bytes held in the read buffer. */
  get bufferedLength(): number {
    return this.#buffer.size;
  }
  /** The peer has half-closed (sent FIN) or the socket failed: no more bytes will arrive. */
  get readableEnded(): boolean {
    return this.#buffer.ended;
  }
  /** The socket can still take writes. */
  get writable(): boolean {
    return this.#state === "open" && !this.#socket.destroyed && !this.#socket.writableEnded;
  }
  /** The first socket error, wrapped (ConnectionResetError, SocketError…), if any. */
  get error(): Error | undefined {
    return this.#buffer.error;
  }
  /** An operation failed or was cancelled mid-way: the stream may be out of step. */
  get dirty(): boolean {
    return this.#dirty;
  }
  /** A read or a write waiting for drain is pending, or written bytes are not flushed. */
  get busy(): boolean {
    return this.#reading !== undefined || this.#drains.length > 0 || this.#socket.writableLength > 0;
  }
  /** Whether this connection served a borrower before (set by the pool that lends it). */
  get reused(): boolean {
    return this.#reused;
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

  /** Marks the stream out of step with its protocol; a pool will destroy, not reuse, it. */
  markDirty(): void {
    this.#dirty = true;
  }

  /**
   * For pools: sets who `[Symbol.asyncDispose]` hands the connection back to, and whether it
   * served before. `undefined` detaches.
   */
  lend(owner: ConnectionOwner | undefined, reused: boolean): void {
    this.#owner = owner;
    this.#reused = reused;
  }

  /**
   * For pools: calls `listener` whenever bytes, EOF, an error or a close arrive while no read
   * is pending, until the returned function is called. This is how an idle socket that the
   * peer closed, reset or wrote to is noticed at once, without a timer.
   */
  watchIdle(listener: () => void): () => void {
    this.#watcher = listener;
    return () => {
      if (this.#watcher === listener) this.#watcher = undefined;
    };
  }

  /**
   * Reads up to `max` bytes (default: the oldest buffered chunk, without copying). Resolves as
   * soon as at least one byte is available; resolves with an empty Buffer at EOF. Rejects
   * with ReadTimeoutError, AbortError, ReadInProgressError, or the socket's error.
   */
  read(max = Number.POSITIVE_INFINITY, options?: WaitOptions): Promise<Buffer> {
    if (!(max > 0)) return Promise.reject(new InvalidArgumentError(`read max must be > 0, got ${quote(max)}`));
    return this.#read("read()", options, (b) => {
      if (b.size > 0) return b.takeChunk(max);
      if (b.error) throw b.error;
      if (b.eof) return EMPTY;
      return undefined;
    });
  }

  /**
   * Reads exactly `n` bytes. Rejects with IncompleteReadError (its `partial` holds the bytes
   * that came, which are consumed) if EOF arrives first. A timeout or abort consumes nothing.
   */
  readExactly(n: number, options?: WaitOptions): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 0) {
      return Promise.reject(new InvalidArgumentError(`readExactly n must be an integer ≥ 0, got ${quote(n)}`));
    }
    return this.#read("readExactly()", options, this.#exactly, n);
  }

  /**
   * Reads through the first `separator`, which is included in the result. Rejects with
   * LimitExceededError when `max` bytes (default: the connection's limit) pass without a
   * separator, leaving the bytes buffered and buffering no more; with IncompleteReadError
   * (partial consumed) at EOF without one.
   */
  readUntil(separator: string | Buffer, options?: ReadUntilOptions): Promise<Buffer> {
    const sep = typeof separator === "string" ? Buffer.from(separator) : separator;
    if (sep.length === 0) return Promise.reject(new InvalidArgumentError("readUntil separator must not be empty"));
    const max = options?.max ?? this.#limit;
    if (!isCount(max)) return Promise.reject(maxError("readUntil", max));
    return this.#read("readUntil()", options, (b) => this.#scanUntil(b, sep, max));
  }

  /**
   * Reads one line and returns it as UTF-8 without its `\n` or `\r\n`. At EOF returns the
   * unterminated rest, or `null` when nothing is left. Rejects with LimitExceededError past
   * `max` bytes (default: the connection's limit) without a newline.
   */
  readLine(options?: ReadUntilOptions): Promise<string | null> {
    const max = options?.max ?? this.#limit;
    if (!isCount(max)) return Promise.reject(maxError("readLine", max));
    return this.#read("readLine()", options, this.#line, max);
  }

  /**
   * Writes `data`. Resolves at once when the socket takes it below its high-water mark,
   * otherwise after `drain` (backpressure: memory stays bounded). Rejects with
   * ConnectionClosedError if the socket is closed or closes first, WriteTimeoutError or
   * AbortError (the bytes may still go out; the connection is marked dirty). A signal already
   * aborted rejects with AbortError at once and writes nothing.
   */
  write(data: string | Uint8Array, options?: WaitOptions): Promise<void> {
    if (options?.signal?.aborted) return Promise.reject(new AbortError("write()", options.signal.reason));
    if (!this.writable) {
      return Promise.reject(new ConnectionClosedError("write", this.#where, this.#buffer.error));
    }
    if (this.#socket.write(data)) return RESOLVED;
    return this.#waitDrain(options);
  }

  /** Half-closes: sends FIN after pending writes. Reading goes on. Resolves once flushed. */
  end(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableFinished) return RESOLVED;
    return new Promise<void>((resolve) => {
      const done = () => {
        socket.off("finish", done);
        socket.off("close", done);
        resolve();
      };
      socket.once("finish", done);
      socket.once("close", done);
      if (!socket.writableEnded) socket.end();
    });
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
    this.#buffer.clear();
    this.#resume();
    const timer = startTimer(() => this.#socket.destroy(), this.#closeTimeout);
    this.#closing = this.end()
      .then(() => this.#closed.promise)
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
    if (this.#buffer.ended || this.#eofAfter !== undefined) return;
    const held = this.#socket.readableLength;
    if (held > 0) {
      this.#eofAfter = held;
      return;
    }
    this.#resume();
    this.#onEnd();
  }

  /** Closes the socket at once; pending operations reject (with `err` if given). */
  destroy(err?: Error): void {
    if (err !== undefined) this.#onError(err);
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

  /** Yields chunks as they arrive until EOF; rethrows socket errors. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const chunk = await this.read();
      if (chunk.length === 0) return;
      yield chunk;
    }
  }

  #scanUntil(b: ReadBuffer, sep: Buffer, max: number): Buffer | undefined {
    const hit = b.indexOf(sep);
    if (hit >= 0) {
      if (hit + sep.length > max) throw this.#limitError("readUntil() result", max, hit + sep.length);
      return b.take(hit + sep.length);
    }
    if (b.size > max) throw this.#limitError("readUntil() result", max, b.size);
    if (b.error) throw b.error;
    if (b.eof) throw new IncompleteReadError(b.takeAll(), undefined);
    return undefined;
  }

  #limitError(what: string, max: number, seen: number): LimitExceededError {
    this.#dirty = true;
    return new LimitExceededError(`${what} on ${this.#where}`, max, seen);
  }

  /**
   * Runs one read: `attempt` returns a result, throws, or returns undefined for "need more
   * bytes". Waits for data between attempts with one timer and one abort listener for the
   * whole read. The socket is never paused while a read waits; each attempt bounds what it
   * lets accumulate (readUntil's max, readExactly's n).
   */
  #read<T>(
    name: string,
    options: WaitOptions | undefined,
    attempt: (b: ReadBuffer) => T | undefined,
    want = 0,
  ): Promise<T> {
    if (this.#reading !== undefined) return Promise.reject(new ReadInProgressError(name, this.#reading));
    if (this.#closing !== undefined) return Promise.reject(new ConnectionClosedError(name, this.#where));
    if (options?.signal?.aborted) return Promise.reject(new AbortError(name, options.signal.reason));
    this.#want = want; // only once the read is admitted: a refused read must not change it
    // Fast path: the buffer already answers, so no wait, timer or listener is set up.
    try {
      const result = this.#attempt(attempt);
      if (result !== undefined) return Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#wait(name, options, attempt);
  }

  /** The slow path of `#read`: waits for data, EOF, an error, a timeout or an abort. */
  async #wait<T>(
    name: string,
    options: WaitOptions | undefined,
    attempt: (b: ReadBuffer) => T | undefined,
  ): Promise<T> {
    this.#reading = name;
    let cancelled: Error | undefined;
    const timeout = options?.timeout ?? this.#readTimeout;
    const disarm = armCancel(
      name,
      { signal: options?.signal, timeout },
      (ms) => new ReadTimeoutError(name, ms, this.#where),
      (err) => {
        cancelled = err;
        this.#wake?.();
      },
    );
    try {
      for (;;) {
        if (cancelled) {
          this.#dirty = true;
          throw cancelled;
        }
        this.#resume();
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        const result = this.#attempt(attempt);
        if (result !== undefined) return result;
      }
    } finally {
      disarm();
      this.#wake = undefined;
      this.#reading = undefined;
    }
  }

  #attempt<T>(attempt: (b: ReadBuffer) => T | undefined): T | undefined {
    const result = attempt(this.#buffer);
    if (result !== undefined && this.#paused && this.#buffer.size <= this.#limit) this.#resume();
    return result;
  }

  #onData(chunk: Buffer): void {
    if (this.#state !== "open") return; // closing: input is discarded
    this.#buffer.feed(chunk);
    if (this.#eofAfter !== undefined && (this.#eofAfter -= chunk.length) <= 0) {
      this.#eofAfter = undefined;
      this.#onEnd(); // the last byte held at endInput(): now the EOF it injected
      return;
    }
    if (this.#wake) {
      this.#wake();
      return;
    }
    if (!this.#paused && this.#buffer.size > 2 * this.#limit) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.#watcher?.();
  }

  #onEnd(): void {
    this.#buffer.feedEof();
    this.#signal();
  }

  #onError(err: Error): void {
    this.#buffer.feedError(wrapSocketError(err, this.#where));
    this.#signal();
  }

  #onClose(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (!this.#buffer.ended) this.#buffer.feedError(new ConnectionClosedError("read", this.#where));
    const err = new ConnectionClosedError("write", this.#where, this.#buffer.error);
    for (const d of this.#drains.splice(0)) d.reject(err);
    this.#signal();
    this.#closed.resolve();
  }

  #signal(): void {
    if (this.#wake) this.#wake();
    else this.#watcher?.();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
  }

  #waitDrain(options: WaitOptions | undefined): Promise<void> {
    const d = deferred<void>();
    this.#drains.push(d);
    const timeout = options?.timeout ?? this.#writeTimeout;
    if (options?.signal === undefined && timeout === undefined) return d.promise;
    const disarm = armCancel(
      "write()",
      { signal: options?.signal, timeout },
      (ms) => new WriteTimeoutError(ms, this.#where),
      (err) => {
        this.#dirty = true;
        const i = this.#drains.indexOf(d);
        if (i >= 0) this.#drains.splice(i, 1);
        d.reject(err);
      },
    );
    d.promise.then(disarm, disarm);
    return d.promise;
  }

  #settleDrains(): void {
    for (const d of this.#drains.splice(0)) d.resolve();
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1;
}

function maxError(method: string, max: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${method} max must be an integer ≥ 1, got ${quote(max)}`);
}
