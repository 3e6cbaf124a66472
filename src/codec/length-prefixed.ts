import { InvalidArgumentError, LimitExceededError } from "../errors.js";
import { validateOptions } from "../internal/validate.js";
import type { Codec, Decoder } from "./codec.js";

/** The default largest frame payload, for every framed format sockpool speaks: 1 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;

export interface LengthPrefixedOptions {
  /** Header width in bytes: 2 (u16) or 4 (u32), big endian. Default 4. */
  header?: 2 | 4;
  /** Largest payload in bytes. Default 1 MiB. */
  maxFrameSize?: number;
}

/**
 * Frames prefixed by their payload length as a big-endian u16 or u32. A declared length over
 * the maximum throws {@link LimitExceededError} before any of the payload is buffered.
 */
export function lengthPrefixedCodec(options: LengthPrefixedOptions = {}): Codec {
  const header = options.header ?? 4;
  if (header !== 2 && header !== 4) throw new InvalidArgumentError(`header must be 2 or 4, got ${String(header)}`);
  validateOptions("lengthPrefixedCodec options", options, { header: "count", maxFrameSize: "bytes" });
  const max = Math.min(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, header === 2 ? 0xffff : 0xffffffff);
  return {
    name: `u${header * 8}-length-prefixed`,
    encode(frame) {
      const payload = typeof frame === "string" ? Buffer.from(frame) : frame;
      if (payload.length > max) throw new LimitExceededError("frame", max, payload.length);
      const out = Buffer.allocUnsafe(header + payload.length);
      if (header === 2) out.writeUInt16BE(payload.length, 0);
      else out.writeUInt32BE(payload.length, 0);
      out.set(payload, header);
      return out;
    },
    decoder: () => new LengthPrefixedDecoder(header, max),
  };
}

/**
 * Incremental decoder. A frame inside a chunk is handed out as a view (no copy); only a frame
 * that straddles chunks is joined, from its own bytes alone, never the rest of a chunk.
 *
 * State: `#parts` hold `#pending` bytes of the frame in progress (its header included);
 * `#need` is the total size of that frame once its header is known, else 0. After a throw
 * `#error` poisons the decoder.
 */
export class LengthPrefixedDecoder implements Decoder {
  readonly #header: 2 | 4;
  readonly #max: number;
  #parts: Buffer[] = [];
  #pending = 0;
  #need = 0;
  #error: Error | undefined;

  constructor(header: 2 | 4, max: number) {
    this.#header = header;
    this.#max = max;
  }

  get pending(): number {
    return this.#pending;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.#error) throw this.#error;
    const out: Buffer[] = [];
    let off = this.#pending > 0 ? this.#complete(chunk, out) : 0;
    if (off < 0) return out;
    const h = this.#header;
    while (chunk.length - off >= h) {
      const size = this.#frameSize(chunk, off);
      if (chunk.length - off < size) break;
      out.push(chunk.subarray(off + h, off + size));
      off += size;
    }
    if (off < chunk.length) {
      this.#parts = [chunk.subarray(off)];
      this.#pending = chunk.length - off;
      if (this.#pending >= h) this.#need = this.#frameSize(chunk, off);
    }
    return out;
  }

  end(): Buffer | undefined {
    if (this.#pending === 0) return undefined;
    const rest = Buffer.concat(this.#parts, this.#pending);
    this.#reset();
    return rest;
  }

  /**
   * Feeds `chunk` to the frame in progress: returns the offset in `chunk` after that frame
   * once it is complete (pushed to `out`), or -1 when the whole chunk went into it.
   */
  #complete(chunk: Buffer, out: Buffer[]): number {
    let off = 0;
    if (this.#need === 0) {
      off = Math.min(this.#header - this.#pending, chunk.length);
      this.#parts.push(chunk.subarray(0, off));
      this.#pending += off;
      if (this.#pending < this.#header) return -1;
      this.#need = this.#frameSize(Buffer.concat(this.#parts, this.#pending), 0);
    }
    const missing = this.#need - this.#pending;
    if (chunk.length - off < missing) {
      this.#parts.push(chunk.subarray(off));
      this.#pending += chunk.length - off;
      return -1;
    }
    this.#parts.push(chunk.subarray(off, off + missing));
    out.push(Buffer.concat(this.#parts, this.#need).subarray(this.#header));
    this.#reset();
    return off + missing;
  }

  #reset(): void {
    this.#parts = [];
    this.#pending = 0;
    this.#need = 0;
  }

  /** The whole size (header included) of the frame whose header starts at `off`. */
  #frameSize(buf: Buffer, off: number): number {
    const length = this.#header === 2 ? buf.readUInt16BE(off) : buf.readUInt32BE(off);
    if (length > this.#max) {
      this.#reset();
      this.#error = new LimitExceededError("frame", this.#max, length);
      throw this.#error;
    }
    return this.#header + length;
  }
}
