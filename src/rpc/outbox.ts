import type { Connection } from "../connection/connection.js";

/** Below this many bytes a batch is joined into one buffer; above, written piece by piece. */
const JOIN_LIMIT = 64 * 1024;
const noop = () => {};

/**
 * Coalesces the frames written in one turn of the event loop into one socket write: many
 * small replies (or requests) then cost one syscall instead of one each.
 *
 * State: `#frames` holds `#bytes` bytes queued since the last flush, oldest first; a flush
 * is scheduled (one microtask) exactly when `#frames` is not empty.
 */
export class Outbox {
  readonly #conn: Connection;
  #frames: Buffer[] = [];
  #bytes = 0;

  constructor(conn: Connection) {
    this.#conn = conn;
  }

  /**
   * Bytes not yet taken by the kernel: those queued here this turn plus the socket's unsent
   * bytes. What a side's high-water mark is checked against (one number, no syscall).
   */
  get unsent(): number {
    return this.#bytes + this.#conn.writableLength;
  }

  /**
   * Whether more than `mark` bytes are unsent while the connection still takes writes. A
   * connection that no longer does is never "over": nothing would ever drain it, and its
   * reader notices the close instead.
   */
  over(mark: number): boolean {
    return this.unsent > mark && this.#conn.writable;
  }

  /** Writes what is queued now, then resolves once the socket has sent it all or closed. Never rejects. */
  drained(): Promise<void> {
    this.flush();
    return this.#conn.drained();
  }

  /** Queues a whole frame; it goes out at the end of this turn, after earlier ones. */
  push(frame: Buffer): void {
    this.#frames.push(frame);
    this.#bytes += frame.length;
    if (this.#frames.length === 1) queueMicrotask(this.flush);
  }

  /**
   * Writes what is queued now. Write failures are ignored here: a broken connection is
   * noticed (and reported) by the side's read loop, which owns the connection's fate.
   */
  readonly flush = (): void => {
    const frames = this.#frames;
    if (frames.length === 0) return;
    const bytes = this.#bytes;
    this.#frames = [];
    this.#bytes = 0;
    const conn = this.#conn;
    if (!conn.writable) return;
    if (frames.length === 1 || bytes <= JOIN_LIMIT) {
      conn.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, bytes)).catch(noop);
      return;
    }
    for (const frame of frames) conn.write(frame).catch(noop);
  };
}
