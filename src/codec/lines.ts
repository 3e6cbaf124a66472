import { LimitExceededError } from "../errors.js";
import { validateOptions } from "../internal/validate.js";
import type { Codec, Decoder } from "./codec.js";

/** The default longest line, for the line codec, Connection.readLine and line servers: 64 KiB. */
export const DEFAULT_MAX_LINE = 64 * 1024;

export interface LineCodecOptions {
  /** Longest line in bytes, without its `\n`. Default 64 KiB. */
  maxLineLength?: number;
  /** Strip the trailing `\n` (and a `\r` before it) from decoded lines. Default true. */
  strip?: boolean;
}

/** Newline-delimited frames. `encode` appends `\n` unless the frame already ends with one. */
export function lineCodec(options: LineCodecOptions = {}): Codec {
  validateOptions("lineCodec options", options, { maxLineLength: "bytes", strip: "boolean" });
  const max = options.maxLineLength ?? DEFAULT_MAX_LINE;
  const strip = options.strip ?? true;
  return {
    name: "lines",
    encode(frame) {
      const buf =
        typeof frame === "string" ? Buffer.from(frame) : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
      if (buf.length > 0 && buf[buf.length - 1] === 0x0a) return buf;
      return Buffer.concat([buf, NEWLINE]);
    },
    decoder: () => new LineDecoder(max, strip),
  };
}

const NEWLINE = Buffer.from("\n");

/**
 * The line scanner: finds where lines end in a stream fed chunk by chunk, and counts the bytes
 * of the line in progress so that a line longer than its maximum is refused as soon as the
 * maximum is passed, however the bytes are chunked. Each byte is looked at once. The line
 * codec decodes with it and line servers guard their clients with it.
 *
 * State: `pending`: bytes of the unterminated line so far (0 right after a newline).
 */
export class LineScanner {
  pending = 0;

  /**
   * The offset in `chunk` of the next `\n` at or after `from`, or -1 when the rest of the
   * chunk continues the line in progress. Throws LimitExceededError (`what` names the line)
   * when that line, without its `\n`, passes `max` bytes.
   */
  next(chunk: Buffer, from: number, max: number, what = "line"): number {
    const nl = chunk.indexOf(0x0a, from);
    const length = this.pending + (nl < 0 ? chunk.length : nl) - from;
    if (length > max) {
      this.pending = 0;
      throw new LimitExceededError(what, max, length);
    }
    this.pending = nl < 0 ? length : 0;
    return nl;
  }
}

/**
 * Splits a byte stream into lines without rescanning: each byte is searched once, partial
 * lines wait as a list of chunks and are joined once when their newline arrives. A line
 * longer than the maximum throws {@link LimitExceededError} as soon as the limit is passed,
 * keeping at most about `max` bytes.
 */
export class LineDecoder implements Decoder {
  readonly #max: number;
  readonly #strip: boolean;
  readonly #scanner = new LineScanner();
  #parts: Buffer[] = [];
  #pending = 0;
  #error: Error | undefined;

  constructor(max: number, strip: boolean) {
    this.#max = max;
    this.#strip = strip;
  }

  get pending(): number {
    return this.#pending;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.#error) throw this.#error;
    const out: Buffer[] = [];
    let start = 0;
    try {
      for (
        let nl = this.#scanner.next(chunk, 0, this.#max);
        nl >= 0;
        nl = this.#scanner.next(chunk, start, this.#max)
      ) {
        out.push(this.#finish(chunk.subarray(start, nl + 1)));
        start = nl + 1;
      }
    } catch (err) {
      this.#parts = [];
      this.#pending = 0;
      this.#error = err as Error;
      throw err;
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.subarray(start));
      this.#pending += chunk.length - start;
    }
    return out;
  }

  end(): Buffer | undefined {
    this.#scanner.pending = 0;
    if (this.#pending === 0) return undefined;
    const rest = Buffer.concat(this.#parts, this.#pending);
    this.#parts = [];
    this.#pending = 0;
    return rest;
  }

  #finish(piece: Buffer): Buffer {
    let line = piece;
    if (this.#pending > 0) {
      this.#parts.push(piece);
      line = Buffer.concat(this.#parts, this.#pending + piece.length);
      this.#parts = [];
      this.#pending = 0;
    }
    if (!this.#strip) return line;
    let end = line.length - 1;
    if (end > 0 && line[end - 1] === 0x0d) end--;
    return line.subarray(0, end);
  }
}
