/**
 * The bytes received on a connection and not yet read: a pure object fed chunks, EOF and an
 * error, with no socket in sight (CPython's StreamReader buffer, without the waiting).
 *
 * State:
 * - `#chunks[#head..]`: unread chunks, oldest first; `#size` is their total length in bytes.
 * - `#scanned`: bytes from the front already searched for `#scanSep` without a match, so a
 *   separator search waiting for more data never rescans (no quadratic cost on long lines).
 *   Reset whenever bytes are taken or the separator changes.
 * - `#eof`: the peer ended; `#error`: the socket failed. Once either is set nothing is fed.
 * Invariant: `#size === sum(length of #chunks[#head..])`, and no stored chunk is empty.
 */
export class ReadBuffer {
  #chunks: Buffer[] = [];
  #head = 0;
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
    this.#chunks.push(chunk);
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
    this.#chunks = [];
    this.#head = 0;
    this.#size = 0;
    this.#scanned = 0;
  }

  /**
   * Removes and returns up to `max` bytes from the front, joining chunks as needed (so
   * `take(n)` with `size >= n` returns exactly n bytes). Copies only when the result spans
   * chunks.
   */
  take(max: number): Buffer {
    const first = this.#chunks[this.#head];
    if (first === undefined || max <= 0) return EMPTY;
    this.#scanned = 0;
    if (first.length >= max || this.#head === this.#chunks.length - 1) {
      return this.#takeFromFirst(first, Math.min(max, first.length));
    }
    const n = Math.min(max, this.#size);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#head] as Buffer;
      const part = Math.min(chunk.length, n - filled);
      out.set(part === chunk.length ? chunk : chunk.subarray(0, part), filled);
      filled += part;
      this.#takeFromFirst(chunk, part);
    }
    return out;
  }

  /** Removes and returns the first chunk, or its first `max` bytes: never copies. */
  takeChunk(max: number): Buffer {
    const first = this.#chunks[this.#head];
    if (first === undefined || max <= 0) return EMPTY;
    this.#scanned = 0;
    return this.#takeFromFirst(first, Math.min(max, first.length));
  }

  /** Removes and returns everything buffered. */
  takeAll(): Buffer {
    return this.take(this.#size);
  }

  /**
   * Offset of the first `sep` in the buffer, or -1. Bytes searched by an earlier call for the
   * same separator are not searched again.
   */
  indexOf(sep: Buffer): number {
    if (this.#scanSep === undefined || !this.#scanSep.equals(sep)) {
      this.#scanSep = sep;
      this.#scanned = 0;
    }
    const found = this.#search(sep, this.#scanned);
    this.#scanned = found >= 0 ? 0 : Math.max(0, this.#size - sep.length + 1);
    return found;
  }

  #search(sep: Buffer, from: number): number {
    let base = 0;
    let carry: Buffer = EMPTY; // the last sep.length - 1 bytes before the current chunk
    const keep = sep.length - 1;
    for (let i = this.#head; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i] as Buffer;
      const end = base + chunk.length;
      if (end > from) {
        if (keep > 0 && carry.length > 0) {
          const seam = Buffer.concat([carry, chunk.subarray(0, keep)]);
          const at = seam.indexOf(sep);
          if (at >= 0 && base - carry.length + at >= from) return base - carry.length + at;
        }
        const at = chunk.indexOf(sep, Math.max(0, from - base));
        if (at >= 0) return base + at;
      }
      if (keep > 0) {
        carry =
          chunk.length >= keep ? chunk.subarray(chunk.length - keep) : Buffer.concat([carry, chunk]).subarray(-keep);
      }
      base = end;
    }
    return -1;
  }

  #takeFromFirst(first: Buffer, n: number): Buffer {
    this.#size -= n;
    if (n === first.length) {
      this.#chunks[this.#head] = EMPTY;
      this.#head++;
      if (this.#head === this.#chunks.length) {
        this.#chunks = [];
        this.#head = 0;
      } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
      return first;
    }
    this.#chunks[this.#head] = first.subarray(n);
    return first.subarray(0, n);
  }
}

const EMPTY: Buffer = Buffer.alloc(0);
