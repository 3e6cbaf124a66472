import type { PooledSocket } from "./pooled-socket.js";
import type { DestroyReason } from "./stats.js";

/**
 * The idle sockets of one endpoint, as a stack: most recently used LAST, so `pop` reuses the
 * most recently used socket and the surplus ages out at the bottom, where `idleSince` is
 * oldest. Plain data: the endpoint pool parks, takes and retires sockets.
 *
 * State: `#stack`: records whose state is "idle" with `conn` set, each at most once, least
 * recently used first.
 */
export class IdleStack {
  readonly #stack: PooledSocket[] = [];

  get length(): number {
    return this.#stack.length;
  }

  /** The records, least recently used first: for invariant checks. */
  get records(): readonly PooledSocket[] {
    return this.#stack;
  }

  /** Puts a socket on top, idle since `now`. */
  push(record: PooledSocket, now: number): void {
    record.idleSince = now;
    this.#stack.push(record);
  }

  /** Takes the most recently used socket. */
  pop(): PooledSocket | undefined {
    return this.#stack.pop();
  }

  /** Takes the least recently used socket. */
  shift(): PooledSocket | undefined {
    return this.#stack.shift();
  }

  /** Takes `record` out; false if it is not in the stack. */
  remove(record: PooledSocket): boolean {
    const i = this.#stack.indexOf(record);
    if (i < 0) return false;
    this.#stack.splice(i, 1);
    return true;
  }

  /** Takes every socket out, least recently used first. */
  clear(): PooledSocket[] {
    return this.#stack.splice(0);
  }

  /**
   * Takes out (oldest first) the sockets due for retirement at `now`: past their lifetime, or
   * idle past `idleTimeout` while more than `minIdle` remain. Returns them with the reason,
   * and the next deadline among those left (Infinity if none). A socket kept only for minIdle
   * counts with its lifetime, never with an idle deadline already past, so the timer cannot spin.
   */
  takeDue(now: number, idleTimeout: number, minIdle: number): { due: [PooledSocket, DestroyReason][]; next: number } {
    const due: [PooledSocket, DestroyReason][] = [];
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#stack.length; ) {
      const record = this.#stack[i] as PooledSocket;
      const idleEnd = record.idleSince + idleTimeout;
      let reason: DestroyReason | undefined;
      if (now >= record.expiresAt) reason = "lifetime";
      else if (this.#stack.length > minIdle && now >= idleEnd) reason = "idle-timeout";
      if (reason === undefined) {
        next = Math.min(next, record.expiresAt, idleEnd > now ? idleEnd : Number.POSITIVE_INFINITY);
        i++;
      } else {
        this.#stack.splice(i, 1);
        due.push([record, reason]);
      }
    }
    return { due, next };
  }
}
