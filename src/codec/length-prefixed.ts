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
 * Incremental decoder. State: `#parts` hold `#pending` bytes of the frame in progress (its
 * header included); `#need` is the total size of that frame once its header is known, else 0.
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
    let buf = chunk;
    if (this.#pending > 0) {
      // Join only up to what the current frame needs, so a huge chunk is not copied.
      this.#parts.push(buf);
      this.#pending += buf.length;
      if (this.#need === 0 && this.#pending >= this.#header) this.#need = this.#frameSize(this.#joinHead());
      if (this.#need === 0 || this.#pending < this.#need) return out;
      buf = Buffer.concat(this.#parts, this.#pending);
      this.#parts = [];
      this.#pending = 0;
      this.#need = 0;
    }
    let off = 0;
    while (buf.length - off >= this.#header) {
      const size = this.#frameSize(buf.subarray(off, off + this.#header));
      if (buf.length - off < size) {
        this.#need = size;
        break;
      }
      out.push(buf.subarray(off + this.#header, off + size));
      off += size;
    }
    if (off < buf.length) {
      this.#parts = [buf.subarray(off)];
      this.#pending = buf.length - off;
    }
    return out;
  }

  end(): Buffer | undefined {
    if (this.#pending === 0) return undefined;
    const rest = Buffer.concat(this.#parts, this.#pending);
    this.#parts = [];
    this.#pending = 0;
    this.#need = 0;
    return rest;
  }

  #joinHead(): Buffer {
    const first = this.#parts[0];
    if (first !== undefined && first.length >= this.#header) return first;
    return Buffer.concat(this.#parts, this.#pending).subarray(0, this.#header);
  }

  #frameSize(head: Buffer): number {
    const length = this.#header === 2 ? head.readUInt16BE(0) : head.readUInt32BE(0);
    if (length > this.#max) {
      this.#parts = [];
      this.#pending = 0;
      this.#error = new LimitExceededError("frame", this.#max, length);
      throw this.#error;
    }
    return this.#header + length;
  }
}
