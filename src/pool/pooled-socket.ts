import type { Connection, ConnectionOwner } from "../connection/connection.js";
import type { TimerHandle } from "../internal/clock.js";
import type { Slot } from "./budget.js";
import type { DestroyReason } from "./stats.js";

/** `idle ⇄ borrowed → gone`; `gone` is final (destroyed, retired or collected). */
export type SocketState = "idle" | "borrowed" | "gone";

/**
 * The pool's record of one socket it owns. Plain data: the endpoint pool makes every move.
 *
 * State:
 * - `state`: see {@link SocketState}.
 * - `conn`: the connection, held strongly only while idle; while borrowed only `ref` points
 *   at it, so a connection its borrower dropped (and whose socket closed) can be collected
 *   and its slot recovered.
 * - `slot`: its place under maxSockets, given back exactly when it becomes gone.
 * - `expiresAt`: ms since epoch after which the socket is retired (maxLifetime minus jitter).
 * - `uses`: borrows so far (counted when lent). `idleSince`: ms since epoch it last became idle.
 * - `parked`: its socket is unref'd because it sits idle (ref'd again when lent).
 * - `lease`: the current borrow; set exactly while borrowed.
 */
export class PooledSocket {
  /** A new socket starts idle: it counts as borrowed only once it is lent. */
  state: SocketState = "idle";
  conn: Connection | undefined;
  readonly ref: WeakRef<Connection>;
  readonly slot: Slot;
  readonly expiresAt: number;
  uses = 0;
  idleSince = 0;
  parked = false;
  lease: Lease | undefined;

  constructor(conn: Connection, slot: Slot, expiresAt: number) {
    this.conn = conn;
    this.ref = new WeakRef(conn);
    this.slot = slot;
    this.expiresAt = expiresAt;
  }
}

/** What a lease hands its connection back to: the endpoint pool that lent it. */
export interface LeaseOwner {
  releaseLease(lease: Lease, conn: Connection): Promise<void>;
  /** The borrowed connection of `record` was garbage-collected without a release. */
  collected(record: PooledSocket): void;
}

/** Told when one borrow ends, by the endpoint pool that lent it: a service counting its replica's borrows. */
export interface BorrowObserver {
  /**
   * The borrow of `lease` ended: given back healthy (`reason` undefined) or destroyed for
   * `reason` (`err`: the socket's error, or what ended the borrow). Returns true to have a
   * socket given back healthy closed instead of pooled (its replica is draining). Runs
   * inside the endpoint pool's transition: it must not call back into that pool.
   */
  ended(lease: Lease, reason: DestroyReason | undefined, err: unknown): boolean;
}

const RESOLVED = Promise.resolve();

/**
 * One borrow of a socket: what `conn[Symbol.asyncDispose]` releases through. A lease is
 * spent once released or destroyed, after which disposing again does nothing, so a late
 * `await using` exit can never return a socket that has since been lent to someone else.
 *
 * State: `spent` (the borrow is over); `since`: ms since epoch of the acquire; `reused`: the
 * socket served a borrower before this one; `stack`: the acquire's stack when leak detection
 * is on; `leakTimer`: the pending leak warning, armed and cleared by the endpoint pool;
 * `observer`: told when the borrow ends (set by a service right after the acquire, before
 * the borrower holds the socket; undefined for a borrow of a plain endpoint).
 */
export class Lease implements ConnectionOwner {
  spent = false;
  readonly record: PooledSocket;
  readonly owner: LeaseOwner;
  readonly since: number;
  readonly reused: boolean;
  readonly stack: string | undefined;
  leakTimer: TimerHandle | undefined;
  observer: BorrowObserver | undefined;

  constructor(record: PooledSocket, owner: LeaseOwner, since: number, stack: string | undefined) {
    this.record = record;
    this.owner = owner;
    this.since = since;
    this.reused = record.uses > 1;
    this.stack = stack;
  }

  /** The borrow is still on: not spent, and still its socket's current lease. */
  get current(): boolean {
    return !this.spent && this.record.state === "borrowed" && this.record.lease === this;
  }

  /** Dispose hook: releases once; later calls resolve at once. */
  release(conn: Connection): Promise<void> {
    return this.spent ? RESOLVED : this.owner.releaseLease(this, conn);
  }
}
