import type { Socket } from "node:net";
import { LimitExceededError } from "../errors.js";

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

  /** Sends `bytes` to every writable member but `except`. */
  broadcast(members: Iterable<HubMember>, bytes: Uint8Array, except?: object): BroadcastResult {
    const result: BroadcastResult = { sent: 0, dropped: 0, disconnected: 0 };
    for (const m of members) {
      if (m.handle === except || except === m.socket) continue;
      const s = m.socket;
      if (s.destroyed || s.writableEnded) continue;
      if (s.writableLength > this.#highWaterMark) this.#overflow(m, result, 1);
      else {
        s.write(bytes);
        result.sent++;
      }
    }
    return result;
  }

  /**
   * Sends each of `messages`, in order, to every writable member: what a bus delivered in one
   * turn. They go in groups of at most `highWaterMark` bytes (at least one message); a member
   * gets a group as one corked write (one system call) if its unsent bytes before the group
   * are within the mark, else the policy, for the whole group. (Corked bytes count as unsent,
   * so judging message by message would take a batch for a stall.) A stalled reader thus
   * costs at most about two marks.
   */
  broadcastMany(members: Iterable<HubMember>, messages: readonly Uint8Array[]): BroadcastResult {
    const result: BroadcastResult = { sent: 0, dropped: 0, disconnected: 0 };
    const all = [...members];
    for (let from = 0; from < messages.length; ) {
      let to = from + 1;
      let bytes = (messages[from] as Uint8Array).length;
      while (to < messages.length && bytes + (messages[to] as Uint8Array).length <= this.#highWaterMark) {
        bytes += (messages[to] as Uint8Array).length;
        to++;
      }
      for (const m of all) {
        const s = m.socket;
        if (s.destroyed || s.writableEnded) continue;
        if (s.writableLength > this.#highWaterMark) {
          this.#overflow(m, result, to - from);
          continue;
        }
        s.cork();
        for (let i = from; i < to; i++) s.write(messages[i] as Uint8Array);
        s.uncork();
        result.sent += to - from;
      }
      from = to;
    }
    return result;
  }

  /** A member past the mark: `count` messages dropped for it, or it is disconnected. */
  #overflow(m: HubMember, result: BroadcastResult, count: number): void {
    if (this.#policy === "drop") {
      result.dropped += count;
      return;
    }
    result.disconnected++;
    const unsent = m.socket.writableLength;
    m.disconnect(
      new LimitExceededError(`unsent broadcast bytes for slow client ${m.where}`, this.#highWaterMark, unsent),
    );
  }
}
