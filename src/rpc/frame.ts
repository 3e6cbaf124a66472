import type { Decoder } from "../codec/codec.js";
import { DEFAULT_MAX_FRAME_SIZE, lengthPrefixedCodec } from "../codec/length-prefixed.js";
import { BadFrameError, LimitExceededError } from "../errors.js";

/**
 * The RPC wire format (docs/protocol.md): frames of the u32 length-prefixed codec whose body
 * is `kind (u8) | id (u32 BE) | payload`. The length counts the body: 5 + payload bytes.
 */
export const FrameKind = {
  request: 1,
  reply: 2,
  error: 3,
  cancel: 4,
  ping: 5,
  pong: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Bytes of the body before the payload: kind (1) + id (4). */
export const BODY_HEADER = 5;
/** Bytes before the body: the u32 length. */
export const LENGTH_HEADER = 4;
/** Default largest body (kind + id + payload) in bytes: the codec's default frame size, 1 MiB. */
export { DEFAULT_MAX_FRAME_SIZE };
/** Largest id; ids are u32. */
export const MAX_ID = 0xffffffff;

export interface Frame {
  kind: FrameKind;
  id: number;
  /** A view into the received bytes, not a copy. */
  payload: Buffer;
}

const KIND_NAMES = ["", "request", "reply", "error", "cancel", "ping", "pong"];

/** The name of a kind for messages ("request", …), or `kind 0x2a` for unknown ones. */
export function kindName(kind: number): string {
  return KIND_NAMES[kind] || `kind 0x${kind.toString(16).padStart(2, "0")}`;
}

/**
 * Encodes one frame into a single buffer (length, kind, id, payload). Throws
 * LimitExceededError when the body would exceed `maxFrameSize`, before allocating it.
 */
export function encodeFrame(
  kind: FrameKind,
  id: number,
  payload: Uint8Array | string = EMPTY,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Buffer {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  const body = BODY_HEADER + size;
  if (body > maxFrameSize) throw new LimitExceededError(`${kindName(kind)} frame`, maxFrameSize, body);
  const out = Buffer.allocUnsafe(LENGTH_HEADER + body);
  out.writeUInt32BE(body, 0);
  out[4] = kind;
  out.writeUInt32BE(id, 5);
  if (typeof payload === "string") out.write(payload, LENGTH_HEADER + BODY_HEADER, "utf8");
  else out.set(payload, LENGTH_HEADER + BODY_HEADER);
  return out;
}

/** The largest error code, in UTF-8 bytes. */
const MAX_CODE_BYTES = 255;

/**
 * The remote code a client gives an error reply whose payload cannot be decoded: the
 * request still fails alone, with RemoteError, and the channel goes on.
 */
export const UNDECODABLE_ERROR_CODE = "ERR_RPC_UNDECODABLE_ERROR";

/**
 * The payload of an error frame: `code length (u16 BE) | code (UTF-8) | message (UTF-8)`,
 * at most `maxBytes` long. The code is cut to 255 bytes at most so a remote cannot make it
 * huge; past `maxBytes` the message is cut, then (only if it alone does not fit) the code,
 * each at a character boundary, so the result always decodes (given `maxBytes` ≥ 2).
 */
export function encodeErrorPayload(code: string, message: string, maxBytes = Number.POSITIVE_INFINITY): Buffer {
  if (maxBytes < 2) return EMPTY;
  const codeBytes = utf8Prefix(
    Buffer.from(code.slice(0, MAX_CODE_BYTES), "utf8"),
    Math.min(MAX_CODE_BYTES, maxBytes - 2),
  );
  const messageBytes = utf8Prefix(Buffer.from(message, "utf8"), maxBytes - 2 - codeBytes.length);
  const out = Buffer.allocUnsafe(2 + codeBytes.length + messageBytes.length);
  out.writeUInt16BE(codeBytes.length, 0);
  out.set(codeBytes, 2);
  out.set(messageBytes, 2 + codeBytes.length);
  return out;
}

/** The longest prefix of UTF-8 `bytes` of at most `max` bytes that ends between characters. */
function utf8Prefix(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--; // back off a continuation byte
  return bytes.subarray(0, end);
}

/** Decodes an error payload; throws BadFrameError when it is under 2 bytes or the code length overruns it. */
export function decodeErrorPayload(payload: Buffer): { code: string; message: string } {
  if (payload.length < 2) throw new BadFrameError(`error payload of ${payload.length} bytes is shorter than 2`);
  const n = payload.readUInt16BE(0);
  if (2 + n > payload.length) {
    throw new BadFrameError(`error code length ${n} overruns a payload of ${payload.length} bytes`);
  }
  return {
    code: payload.toString("utf8", 2, 2 + n),
    message: payload.toString("utf8", 2 + n),
  };
}

/**
 * Incremental frame decoder over the length-prefixed decoder: push chunks, get frames.
 * Throws LimitExceededError when a declared body exceeds the maximum (before buffering it)
 * and BadFrameError for a body shorter than 5 bytes or an unknown kind. After a throw it is
 * poisoned: every later push throws the first error again.
 */
export class FrameDecoder {
  readonly #inner: Decoder;
  #error: Error | undefined;

  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.#inner = lengthPrefixedCodec({ header: 4, maxFrameSize }).decoder();
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.#inner.pending;
  }

  push(chunk: Buffer): Frame[] {
    if (this.#error) throw this.#error;
    try {
      const bodies = this.#inner.push(chunk);
      const frames: Frame[] = new Array(bodies.length);
      for (let i = 0; i < bodies.length; i++) frames[i] = parseBody(bodies[i] as Buffer);
      return frames;
    } catch (err) {
      this.#error = err as Error;
      throw err;
    }
  }
}

/** Parses one body (what follows the length); throws BadFrameError when it cannot be a frame. */
export function parseBody(body: Buffer): Frame {
  if (body.length < BODY_HEADER) {
    throw new BadFrameError(`body of ${body.length} bytes is shorter than the ${BODY_HEADER}-byte kind and id`);
  }
  const kind = body[0] as number;
  if (kind < FrameKind.request || kind > FrameKind.pong) throw new BadFrameError(`unknown ${kindName(kind)}`);
  return { kind: kind as FrameKind, id: body.readUInt32BE(1), payload: body.subarray(BODY_HEADER) };
}

const EMPTY = Buffer.alloc(0);
