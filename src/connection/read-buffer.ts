import { Fifo } from "../internal/fifo.js";

/**
 * The bytes received on a connection and not yet read: a pure object fed chunks, EOF and an
 * error, with no socket in sight (CPython's StreamReader buffer, without the waiting).
 *
 * State:
 * - `#chunks`: unread chunks, oldest first (a {@link Fifo}, made by the first feed: a
 *   connection whose reads take every chunk as it comes never needs one); the first
 *   `#offset` bytes of the oldest are already consumed (so taking part of a chunk allocates
 *   nothing).
 *   `#size` is the number of unread bytes.
 * - `#scanned`: unread bytes from the front already searched for `#scanSep` without a match,
 *   so a separator search waiting for more data never rescans (no quadratic cost on long
 *   lines). Reset whenever bytes are taken or the separator changes.
 * - `#eof`: the peer ended; `#error`: the socket failed. Once either is set nothing is fed.
 * Invariant: `#size === sum(length of #chunks) - #offset`, no stored chunk is empty, and
 * `#offset < length of the oldest chunk` whenever a chunk is stored.
 */
export class ReadBuffer {
  #chunks: Fifo<Buffer> | undefined;
  #offset = 0;
  #size = 0;
  #scanned = 0;
  #scanSep: Buffer | undefined;
  #eof = false;
  #error: Error | undefined;

  get size(): number {
    return this.#size;
  }
  get eof(): boolean {
    return this.#eof;
  }
  get error(): Error | undefined {
    return this.#error;
  }
  /** True once nothing more can arrive: EOF or an error. */
  get ended(): boolean {
    return this.#eof || this.#error !== undefined;
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0 || this.ended) return;
    (this.#chunks ??= new Fifo()).push(chunk);
    this.#size += chunk.length;
  }

  feedEof(): void {
    this.#eof = true;
  }

  feedError(err: Error): void {
    if (this.#error === undefined) this.#error = err;
  }

  /** Drops every unread byte. */
  clear(): void {
    this.#chunks?.clear();
    this.#offset = 0;
    this.#size = 0;
    this.#scanned = 0;
  }

  /**
   * Removes and returns up to `max` bytes from the front, joining chunks as needed (so
   * `take(n)` with `size >= n` returns exactly n bytes). Copies only when the result spans
   * chunks.
   */
  take(max: number): Buffer {
    const n = Math.min(max, this.#size);
    if (n <= 0) return EMPTY;
    const chunks = this.#chunks as Fifo<Buffer>;
    const first = chunks.peek() as Buffer;
    if (first.length - this.#offset >= n) return this.#slice(first, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = chunks.peek() as Buffer;
      const part = Math.min(chunk.length - this.#offset, n - filled);
      chunk.copy(out, filled, this.#offset, this.#offset + part);
      filled += part;
      this.#advance(chunk, part);
    }
    return out;
  }

  /** Removes and returns the first chunk's unread bytes, or the first `max` of them: never copies. */
  takeChunk(max: number): Buffer {
    const first = this.#chunks?.peek();
    if (first === undefined || max <= 0) return EMPTY;
    return this.#slice(first, Math.min(max, first.length - this.#offset));
  }

  /** Removes and returns everything buffered. */
  takeAll(): Buffer {
    return this.take(this.#size);
  }

  /**
   * Removes `n` bytes and returns the first `n - drop` of them decoded as UTF-8. Allocates
   * only the string when the bytes lie in one chunk.
   */
  takeString(n: number, drop: number): string {
    const first = this.#chunks?.peek();
    if (first !== undefined && first.length - this.#offset >= n) {
      const text = first.toString("utf8", this.#offset, this.#offset + n - drop);
      this.#advance(first, n);
      return text;
    }
    return this.take(n).toString("utf8", 0, n - drop);
  }

  /** The unread byte at `i` (0 = the next to be read). */
  byteAt(i: number): number | undefined {
    let at = i + this.#offset;
    const chunks = this.#chunks;
    for (let c = 0; chunks !== undefined && c < chunks.length; c++) {
      const chunk = chunks.at(c) as Buffer;
      if (at < chunk.length) return chunk[at];
      at -= chunk.length;
    }
    return undefined;
  }

  /**
   * Offset of the first `sep` in the unread bytes, or -1. Bytes searched by an earlier call
   * for the same separator are not searched again.
   */
  indexOf(sep: Buffer): number {
    if (this.#scanSep !== sep && (this.#scanSep === undefined || !this.#scanSep.equals(sep))) {
      this.#scanSep = sep;
      this.#scanned = 0;
    }
    const chunks = this.#chunks;
    const first = chunks?.peek();
    if (chunks === undefined || first === undefined) return -1;
    // Fast path: found in the first chunk, where nearly every line is. A one-byte separator
    // is searched as a number, which is much cheaper than a Buffer needle.
    if (this.#scanned === 0) {
      const at = first.indexOf(sep.length === 1 ? (sep[0] as number) : sep, this.#offset);
      if (at >= 0) return at - this.#offset;
      if (chunks.length === 1) {
        this.#scanned = Math.max(0, this.#size - sep.length + 1);
        return -1;
      }
    }
    const found = this.#search(chunks, sep, this.#scanned);
    this.#scanned = found >= 0 ? 0 : Math.max(0, this.#size - sep.length + 1);
    return found;
  }

  #search(chunks: Fifo<Buffer>, sep: Buffer, from: number): number {
    let base = -this.#offset; // position of the current chunk's byte 0, in unread-byte terms
    let carry: Buffer = EMPTY; // the unread bytes just before the current chunk (at most sep.length - 1)
    const keep = sep.length - 1;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks.at(i) as Buffer;
      const start = i === 0 ? this.#offset : 0;
      const end = base + chunk.length;
      if (end > from) {
        if (keep > 0 && carry.length > 0) {
          const seam = Buffer.concat([carry, chunk.subarray(start, start + keep)]);
          const at = seam.indexOf(sep);
          if (at >= 0 && base - carry.length + start + at >= from) return base + start - carry.length + at;
        }
        const at = chunk.indexOf(sep, Math.max(start, from - base));
        if (at >= 0) return base + at;
      }
      if (keep > 0) {
        const unread = chunk.subarray(start);
        carry =
          unread.length >= keep
            ? unread.subarray(unread.length - keep)
            : Buffer.concat([carry, unread]).subarray(-keep);
      }
      base = end;
    }
    return -1;
  }

  #slice(first: Buffer, n: number): Buffer {
    const start = this.#offset;
    this.#advance(first, n);
    return start === 0 && n === first.length ? first : first.subarray(start, start + n);
  }

  /** Consumes `n` bytes of the first chunk `first` (n ≤ its unread length). */
  #advance(first: Buffer, n: number): void {
    this.#size -= n;
    this.#scanned = 0;
    this.#offset += n;
    if (this.#offset < first.length) return;
    this.#offset = 0;
    this.#chunks?.shift();
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
