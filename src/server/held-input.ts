import type { Socket } from "node:net";
import { Fifo } from "../internal/fifo.js";

/**
 * Chunks a paused protocol transport has read on the fast read path, waiting for it to read
 * again. On the public path Node goes on reading a paused socket into its own buffer until
 * `readableHighWaterMark` bytes wait there; an `onread` socket reads nothing once stopped. So
 * that the same bytes count as received on both paths (a graceful shutdown answers those,
 * and discards what is still in the kernel), a paused transport on the fast path keeps
 * reading into this hold, and stops its socket only once as many bytes wait here.
 *
 * State: `#chunks`, oldest first, each the runner's own copy; `bytes` is their total.
 * `stopped`: this hold stopped the socket (`bytes` reached its `readableHighWaterMark`);
 * `release()` starts it again.
 */
export class HeldInput {
  readonly #chunks = new Fifo<Buffer>();
  #bytes = 0;
  #stopped = false;

  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps `chunk`; stops `socket` reading once the hold is as full as Node's buffer gets. */
  hold(chunk: Buffer, socket: Socket): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (!this.#stopped && this.#bytes >= socket.readableHighWaterMark) {
      this.#stopped = true;
      socket.pause();
    }
  }

  /** The oldest held chunk, removed; undefined once empty. */
  shift(): Buffer | undefined {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) this.#bytes -= chunk.length;
    return chunk;
  }

  /** Starts `socket` reading again if this hold stopped it. */
  release(socket: Socket): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    socket.resume();
  }

  /** Drops every held chunk. */
  clear(): void {
    this.#chunks.clear();
    this.#bytes = 0;
  }
}
