/**
 * A framing codec: an encoder for whole frames and a factory for incremental decoders.
 * Decoders are pure: fed chunks, they return the frames completed so far, and throw a typed
 * error (LimitExceededError, BadFrameError) on input that cannot be framed. After a throw the
 * decoder is poisoned: every later `push` throws the same error.
 */
export interface Codec {
  readonly name: string;
  encode(frame: Uint8Array | string): Buffer;
  decoder(): Decoder;
}

export interface Decoder {
  /** Feeds one chunk; returns the frames it completed, in order. */
  push(chunk: Buffer): Buffer[];
  /** Bytes held for an incomplete frame. */
  readonly pending: number;
  /** Ends the input: returns the trailing incomplete frame, if any, and resets. */
  end(): Buffer | undefined;
}
