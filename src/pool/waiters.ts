import type { Connection } from "../connection/connection.js";
import type { Disarm } from "../internal/cancel.js";
import { CancelQueue } from "../internal/cancel-queue.js";

/** `waiting → delivered | rejected`; nothing leaves a final state. */
export type WaiterState = "waiting" | "delivered" | "rejected";

/**
 * One queued acquire. It settles exactly once: `deliver()` and `reject()` report whether
 * they won (Go's `wantConn.tryDeliver`), so a socket is never handed to a waiter that already
 * gave up.
 *
 * State: `state` (above); `since`: enqueue time (ms since epoch); `deadline`: when the pool's
 * shared timer times it out (default-timeout acquires), else undefined; `disarm`: clears its
 * own timer and abort listener (other acquires), called on every settle.
 */
export class Waiter {
  state: WaiterState = "waiting";
  readonly since: number;
  /** The acquire's stack, kept when leak detection is on. */
  readonly stack: string | undefined;
  /** A retry that must get a newly dialed socket, not an idle one. */
  readonly fresh: boolean;
  deadline: number | undefined;
  disarm: Disarm | undefined;
  #resolve!: (conn: Connection) => void;
  #reject!: (err: unknown) => void;
  readonly promise = new Promise<Connection>((resolve, reject) => {
    this.#resolve = resolve;
    this.#reject = reject;
  });

  constructor(now: number, stack: string | undefined, fresh: boolean) {
    this.since = now;
    this.stack = stack;
    this.fresh = fresh;
  }

  get waiting(): boolean {
    return this.state === "waiting";
  }

  /** Hands `conn` over; false (and `conn` untouched) if the waiter already settled. */
  deliver(conn: Connection): boolean {
    if (this.state !== "waiting") return false;
    this.state = "delivered";
    this.disarm?.();
    this.#resolve(conn);
    return true;
  }

  /** Fails the acquire; false if the waiter already settled. */
  reject(err: unknown): boolean {
    if (this.state !== "waiting") return false;
    this.state = "rejected";
    this.disarm?.();
    this.#reject(err);
    return true;
  }
}

/**
 * The acquires waiting on one endpoint, first come first served: ordinary waiters, and
 * retries that want a freshly dialed socket, each in a {@link CancelQueue}. Passive: the
 * endpoint pool decides who is served and reports waiters that settled by themselves.
 *
 * State: `#normal`, `#fresh`: the two queues. `pending` is how many still wait in both.
 */
export class WaiterQueue {
  readonly #normal = new CancelQueue<Waiter>();
  readonly #fresh = new CancelQueue<Waiter>();

  get pending(): number {
    return this.#normal.size + this.#fresh.size;
  }

  /** Retries waiting for a freshly dialed socket. */
  get freshPending(): number {
    return this.#fresh.size;
  }

  push(w: Waiter): void {
    (w.fresh ? this.#fresh : this.#normal).push(w);
  }

  /** Dequeues the oldest waiter still waiting; a retry wanting a fresh socket first if `fresh`. */
  shift(fresh: boolean): Waiter | undefined {
    return (fresh ? this.#fresh.shift() : undefined) ?? this.#normal.shift();
  }

  /** A queued waiter settled by itself (timeout, abort): it is forgotten soon. */
  cancelled(w: Waiter): void {
    (w.fresh ? this.#fresh : this.#normal).cancelled();
  }

  /** Dequeues every waiter still waiting, retries first, oldest first. */
  clear(): Waiter[] {
    return [...this.#fresh.clear(), ...this.#normal.clear()];
  }

  /**
   * Ordinary waiters on the shared default timeout whose deadline is ≤ `now`, and the
   * earliest deadline still ahead (Infinity if none). Deadlines grow in queue order.
   */
  expired(now: number): { expired: Waiter[]; next: number } {
    const expired: Waiter[] = [];
    for (const w of this.#normal) {
      if (w.deadline === undefined) continue;
      if (w.deadline > now) return { expired, next: w.deadline };
      expired.push(w);
    }
    return { expired, next: Number.POSITIVE_INFINITY };
  }

  /** Asserts the queues' invariants (see CancelQueue). */
  check(where: string): void {
    this.#normal.check(`${where} waiters`);
    this.#fresh.check(`${where} fresh waiters`);
  }
}
