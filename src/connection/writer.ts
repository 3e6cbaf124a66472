import type { Socket } from "node:net";
import { AbortError, ConnectionClosedError, WriteTimeoutError } from "../errors.js";
import { armCancel, type WaitOptions } from "../internal/cancel.js";
import { type Deferred, deferred } from "../internal/deferred.js";
import type { Reader } from "./reader.js";

const RESOLVED = Promise.resolve();
const EMPTY: Buffer = Buffer.alloc(0);

/**
 * The write side of a Connection (asyncio's StreamWriter with `drain()` folded into
 * `write`): writes resolve when the socket takes the bytes below its high-water mark, else
 * on `drain`. Internal: Connection holds one and delegates to it.
 *
 * State: `#drains`: writes waiting for `drain`, oldest first (made on the first wait);
 * settled all at once on `drain`, rejected all at once on close. A write whose wait is cut
 * short by its timeout or signal marks the reader `dirty` (the bytes may still go out: the
 * stream may be out of step).
 */
export class Writer {
  readonly #socket: Socket;
  readonly #where: string;
  readonly #writeTimeout: number | undefined;
  readonly #reader: Reader;
  #drains: Deferred<void>[] | undefined;

  constructor(socket: Socket, where: string, writeTimeout: number | undefined, reader: Reader) {
    this.#socket = socket;
    this.#where = where;
    this.#writeTimeout = writeTimeout;
    this.#reader = reader;
  }

  /** A write waits for `drain`, or written bytes are not flushed. */
  get busy(): boolean {
    return (this.#drains !== undefined && this.#drains.length > 0) || this.#socket.writableLength > 0;
  }

  /** `writable`: whether the connection still takes writes; `error`: why not, if it failed. */
  write(data: string | Uint8Array, options: WaitOptions | undefined, writable: boolean, error: unknown): Promise<void> {
    if (options?.signal?.aborted) return Promise.reject(new AbortError("write()", options.signal.reason));
    if (!writable) return Promise.reject(new ConnectionClosedError("write", this.#where, error));
    if (this.#socket.write(data)) return RESOLVED;
    return this.#waitDrain(options);
  }

  /** See Connection.drained. */
  drained(writable: boolean): Promise<void> {
    const socket = this.#socket;
    if (socket.writableLength === 0 || !writable) return RESOLVED;
    return new Promise<void>((resolve) => {
      socket.write(EMPTY, () => resolve());
    });
  }

  /** Half-closes: sends FIN after pending writes. Resolves once flushed (or closed). */
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

  /** The socket drained: every waiting write resolves. */
  drain(): void {
    const drains = this.#drains;
    if (drains === undefined || drains.length === 0) return;
    this.#drains = [];
    for (const d of drains) d.resolve();
  }

  /** The socket closed: every waiting write rejects with `err`. */
  fail(err: Error): void {
    const drains = this.#drains;
    if (drains === undefined || drains.length === 0) return;
    this.#drains = [];
    for (const d of drains) d.reject(err);
  }

  #waitDrain(options: WaitOptions | undefined): Promise<void> {
    const d = deferred<void>();
    (this.#drains ??= []).push(d);
    const timeout = options?.timeout ?? this.#writeTimeout;
    if (options?.signal === undefined && timeout === undefined) return d.promise;
    const disarm = armCancel(
      "write()",
      { signal: options?.signal, timeout },
      (ms) => new WriteTimeoutError(ms, this.#where),
      (err) => {
        this.#reader.dirty = true;
        const drains = this.#drains as Deferred<void>[];
        const i = drains.indexOf(d);
        if (i >= 0) drains.splice(i, 1);
        d.reject(err);
      },
    );
    d.promise.then(disarm, disarm);
    return d.promise;
  }
}
