import type { Socket } from "node:net";
import type { Decoder } from "../codec/codec.js";
import {
  AbortError,
  ConnectionClosedError,
  IncompleteReadError,
  InvalidArgumentError,
  LimitExceededError,
  quote,
  ReadInProgressError,
  ReadTimeoutError,
} from "../errors.js";
import { armCancel, type Disarm, type WaitOptions } from "../internal/cancel.js";
import { ReadBuffer } from "./read-buffer.js";

export interface ReadUntilOptions extends WaitOptions {
  /** Longest result accepted, separator included. Default: the connection's `limit`. */
  max?: number | undefined;
}

/**
 * One attempt of a read on the buffer: a result, a throw, or undefined for "need more bytes".
 * Attempts are functions of the class (no closure per reader or per call): what a read
 * asked for (`#want`, `#sep`, `#decoder`) is kept on the reader while it runs.
 */
type Attempt<T> = (r: Reader, b: ReadBuffer) => T | undefined;

/** What `for await (const chunk of conn)` gets per step. */
export type ChunkResult = IteratorResult<Buffer, undefined>;
const DONE: ChunkResult = Object.freeze({ done: true, value: undefined }) as ChunkResult;

const NEWLINE = Buffer.from("\n");
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The read side of a Connection (asyncio's StreamReader): a {@link ReadBuffer} fed by the
 * socket, the one pending read, and flow control. Internal: Connection holds one and
 * delegates its read methods to it.
 *
 * State:
 * - `#buffer`: unread bytes, EOF and the first socket error.
 * - `#reading`: the name of the pending read, or undefined; `#attempt` is its attempt,
 *   run again whenever bytes, EOF or an error arrive (synchronously, from the feed), and
 *   `#resolve`/`#reject`/`#disarm` settle it and clear its timer and abort listener.
 *   `#want`, `#sep`, `#decoder`: what the read in progress asked for (n for readExactly,
 *   max for readLine and readUntil, readUntil's separator, the frame reads' decoder).
 * - `#paused`: whether we paused the socket for flow control (never while a read waits):
 *   above 2 × limit unread bytes (plus `slack`), resumed at ≤ limit or when a read waits.
 * - `slack`: bytes this reader takes past the pause mark before it pauses: 0, or for a
 *   socket fed from outside (a server's fast read path) the `readableHighWaterMark` that
 *   Node itself would go on reading into its buffer after a pause.
 * - `#frames[#frameAt..]`: frames a decoder completed that readFrame has not handed out
 *   yet, and `#framesOf`: that decoder. Byte reads are refused while frames wait.
 * - `dirty`: an operation failed or was cancelled mid-way, so the stream may be out of step.
 * - `watcher`: told of bytes, EOF, errors and closes that arrive while no read is pending.
 * - `discarding`: input is thrown away (the connection is closing).
 * - `#eofAfter`: the input was ended while the (paused) socket still held this many received
 *   bytes; EOF is fed once they are. Undefined otherwise.
 */
export class Reader {
  readonly #socket: Socket;
  readonly #where: string;
  readonly #limit: number;
  readonly #readTimeout: number | undefined;
  readonly #buffer = new ReadBuffer();
  #reading: string | undefined;
  #attempt: Attempt<unknown> | undefined;
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  #disarm: Disarm | undefined;
  #want = 0;
  #sep: Buffer | undefined;
  #decoder: Decoder | undefined;
  #paused = false;
  #frames: Buffer[] | undefined;
  #frameAt = 0;
  #framesOf: Decoder | undefined;
  dirty = false;
  slack = 0;
  watcher: (() => void) | undefined;
  discarding = false;
  #eofAfter: number | undefined;

  constructor(socket: Socket, where: string, limit: number, readTimeout: number | undefined) {
    this.#socket = socket;
    this.#where = where;
    this.#limit = limit;
    this.#readTimeout = readTimeout;
  }

  get size(): number {
    return this.#buffer.size;
  }
  get ended(): boolean {
    return this.#buffer.ended;
  }
  get error(): Error | undefined {
    return this.#buffer.error;
  }
  /** A read is pending. */
  get busy(): boolean {
    return this.#reading !== undefined;
  }

  // --- Fed by the connection ---------------------------------------------------------------

  feed(chunk: Buffer): void {
    if (this.discarding) return;
    if (this.#handsOver(chunk)) return;
    this.#buffer.feed(chunk);
    if (this.#eofAfter !== undefined && (this.#eofAfter -= chunk.length) <= 0) {
      this.#eofAfter = undefined;
      this.feedEof(); // the last byte held when the input was ended: now its EOF
      return;
    }
    if (this.#attempt !== undefined) {
      this.#retry();
      return;
    }
    if (!this.#paused && this.#buffer.size > 2 * this.#limit + this.slack) {
      this.#paused = true;
      this.#socket.pause();
    }
    this.watcher?.();
  }

  /**
   * The direct hand-off: a chunk that arrives while a for-await step (or a `read()` that takes
   * all of it) waits on an empty buffer is that read's result as it is, without a trip through
   * the buffer. Anything that could make the buffer matter (buffered bytes, an input end
   * counting bytes, a chunk larger than `read(max)`) takes the ordinary path.
   */
  #handsOver(chunk: Buffer): boolean {
    const attempt = this.#attempt;
    const b = this.#buffer;
    if (attempt === undefined || chunk.length === 0 || b.size > 0 || b.ended || this.#eofAfter !== undefined) {
      return false;
    }
    if (attempt === Reader.#step) this.#settle({ done: false, value: chunk }, undefined);
    else if (attempt === Reader.#chunk && chunk.length <= this.#want) this.#settle(chunk, undefined);
    else return false;
    return true;
  }

  feedEof(): void {
    this.#buffer.feedEof();
    this.#signal();
  }

  feedError(err: Error): void {
    this.#buffer.feedError(err);
    this.#signal();
  }

  /**
   * Ends the input as if the peer had sent FIN, after the `held` bytes the socket still holds
   * (a paused socket's `readableLength`); at once when it holds none. Idempotent.
   */
  endAfter(held: number): void {
    if (this.#buffer.ended || this.#eofAfter !== undefined) return;
    if (held > 0) {
      this.#eofAfter = held;
      return;
    }
    this.resume();
    this.feedEof();
  }

  /** The socket closed: reads fail from now on unless input had ended already. */
  closed(): void {
    if (!this.#buffer.ended) this.#buffer.feedError(new ConnectionClosedError("read", this.#where));
    this.#signal();
  }

  /** Drops what is buffered and keeps draining the socket (so its FIN and close can come). */
  discard(): void {
    this.discarding = true;
    this.#buffer.clear();
    this.#frames = undefined;
    this.resume();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#socket.resume();
  }

  // --- Byte reads ----------------------------------------------------------------------------

  read(max: number, options: WaitOptions | undefined): Promise<Buffer> {
    if (!(max > 0)) return Promise.reject(new InvalidArgumentError(`read max must be > 0, got ${quote(max)}`));
    return this.#read("read()", options, Reader.#chunk, max);
  }

  readExactly(n: number, options: WaitOptions | undefined): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 0) {
      return Promise.reject(new InvalidArgumentError(`readExactly n must be an integer ≥ 0, got ${quote(n)}`));
    }
    return this.#read("readExactly()", options, Reader.#exactly, n);
  }

  readUntil(separator: string | Buffer, options: ReadUntilOptions | undefined): Promise<Buffer> {
    const sep = typeof separator === "string" ? Buffer.from(separator) : separator;
    if (sep.length === 0) return Promise.reject(new InvalidArgumentError("readUntil separator must not be empty"));
    const max = options?.max ?? this.#limit;
    if (!isCount(max)) return Promise.reject(maxError("readUntil", max));
    return this.#read("readUntil()", options, Reader.#until, max, sep);
  }

  readLine(options: ReadUntilOptions | undefined): Promise<string | null> {
    const max = options?.max ?? this.#limit;
    if (!isCount(max)) return Promise.reject(maxError("readLine", max));
    return this.#read("readLine()", options, Reader.#line, max);
  }

  /** One chunk as an iterator step (`{ done: true }` at EOF): what the Connection's iterator yields. */
  nextChunk(): Promise<ChunkResult> {
    return this.#read("read()", undefined, Reader.#step, Number.POSITIVE_INFINITY);
  }

  // --- Frame reads ---------------------------------------------------------------------------

  readFrame(decoder: Decoder, options: WaitOptions | undefined): Promise<Buffer | null> {
    const queued = this.#queuedFrames(decoder);
    if (queued instanceof Error) return Promise.reject(queued);
    if (queued !== undefined) return Promise.resolve(this.#shiftFrame(queued));
    return this.#read("readFrame()", options, Reader.#frame, 0, undefined, decoder);
  }

  readFrames(decoder: Decoder, options: WaitOptions | undefined): Promise<Buffer[]> {
    const queued = this.#queuedFrames(decoder);
    if (queued instanceof Error) return Promise.reject(queued);
    if (queued !== undefined) {
      const rest = this.#frameAt === 0 ? queued : queued.slice(this.#frameAt);
      this.#frames = undefined;
      this.#framesOf = undefined;
      return Promise.resolve(rest);
    }
    return this.#read("readFrames()", options, Reader.#frameBatch, 0, undefined, decoder);
  }

  /**
   * Feeds every buffered byte to `decoder`: its frames, [] at a clean EOF (nothing pending),
   * or undefined to wait for more. Throws the decoder's error (the stream is then dirty), the
   * socket's error, or IncompleteReadError at EOF inside a frame.
   */
  #decode(b: ReadBuffer, decoder: Decoder): Buffer[] | undefined {
    let frames: Buffer[] | undefined;
    try {
      for (let chunk = b.takeChunk(b.size); chunk.length > 0; chunk = b.takeChunk(b.size)) {
        const got = decoder.push(chunk);
        if (got.length > 0) frames = frames === undefined ? got : frames.concat(got);
      }
    } catch (err) {
      this.dirty = true;
      throw err;
    }
    if (frames !== undefined) return frames;
    if (b.error) throw b.error;
    if (b.eof) {
      const partial = decoder.end();
      if (partial === undefined) return [];
      throw new IncompleteReadError(partial, undefined, this.#where);
    }
    return undefined;
  }

  #queuedFrames(decoder: Decoder): Buffer[] | Error | undefined {
    if (this.#frames === undefined) return undefined;
    if (this.#framesOf !== decoder) {
      return new InvalidArgumentError(`frames of another decoder wait to be read on ${this.#where}`);
    }
    return this.#frames;
  }

  #shiftFrame(frames: Buffer[]): Buffer {
    const frame = frames[this.#frameAt++] as Buffer;
    if (this.#frameAt === frames.length) {
      this.#frames = undefined;
      this.#framesOf = undefined;
    }
    return frame;
  }

  // --- The attempts ---------------------------------------------------------------------------

  static #chunk(r: Reader, b: ReadBuffer): Buffer | undefined {
    if (b.size > 0) return b.takeChunk(r.#want);
    if (b.error) throw b.error;
    if (b.eof) return EMPTY;
    return undefined;
  }

  static #step(_r: Reader, b: ReadBuffer): ChunkResult | undefined {
    if (b.size > 0) return { done: false, value: b.takeChunk(b.size) };
    if (b.error) throw b.error;
    if (b.eof) return DONE;
    return undefined;
  }

  static #exactly(r: Reader, b: ReadBuffer): Buffer | undefined {
    const n = r.#want;
    if (b.size >= n) return b.take(n);
    if (b.error) throw b.error;
    if (b.eof) throw new IncompleteReadError(b.takeAll(), n, r.#where);
    return undefined;
  }

  static #line(r: Reader, b: ReadBuffer): string | null | undefined {
    const max = r.#want;
    const hit = b.indexOf(NEWLINE);
    if (hit >= 0) {
      if (hit > max) throw r.#limitError("line", max, hit);
      return b.takeString(hit + 1, hit > 0 && b.byteAt(hit - 1) === 0x0d ? 2 : 1);
    }
    if (b.size > max) throw r.#limitError("line", max, b.size);
    if (b.error) throw b.error;
    if (b.eof) return b.size > 0 ? b.takeAll().toString("utf8") : null;
    return undefined;
  }

  static #until(r: Reader, b: ReadBuffer): Buffer | undefined {
    const sep = r.#sep as Buffer;
    const max = r.#want;
    const hit = b.indexOf(sep);
    if (hit >= 0) {
      if (hit + sep.length > max) throw r.#limitError("readUntil() result", max, hit + sep.length);
      return b.take(hit + sep.length);
    }
    if (b.size > max) throw r.#limitError("readUntil() result", max, b.size);
    if (b.error) throw b.error;
    if (b.eof) throw new IncompleteReadError(b.takeAll(), undefined, r.#where);
    return undefined;
  }

  static #frame(r: Reader, b: ReadBuffer): Buffer | null | undefined {
    const decoder = r.#decoder as Decoder;
    const frames = r.#decode(b, decoder);
    if (frames === undefined) return undefined;
    if (frames.length === 0) return null;
    r.#frames = frames;
    r.#frameAt = 0;
    r.#framesOf = decoder;
    return r.#shiftFrame(frames);
  }

  static #frameBatch(r: Reader, b: ReadBuffer): Buffer[] | undefined {
    return r.#decode(b, r.#decoder as Decoder);
  }

  #limitError(what: string, max: number, seen: number): LimitExceededError {
    this.dirty = true;
    return new LimitExceededError(`${what} on ${this.#where}`, max, seen, this.#where);
  }

  // --- The one pending read ------------------------------------------------------------------

  /**
   * Runs one read: `attempt` returns a result, throws, or returns undefined for "need more
   * bytes". A read the buffer answers now returns a settled promise and arms nothing (the
   * fast path); otherwise the read waits, with one timer and one abort listener for the
   * whole read, and its attempt runs again on every feed until it settles. The socket is
   * never paused while a read waits; each attempt bounds what it lets accumulate
   * (readUntil's max, readExactly's n, the decoder's frame size).
   */
  #read<T>(
    name: string,
    options: WaitOptions | undefined,
    attempt: Attempt<T>,
    want: number,
    sep?: Buffer,
    decoder?: Decoder,
  ): Promise<T> {
    if (this.#reading !== undefined) return Promise.reject(new ReadInProgressError(name, this.#reading));
    if (this.discarding) return Promise.reject(new ConnectionClosedError(name, this.#where));
    if (options?.signal?.aborted) return Promise.reject(new AbortError(name, options.signal.reason));
    if (this.#frames !== undefined && name !== "readFrame()" && name !== "readFrames()") {
      return Promise.reject(new InvalidArgumentError(`${name} while decoded frames wait on ${this.#where}`));
    }
    // Only once the read is admitted: a refused read must not change what the pending one asked.
    this.#want = want;
    this.#sep = sep;
    this.#decoder = decoder;
    try {
      const result = this.#try(attempt);
      if (result !== undefined) return Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#wait(name, options, attempt);
  }

  /** The slow path of `#read`: waits for data, EOF, an error, a timeout or an abort. */
  #wait<T>(name: string, options: WaitOptions | undefined, attempt: Attempt<T>): Promise<T> {
    Reader.#making = this;
    const promise = new Promise(Reader.#capture) as Promise<T>;
    this.#reading = name;
    this.#attempt = attempt;
    const timeout = options?.timeout ?? this.#readTimeout;
    if (options?.signal !== undefined || timeout !== undefined) {
      this.#disarm = armCancel(
        name,
        { signal: options?.signal, timeout },
        (ms) => new ReadTimeoutError(name, ms, this.#where),
        (err) => {
          this.dirty = true; // cancelled mid-read: the stream may be out of step
          this.#settle(undefined, err);
        },
      );
    }
    this.resume();
    return promise;
  }

  /** The reader whose pending promise is being made: `#capture` keeps its settle functions. */
  static #making: Reader | undefined;

  /** The executor of every pending read's promise (one function, not a closure per read). */
  static #capture(resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
    const r = Reader.#making as Reader;
    Reader.#making = undefined;
    r.#resolve = resolve;
    r.#reject = reject;
  }

  /** Bytes, EOF or an error arrived while a read waits: runs its attempt again. */
  #retry(): void {
    let result: unknown;
    try {
      result = this.#try(this.#attempt as Attempt<unknown>);
    } catch (err) {
      this.#settle(undefined, err);
      return;
    }
    if (result !== undefined) this.#settle(result, undefined);
  }

  /** Ends the pending read with `result`, or with `error` when it is defined. */
  #settle(result: unknown, error: unknown): void {
    const resolve = this.#resolve as (value: unknown) => void;
    const reject = this.#reject as (err: unknown) => void;
    this.#disarm?.();
    this.#reading = undefined;
    this.#attempt = undefined;
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#disarm = undefined;
    if (error !== undefined) reject(error);
    else resolve(result);
  }

  #try<T>(attempt: Attempt<T>): T | undefined {
    const result = attempt(this, this.#buffer);
    if (result !== undefined && this.#paused && this.#buffer.size <= this.#limit) this.resume();
    return result;
  }

  #signal(): void {
    if (this.#attempt !== undefined) this.#retry();
    else this.watcher?.();
  }
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1;
}

function maxError(method: string, max: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${method} max must be an integer ≥ 1, got ${quote(max)}`);
}
