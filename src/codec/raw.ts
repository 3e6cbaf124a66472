import type { Codec, Decoder } from "./codec.js";

/** No framing: every chunk is a frame, as the socket delivered it. */
export function rawCodec(): Codec {
  return {
    name: "raw",
    encode: (frame) =>
      typeof frame === "string" ? Buffer.from(frame) : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength),
    decoder: (): Decoder => ({ pending: 0, push: (chunk) => (chunk.length > 0 ? [chunk] : []), end: () => undefined }),
  };
}
