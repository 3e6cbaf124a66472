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
 * Splits a byte stream into lines without rescanning: each byte is searched once, partial
 * lines wait as a list of chunks and are joined once when their newline arrives. A line
 * longer than the maximum throws {@link LimitExceededError} as soon as the limit is passed,
 * keeping at most about `max` bytes.
 */
export class LineDecoder implements Decoder {
  readonly #max: number;
  readonly #strip: boolean;
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
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl + 1);
      this.#checkLength(this.#pending + piece.length - 1);
      out.push(this.#finish(piece));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#checkLength(this.#pending + rest.length);
      this.#parts.push(rest);
      this.#pending += rest.length;
    }
    return out;
  }

  end(): Buffer | undefined {
    if (this.#pending === 0) return undefined;
    const rest = Buffer.concat(this.#parts, this.#pending);
    this.#parts = [];
    this.#pending = 0;
    return rest;
  }

  #checkLength(length: number): void {
    if (length <= this.#max) return;
    const consumed = length;
    this.#parts = [];
    this.#pending = 0;
    this.#error = new LimitExceededError("line", this.#max, consumed);
    throw this.#error;
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
