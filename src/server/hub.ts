import type { Socket } from "node:net";
import { LimitExceededError } from "../errors.js";
import { copyOf, isBorrowed } from "./fast-read.js";

/** What happens to a client whose unsent bytes pass the high-water mark during a broadcast. */
export type SlowClientPolicy = "drop" | "disconnect";

/** One broadcast recipient: a socket plus the handle users know it by. */
export interface HubMember {
  readonly socket: Socket;
  /** The Connection or Transport the handler holds; `except` is compared against it. */
  readonly handle: object | undefined;
  readonly where: string;
  /** Closes this client at once for being too slow; `reason` says why. */
  disconnect(reason: Error): void;
}

/** What one broadcast did. */
export interface BroadcastResult {
  sent: number;
  dropped: number;
  disconnected: number;
}

/**
 * Broadcast with a per-client bound: a message goes to a member only while the member's
 * unsent bytes are at or below `highWaterMark`, so a reader that stalls costs at most about
 * one high-water mark plus one message of memory, and never holds up the others (writes
 * never wait). Past the mark, `drop` skips the message for that member and `disconnect`
 * closes the member with a LimitExceededError naming the bytes it left unread.
 */
export class Hub {
  readonly #highWaterMark: number;
  readonly #policy: SlowClientPolicy;

  constructor(highWaterMark: number, policy: SlowClientPolicy) {
    this.#highWaterMark = highWaterMark;
    this.#policy = policy;
  }

  /** Sends `data` to every writable member but `except`. Encodes a string once. */
  broadcast(members: Iterable<HubMember>, data: string | Uint8Array, except?: object): BroadcastResult {
    const bytes = typeof data === "string" ? Buffer.from(data) : isBorrowed(data) ? copyOf(data) : data;
    const result: BroadcastResult = { sent: 0, dropped: 0, disconnected: 0 };
    for (const m of members) {
      if (m.handle === except || except === m.socket) continue;
      const s = m.socket;
      if (s.destroyed || s.writableEnded) continue;
      if (s.writableLength > this.#highWaterMark) {
        if (this.#policy === "drop") {
          result.dropped++;
          continue;
        }
        result.disconnected++;
        m.disconnect(
          new LimitExceededError(
            `unsent broadcast bytes for slow client ${m.where}`,
            this.#highWaterMark,
            s.writableLength,
          ),
        );
        continue;
      }
      s.write(bytes);
      result.sent++;
    }
    return result;
  }
}
