import type { Connection } from "../connection/connection.js";
import { idleProblem, type PooledSocket } from "./lease.js";
import { dueForRetirement } from "./reaper.js";
import type { DestroyReason } from "./stats.js";

/** Closes a socket taken out of the stack for good: why, the error if any, and whether gracefully. */
export type Retire = (record: PooledSocket, reason: DestroyReason, err: unknown, graceful: boolean) => void;

/**
 * The idle sockets of one endpoint, as a stack: most recently used LAST, so `take` reuses the
 * most recently used socket and the surplus ages out at the bottom, where `idleSince` is
 * oldest. A socket in the stack is parked (its socket unref'd), so an idle pool never keeps
 * the process alive; `take` refs it again. Every socket taken out for any other reason (unfit,
 * evicted, retired, closed) goes to `retire`, which the pool gives.
 *
 * State: `#stack`: records whose state is "idle", with `conn` set and `parked` true, each at
 * most once, least recently used first.
 */
export class IdleStack {
  readonly #stack: PooledSocket[] = [];
  readonly #retire: Retire;

  constructor(retire: Retire) {
    this.#retire = retire;
  }

  get length(): number {
    return this.#stack.length;
  }

  /** The records, least recently used first: for invariant checks. */
  get records(): readonly PooledSocket[] {
    return this.#stack;
  }

  /** Parks a socket on top of the stack, idle since `now`. */
  park(record: PooledSocket, conn: Connection, now: number): void {
    record.state = "idle";
    record.idleSince = now;
    record.parked = true;
    conn.socket.unref(); // an idle socket never keeps the process alive (ref'd again when taken)
    this.#stack.push(record);
  }

  /**
   * Pops the most recently used socket fit to hand out at `now` and unparks it, retiring each
   * unfit one popped on the way (see idleProblem). Undefined when none is left.
   */
  take(now: number): PooledSocket | undefined {
    for (let record = this.#stack.pop(); record !== undefined; record = this.#stack.pop()) {
      const conn = record.conn as Connection;
      const problem = idleProblem(conn, record, now);
      if (problem === undefined) {
        record.parked = false;
        conn.socket.ref();
        return record;
      }
      this.#retire(record, problem, conn.error, problem === "lifetime");
    }
    return undefined;
  }

  /**
   * Retires a parked socket on which bytes, EOF, an error or a close arrived: false if `record`
   * is not in the stack (it may be between a borrower and its fate).
   */
  evict(record: PooledSocket): boolean {
    if (record.state !== "idle" || !record.parked) return false;
    const conn = record.conn as Connection;
    const problem = idleProblem(conn, record, 0) ?? "peer-closed";
    this.#stack.splice(this.#stack.indexOf(record), 1);
    this.#retire(record, problem, conn.error, false);
    return true;
  }

  /** Gracefully closes the least recently used socket for `reason`; false if none is idle. */
  evictOldest(reason: DestroyReason): boolean {
    const record = this.#stack.shift();
    if (record === undefined) return false;
    this.#retire(record, reason, undefined, true);
    return true;
  }

  /** Gracefully closes every socket (the pool is closing). */
  closeAll(): void {
    for (const record of this.#stack.splice(0)) this.#retire(record, "pool-closed", undefined, true);
  }

  /**
   * Gracefully retires the sockets due at `now` (see {@link dueForRetirement}); returns the
   * next deadline among those left (Infinity if none).
   */
  retireDue(now: number, idleTimeout: number, minIdle: number): number {
    const { retire, next } = dueForRetirement(this.#stack, now, idleTimeout, minIdle);
    for (const [record, reason] of retire) this.#retire(record, reason, undefined, true);
    return next;
  }
}
