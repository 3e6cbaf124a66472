import { BadFrameError, InvalidArgumentError, LimitExceededError } from "../errors.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { validateOptions } from "../internal/validate.js";
import {
  DEFAULT_MAX_HEADER_SIZE,
  hex,
  type ProxyHeader,
  V1_MAX_LENGTH,
  V1_SIGNATURE,
  V2_MAX_LENGTH,
  V2_PREAMBLE_LENGTH,
  V2_SIGNATURE,
} from "./proxy-header.js";
import { parseV1Line } from "./proxy-v1.js";
import { parseV2, readV2Preamble, type V2Preamble } from "./proxy-v2.js";

export interface ProxyHeaderParserOptions {
  /**
   * Largest v2 header accepted, in bytes, its 16-byte preamble included: a longer declared
   * length throws LimitExceededError before any of the body is buffered. Default 4096; from
   * 16 to 65551 (the most the u16 length field can declare). A v1 line is always at most
   * 107 bytes, as the spec says.
   */
  maxHeaderSize?: number;
}

/** The parser's one answer: the header (or `null`: no PROXY signature) and the bytes after it. */
export interface ProxyParseResult {
  /** `null` when the stream does not start with a PROXY protocol signature. */
  readonly header: ProxyHeader | null;
  /**
   * The bytes that belong to the stream: everything after the header, or, for `null`, every
   * byte pushed so far. May be empty; may share memory with the last chunk pushed.
   */
  readonly rest: Buffer;
}

type Phase = "signature" | "v1-line" | "v2-preamble" | "v2-body" | "done" | "failed";

const CR = 0x0d;
const LF = 0x0a;

/**
 * Reads a PROXY protocol header (v1 or v2) off the front of a byte stream, fed in chunks of
 * any size, down to one byte at a time. `push` returns `undefined` until it can decide, then
 * exactly once a {@link ProxyParseResult}. It never takes a byte past the header: those come
 * back in `rest`. Every byte is examined once (no rescans), and it holds at most 107 bytes
 * for v1 and `maxHeaderSize` for v2.
 *
 * "Not a PROXY stream" (`header: null`) is decided at the first byte that differs from both
 * signatures (`"PROXY "` and the 12-byte v2 signature). Once a signature matched, the bytes
 * must be a valid header: anything else throws BadFrameError (malformed, naming the field and
 * value) or LimitExceededError (too long). After a throw the parser is poisoned and every
 * later `push` throws the same error; a `push` after the result throws InvalidArgumentError.
 *
 * State:
 * - `#phase`: `signature → v1-line → done`, or `signature → v2-preamble → v2-body → done`,
 *   or `signature → done` (no signature); any phase but `done` may go to `failed`.
 * - `#parts`/`#held`: the bytes of the header taken so far, in order (views into the pushed
 *   chunks, copied once into one buffer when the header completes), and their count.
 * - `#signature`: the signature being matched, chosen by the first byte; `undefined` before it.
 * - `#lastWasCr`: in `v1-line`, the previous byte was CR, so this one must be LF.
 * - `#preamble`: in `v2-body`, what the 16-byte preamble declared (its `total` length).
 * - `#error`: the error thrown, in `failed`.
 * Invariants: `#held === sum of #parts lengths`; `#held < 107` in `v1-line`, `#held < 16` in
 * `v2-preamble`, `#held < #preamble.total <= maxHeaderSize` in `v2-body`; `#parts` is empty
 * in `done` and `failed`.
 */
export class ProxyHeaderParser {
  readonly #max: number;
  #phase: Phase = "signature";
  #parts: Buffer[] = [];
  #held = 0;
  #signature: Buffer | undefined;
  #lastWasCr = false;
  #preamble: V2Preamble | undefined;
  #error: Error | undefined;

  /** @throws InvalidArgumentError for an unknown option or a `maxHeaderSize` out of range. */
  constructor(options: ProxyHeaderParserOptions = {}) {
    validateOptions("ProxyHeaderParser options", options, { maxHeaderSize: "bytes" });
    const max = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    if (max < V2_PREAMBLE_LENGTH || max > V2_MAX_LENGTH) {
      throw new InvalidArgumentError(
        `ProxyHeaderParser options.maxHeaderSize must be from ${V2_PREAMBLE_LENGTH} to ${V2_MAX_LENGTH}, got ${max}`,
      );
    }
    this.#max = max;
  }

  /** Bytes held for a header not yet complete. */
  get pending(): number {
    return this.#held;
  }

  /** True once `push` has returned its result. */
  get done(): boolean {
    return this.#phase === "done";
  }

  /**
   * Feeds the next chunk of the stream.
   * @returns `undefined` while undecided, then once the result.
   * @throws BadFrameError, LimitExceededError (then poisoned); InvalidArgumentError after the result.
   */
  push(chunk: Buffer): ProxyParseResult | undefined {
    if (this.#phase === "failed") throw this.#error;
    if (this.#phase === "done") {
      throw new InvalidArgumentError(
        "ProxyHeaderParser.push called after its result: those bytes belong to the stream",
      );
    }
    try {
      const result = this.#consume(chunk);
      if (checkingInvariants) this.#checkInvariants();
      return result;
    } catch (err) {
      this.#fail(err as Error);
      throw err;
    }
  }

  #consume(chunk: Buffer): ProxyParseResult | undefined {
    let at = 0;
    while (at < chunk.length) {
      const step =
        this.#phase === "signature"
          ? this.#matchSignature(chunk, at)
          : this.#phase === "v1-line"
            ? this.#scanV1(chunk, at)
            : this.#takeV2(chunk, at);
      if (typeof step !== "number") return step;
      at = step;
    }
    return undefined;
  }

