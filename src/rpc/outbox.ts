import type { Connection } from "../connection/connection.js";
import { LimitExceededError } from "../errors.js";
import { BODY_HEADER, type FrameKind, kindName, LENGTH_HEADER } from "./frame.js";

/** Below this many bytes a batch is joined into one buffer; above, written piece by piece. */
const JOIN_LIMIT = 64 * 1024;
const noop = () => {};

/**
 * Coalesces the frames written in one turn of the event loop into one socket write: many
 * small replies (or requests) then cost one syscall instead of one each. Frames queued with
 * `frame()` are encoded straight into the batch's one buffer at flush, so a frame costs no
 * allocation and one copy of its payload.
 *
 * State: `#queue` holds the frames queued since the last flush, oldest first, four slots
 * each (kind, id, payload, payload bytes; kind -1 for a frame encoded already), `#bytes`
 * their encoded size; a flush is scheduled (one microtask) exactly when `#queue` is not empty.
 */
export class Outbox {
  readonly #conn: Connection;
  #queue: (number | Uint8Array | string)[] = [];
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

  /** Queues a frame already encoded; it goes out at the end of this turn, after earlier ones. */
  push(frame: Buffer): void {
    this.#enqueue(-1, 0, frame, frame.length, frame.length);
  }

  /**
   * Queues the frame `kind | id | payload`, to be encoded at flush. Throws
   * LimitExceededError, queuing nothing, when its body would exceed `maxFrameSize`.
   */
  frame(kind: FrameKind, id: number, payload: Uint8Array | string, maxFrameSize: number): void {
    const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
    const body = BODY_HEADER + size;
    if (body > maxFrameSize) throw new LimitExceededError(`${kindName(kind)} frame`, maxFrameSize, body);
    this.#enqueue(kind, id, payload, size, LENGTH_HEADER + body);
  }

  #enqueue(kind: number, id: number, payload: Uint8Array | string, size: number, encoded: number): void {
    this.#queue.push(kind, id, payload, size);
    this.#bytes += encoded;
    if (this.#queue.length === 4) queueMicrotask(this.flush);
  }

  /**
   * Writes what is queued now. Write failures are ignored here: a broken connection is
   * noticed (and reported) by the side's read loop, which owns the connection's fate.
   */
  readonly flush = (): void => {
    const queue = this.#queue;
    if (queue.length === 0) return;
    const bytes = this.#bytes;
    this.#queue = [];
    this.#bytes = 0;
    const conn = this.#conn;
    if (!conn.writable) return;
    if (bytes <= JOIN_LIMIT) {
      const out = Buffer.allocUnsafe(bytes);
      let at = 0;
      for (let i = 0; i < queue.length; i += 4) at = encodeInto(out, at, queue, i);
      conn.write(out).catch(noop);
      return;
    }
    for (let i = 0; i < queue.length; i += 4) {
      const out = Buffer.allocUnsafe(encodedSize(queue, i));
      encodeInto(out, 0, queue, i);
      conn.write(out).catch(noop);
    }
  };
}

/** The encoded size of the queued frame at `i`. */
function encodedSize(queue: (number | Uint8Array | string)[], i: number): number {
  const kind = queue[i] as number;
  const size = queue[i + 3] as number;
  return kind < 0 ? size : LENGTH_HEADER + BODY_HEADER + size;
}

/** Writes the queued frame at `i` into `out` at `at`; returns the offset after it. */
function encodeInto(out: Buffer, at: number, queue: (number | Uint8Array | string)[], i: number): number {
  const kind = queue[i] as number;
  const payload = queue[i + 2] as Uint8Array | string;
  const size = queue[i + 3] as number;
  if (kind < 0) {
    out.set(payload as Uint8Array, at);
    return at + size;
  }
  out.writeUInt32BE(BODY_HEADER + size, at);
  out[at + 4] = kind;
  out.writeUInt32BE(queue[i + 1] as number, at + 5);
  const start = at + LENGTH_HEADER + BODY_HEADER;
  if (typeof payload === "string") out.write(payload, start, "utf8");
  else out.set(payload, start);
  return start + size;
}
