import type { Connection } from "../connection/connection.js";
import type { Disarm } from "../internal/cancel.js";

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
  readonly since = Date.now();
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

  constructor(stack: string | undefined, fresh: boolean) {
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