  /** Matches bytes against the signature; returns where it stopped, or the null result. */
  #matchSignature(chunk: Buffer, from: number): number | ProxyParseResult {
    let i = from;
    for (; i < chunk.length; i++) {
      const at = this.#held + (i - from);
      if (at === 0) this.#signature = chunk[i] === V1_SIGNATURE[0] ? V1_SIGNATURE : V2_SIGNATURE;
      const signature = this.#signature!;
      if (chunk[i] !== signature[at]) return this.#finish(null, chunk.subarray(from), 0);
      if (at + 1 === signature.length) {
        this.#phase = signature === V1_SIGNATURE ? "v1-line" : "v2-preamble";
        i++;
        break;
      }
    }
    this.#hold(chunk.subarray(from, i));
    return i;
  }

  /**
   * Scans the v1 line byte by byte from where the last chunk stopped: printable US-ASCII up
   * to one CRLF, all within 107 bytes.
   */
  #scanV1(chunk: Buffer, from: number): number | ProxyParseResult {
    for (let i = from; i < chunk.length; i++) {
      const byte = chunk[i]!;
      const at = this.#held + (i - from);
      if (this.#lastWasCr) {
        if (byte !== LF) throw new BadFrameError(`PROXY v1 line has a CR followed by ${hex(byte)} at offset ${at}`);
        this.#hold(chunk.subarray(from, i + 1));
        return this.#finishV1(chunk.subarray(i + 1));
      }
      if (at + 1 >= V1_MAX_LENGTH) throw new LimitExceededError("PROXY v1 line without CRLF", V1_MAX_LENGTH, at + 1);
      if (byte === CR) this.#lastWasCr = true;
      else if (byte === LF) throw new BadFrameError(`PROXY v1 line ends with a bare LF at offset ${at}`);
      else if (byte < 0x20 || byte > 0x7e) {
        throw new BadFrameError(`PROXY v1 line has a non-printable byte ${hex(byte)} at offset ${at}`);
      }
    }
    this.#hold(chunk.subarray(from));
    return chunk.length;
  }

  #finishV1(rest: Buffer): ProxyParseResult {
    const line = this.#take();
    return this.#finish(parseV1Line(line), rest, line.length);
  }

  /** Takes v2 bytes up to the end of the preamble, then up to the declared total, never past. */
  #takeV2(chunk: Buffer, from: number): number | ProxyParseResult {
    const goal = this.#preamble?.total ?? V2_PREAMBLE_LENGTH;
    const end = Math.min(chunk.length, from + goal - this.#held);
    this.#hold(chunk.subarray(from, end));
    if (this.#held < goal) return end;
    if (this.#preamble === undefined) {
      const bytes = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#held);
      const preamble = readV2Preamble(bytes, this.#max); // reads it, keeps nothing
      this.#preamble = preamble;
      this.#phase = "v2-body";
      if (preamble.total > V2_PREAMBLE_LENGTH) return end;
    }
    const header = this.#take();
    return this.#finish(parseV2(header, this.#preamble), chunk.subarray(end), header.length);
  }

  #hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#parts.push(bytes);
    this.#held += bytes.length;
  }

  /** The held bytes, copied into one buffer of their own; clears the hold. */
  #take(): Buffer {
    const bytes = Buffer.concat(this.#parts, this.#held);
    this.#parts = [];
    this.#held = 0;
    return bytes;
  }

  /** For `null`, `rest` is what was held plus `tail`; otherwise `tail` alone. */
  #finish(header: ProxyHeader | null, tail: Buffer, length: number): ProxyParseResult {
    invariant(header === null || header.length === length, "PROXY header length mismatch");
    const rest = header === null && this.#held > 0 ? Buffer.concat([...this.#parts, tail]) : tail;
    this.#parts = [];
    this.#held = 0;
    this.#phase = "done";
    return { header, rest };
  }

  #fail(err: Error): void {
    this.#phase = "failed";
    this.#error = err;
    this.#parts = [];
    this.#held = 0;
  }

  #checkInvariants(): void {
    const sum = this.#parts.reduce((n, p) => n + p.length, 0);
    invariant(sum === this.#held, `ProxyHeaderParser holds ${this.#held} bytes but its parts sum to ${sum}`);
    const bound =
      this.#phase === "v1-line"
        ? V1_MAX_LENGTH
        : this.#phase === "v2-preamble"
          ? V2_PREAMBLE_LENGTH
          : this.#phase === "v2-body"
            ? this.#preamble!.total
            : this.#phase === "signature"
              ? V2_SIGNATURE.length
              : 1;
    invariant(this.#held < bound, `ProxyHeaderParser holds ${this.#held} bytes in ${this.#phase}, bound ${bound}`);
    invariant(this.#preamble === undefined || this.#preamble.total <= this.#max, "v2 total over the maximum");
  }
}
