import { type Connection, lendConnection } from "../connection/connection.js";
import type { Clock } from "../internal/clock.js";
import type { Slot } from "./budget.js";
import type { PoolContext } from "./context.js";
import { Lease, type LeaseOwner, PooledSocket } from "./pooled-socket.js";
import type { Counters, DestroyReason } from "./stats.js";

/** Recovers the slot of a borrowed connection collected without release. */
const collected = new FinalizationRegistry<PooledSocket>((record) => record.lease?.owner.collected(record));

/**
 * The sockets of one endpoint and the bookkeeping of their moves `idle ⇄ borrowed → gone`:
 * the lease and its leak timer, the garbage-collection watch, the budget slot, closing the
 * connection, counting and telling listeners. Plain data with its own bookkeeping: the
 * endpoint pool decides which move happens when, and the table never calls back into it.
 *
 * State: `#all`: every socket not gone, idle or borrowed; `borrowed`: how many of them are
 * borrowed. A record has a live lease exactly while borrowed. A record leaves `#all` exactly
 * when it becomes gone, never to return; its slot is then given back, it is no longer watched
 * for collection, and its connection is closed or closing.
 */
export class SocketTable {
  readonly #all = new Set<PooledSocket>();
  readonly #key: string;
  readonly #ctx: PoolContext;
  readonly #clock: Clock;
  readonly #counters: Counters;
  #borrowed = 0;

  constructor(key: string, ctx: PoolContext, counters: Counters) {
    this.#key = key;
    this.#ctx = ctx;
    this.#clock = ctx.clock;
    this.#counters = counters;
  }

  get borrowed(): number {
    return this.#borrowed;
  }

  /** Every socket not gone: for invariant checks and the close deadline. */
  get all(): ReadonlySet<PooledSocket> {
    return this.#all;
  }

  /**
   * A newly dialed socket holding `slot`, idle, retired after `expiresAt` (ms since epoch);
   * its dial took `dialMs`.
   */
  add(conn: Connection, slot: Slot, expiresAt: number, dialMs: number): PooledSocket {
    const record = new PooledSocket(conn, slot, expiresAt);
    this.#all.add(record);
    collected.register(conn, record, record);
    this.#ctx.track(conn, record);
    this.#counters.recordCreate(dialMs);
    this.#ctx.emit("create", conn, this.#key);
    return record;
  }

  /** idle → borrowed: lends the socket to a new lease of `owner`; the record holds it only weakly. */
  lend(record: PooledSocket, owner: LeaseOwner, now: number, stack: string | undefined): Lease {
    const conn = record.conn as Connection;
    record.conn = undefined;
    record.state = "borrowed";
    record.uses++;
    this.#borrowed++;
    if (record.parked) {
      conn.socket.ref(); // idle sockets are unref'd; one handed straight from a borrower never was
      record.parked = false;
    }
    const lease = new Lease(record, owner, now, stack);
    record.lease = lease;
    const after = this.#ctx.settings.leakWarningAfter;
    if (after !== undefined) lease.leakTimer = this.#clock.setTimer(() => this.#leaked(lease), after);
    lendConnection(conn, lease);
    return lease;
  }

  /** Counts a hand-out and tells listeners; only once the borrower holds the socket. */
  acquired(lease: Lease, waited: number): void {
    this.#counters.recordAcquire(lease.reused, waited);
    if (this.#ctx.listens("acquire")) {
      this.#ctx.emit("acquire", lease.record.ref.deref() as Connection, this.#key, lease.reused); // the borrower holds it
    }
  }

  /**
   * borrowed → idle, transiently: the caller pools or destroys the socket before returning.
   * Counts the hold time up to `now`.
   */
  endLease(record: PooledSocket, now = this.#clock.now()): void {
    if (record.state !== "borrowed") return;
    const lease = record.lease as Lease;
    lease.spent = true;
    if (lease.leakTimer !== undefined) this.#clock.clearTimer(lease.leakTimer);
    this.#counters.recordHold(now - lease.since);
    record.lease = undefined;
    this.#borrowed--;
    record.state = "idle";
  }

  /** → gone: forgets the socket for good (ending its lease), closing `conn` unless closed: gracefully or at once. */
  remove(record: PooledSocket, conn: Connection | undefined, reason: DestroyReason, err: unknown, graceful: boolean) {
    if (record.state === "gone") return;
    this.endLease(record);
    record.state = "gone";
    this.#all.delete(record);
    record.conn = undefined;
    collected.unregister(record);
    record.slot.give();
    if (conn !== undefined && conn.state !== "closed") {
      this.#ctx.closing(conn); // pool.close() waits until it has closed
      if (graceful && conn.state === "open") {
        conn.socket.ref(); // close() may be awaited: let the FIN exchange finish
        void conn.close();
      } else conn.destroy();
    }
    this.#counters.recordDestroy(reason);
    this.#ctx.emit("destroy", conn, this.#key, reason, err);
  }

  #leaked(lease: Lease): void {
    const heldMs = this.#clock.now() - lease.since;
    this.#ctx.emit("leak", { endpoint: this.#key, stack: lease.stack, heldMs, collected: false });
  }
}
