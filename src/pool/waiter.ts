import type { Connection } from "../connection/connection.js";
import type { Disarm } from "../internal/cancel.js";
import { Fifo } from "../internal/fifo.js";
import { invariant } from "../internal/invariant.js";

/** `waiting → delivered | rejected`; nothing leaves a final state. */
export type WaiterState = "waiting" | "delivered" | "rejected";

/**
 * One queued acquire. It settles exactly once: `deliver()` and `reject()` report whether
 * they won, so a socket offered to a waiter that already gave up goes to the next one.
 *
 * State: `state` (above); `since`: enqueue time (ms since epoch); `disarm`: clears its
 * timeout timer and abort listener, called on every settle. Fields are public to the pool
 * (this class is internal); only `deliver`/`reject` change `state`.
 */
export class Waiter {
  state: WaiterState = "waiting";
  /** Enqueue time, ms since epoch. */
  readonly since: number;
  /** The acquire's stack, kept when leak detection is on. */
  readonly stack: string | undefined;
  disarm: Disarm | undefined;
  /** When it times out (ms since epoch), if the pool's shared timer watches it instead of `disarm`. */
  deadline: number | undefined;
  #resolve!: (conn: Connection) => void;
  #reject!: (err: unknown) => void;
  readonly promise = new Promise<Connection>((resolve, reject) => {
    this.#resolve = resolve;
    this.#reject = reject;
  });

  /** A retry that must get a newly dialed socket, not an idle one. */
  readonly fresh: boolean;

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

/** Settled waiters a queue may hold beyond its live ones before it is compacted. */
const DEAD_SLACK = 32;

/**
 * The acquires waiting on one endpoint: a FIFO of ordinary waiters and a FIFO of retries
 * that want a freshly dialed socket. A waiter that settled on its own (timeout, abort) is
 * dropped at once when it is at the head; otherwise it stays queued until the queue holds
 * more settled waiters than live ones (plus DEAD_SLACK), and is then swept out. Each sweep
 * removes at least half the queue, so cancelling stays O(1) amortised and a queue never
 * holds much more than its live waiters, even when no socket comes back for a long time.
 *
 * State: `#normal`, `#fresh`: oldest first, settled ones included (never one at the head
 * after a settle), at most live + DEAD_SLACK settled ones each. `pending` counts the waiters
 * of both queues still waiting; `freshPending` those in `#fresh`.
 */
export class WaiterQueue {
  readonly #normal = new Fifo<Waiter>();
  readonly #fresh = new Fifo<Waiter>();
  pending = 0;
  freshPending = 0;

  push(w: Waiter): void {
    (w.fresh ? this.#fresh : this.#normal).push(w);
    this.pending++;
    if (w.fresh) this.freshPending++;
  }

  /** Dequeues the oldest waiter still waiting; a retry wanting a fresh socket first if `fresh`. */
  shift(fresh: boolean): Waiter | undefined {
    return (fresh ? this.#shiftLive(this.#fresh) : undefined) ?? this.#shiftLive(this.#normal);
  }

  /** Counts a waiter as gone (dequeued, or settled on its own) and prunes its queue. */
  settled(w: Waiter): void {
    this.pending--;
    if (w.fresh) this.freshPending--;
    if (w.fresh) this.#prune(this.#fresh, this.freshPending);
    else this.#prune(this.#normal, this.pending - this.freshPending);
  }

  /** Rejects every waiting waiter with `err`, oldest first. */
  rejectAll(err: Error): void {
    for (let w = this.shift(true); w !== undefined; w = this.shift(true)) w.reject(err);
  }

  /**
   * Ordinary waiters on the shared default timeout whose deadline is ≤ `now`, and the
   * earliest deadline still ahead (Infinity if none). Deadlines grow in queue order.
   */
  expired(now: number): { expired: Waiter[]; next: number } {
    const expired: Waiter[] = [];
    for (let i = 0; i < this.#normal.length; i++) {
      const w = this.#normal.at(i) as Waiter;
      if (!w.waiting || w.deadline === undefined) continue;
      if (w.deadline > now) return { expired, next: w.deadline };
      expired.push(w);
    }
    return { expired, next: Number.POSITIVE_INFINITY };
  }

  /**
   * For invariant checks: the counts match the waiters whose state is "waiting", and settled
   * waiters do not pile up.
   */
  check(where: string): void {
    let normal = 0;
    let fresh = 0;
    for (const w of this.#normal) if (w.waiting) normal++;
    for (const w of this.#fresh) if (w.waiting) fresh++;
    invariant(fresh === this.freshPending && normal + fresh === this.pending, `${where}: waiter counts are off`);
    const dead = this.#normal.length - normal + this.#fresh.length - fresh;
    invariant(dead <= this.pending + 2 * DEAD_SLACK, `${where}: ${dead} settled waiters kept for ${this.pending}`);
  }

  /** Drops settled waiters at the head; sweeps the queue once they outnumber the `live` ones. */
  #prune(queue: Fifo<Waiter>, live: number): void {
    while (queue.length > 0 && !(queue.peek() as Waiter).waiting) queue.shift();
    if (queue.length - live > live + DEAD_SLACK) {
      for (const w of queue.clear()) if (w.waiting) queue.push(w);
    }
  }

  #shiftLive(queue: Fifo<Waiter>): Waiter | undefined {
    for (let w = queue.shift(); w !== undefined; w = queue.shift()) {
      if (!w.waiting) continue;
      this.settled(w);
      return w;
    }
    return undefined;
  }
}
