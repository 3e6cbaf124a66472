import { Fifo } from "./fifo.js";
import { invariant } from "./invariant.js";

/** What a {@link CancelQueue} holds: an item that says itself whether it still waits. */
export interface Queued {
  readonly waiting: boolean;
}

/** Cancelled items a queue may hold beyond its waiting ones before it sweeps them out. */
const SLACK = 32;

/**
 * The one first-in first-out queue of things that may be cancelled while they wait (the
 * pool's acquires, a channel's requests waiting for a slot, an RPC connection's backlog).
 * `shift` hands out the oldest item still waiting. An item cancelled while queued stays put
 * and is skipped lazily (O(1)), but the owner reports it with `cancelled`: cancelled items at
 * the head are dropped at once, and once they outnumber the waiting ones (plus a slack) the
 * queue is swept, which removes at least half of it. So cancelling is amortised O(1) and the
 * queue never holds much more than its waiting items, even when nothing is ever shifted.
 *
 * State: `#items`: oldest first, cancelled items included (never one at the head right after
 * `cancelled` or `shift`); `#waiting`: how many of them still wait. Invariant (`check`):
 * `#waiting` matches the items whose `waiting` is true, and at most `#waiting + 2·SLACK`
 * cancelled items are kept.
 */
export class CancelQueue<T extends Queued> {
  #items = new Fifo<T>();
  #waiting = 0;

  /** Items still waiting. */
  get size(): number {
    return this.#waiting;
  }

  /** Queues an item that is waiting. */
  push(item: T): void {
    this.#items.push(item);
    this.#waiting++;
  }

  /** Dequeues the oldest item still waiting, or undefined. */
  shift(): T | undefined {
    for (let item = this.#items.shift(); item !== undefined; item = this.#items.shift()) {
      if (!item.waiting) continue;
      this.#waiting--;
      return item;
    }
    return undefined;
  }

  /** The oldest item still waiting, without dequeuing it. */
  peek(): T | undefined {
    this.#dropHead();
    return this.#items.peek();
  }

  /** A queued item stopped waiting by itself (a timeout, an abort): forget it, soon. */
  cancelled(): void {
    this.#waiting--;
    this.#dropHead();
    if (this.#items.length - this.#waiting > this.#waiting + SLACK) {
      for (const item of this.#items.clear()) if (item.waiting) this.#items.push(item);
    }
  }

  /** Empties the queue and returns the items still waiting, oldest first. */
  clear(): T[] {
    const rest = this.#items.clear().filter((item) => item.waiting);
    this.#waiting = 0;
    return rest;
  }

  /** The items still waiting, oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const item of this.#items) if (item.waiting) yield item;
  }

  /** Asserts the State invariant; `where` names the owner in the message. */
  check(where: string): void {
    let waiting = 0;
    for (const item of this.#items) if (item.waiting) waiting++;
    invariant(waiting === this.#waiting, `${where}: ${this.#waiting} counted waiting, ${waiting} are`);
    const dead = this.#items.length - waiting;
    invariant(dead <= waiting + 2 * SLACK, `${where}: ${dead} cancelled items kept for ${waiting} waiting`);
  }

  #dropHead(): void {
    while (this.#items.length > 0 && !(this.#items.peek() as T).waiting) this.#items.shift();
  }
}
