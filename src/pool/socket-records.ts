import type { Connection } from "../connection/connection.js";
import { Lease, type LeaseOwner, PooledSocket } from "./lease.js";

/** Recovers the slot of a borrowed connection collected without release. */
const collected = new FinalizationRegistry<PooledSocket>((record) => record.onCollected());

/**
 * The records of the sockets one endpoint pool owns, and their moves through
 * `idle ⇄ borrowed → gone` (see {@link PooledSocket}). Where an idle socket sits (the idle
 * stack, or between a borrower and its fate) is the pool's business.
 *
 * State: `#all`: every socket not gone, idle or borrowed; `borrowed`: how many of them are
 * borrowed. A record has a lease exactly while borrowed, and that lease is live (not spent).
 * A record leaves `#all` exactly when it becomes gone, never to return; it is then no longer
 * registered for collection and its connection is closed or closing.
 */
export class SocketRecords {
  readonly #all = new Set<PooledSocket>();
  #borrowed = 0;
  readonly #closing: (conn: Connection) => void;
  readonly #leakWarningAfter: number | undefined;
  readonly #onLeak: (lease: Lease) => void;

  /**
   * `closing` hears of each connection closed gracefully (pool.close() waits for them); a
   * lease held past `leakWarningAfter` ms (if set) goes to `onLeak`.
   */
  constructor(
    closing: (conn: Connection) => void,
    leakWarningAfter: number | undefined,
    onLeak: (lease: Lease) => void,
  ) {
    this.#closing = closing;
    this.#leakWarningAfter = leakWarningAfter;
    this.#onLeak = onLeak;
  }

  get borrowed(): number {
    return this.#borrowed;
  }

  /** Every record not gone: for invariant checks and the close deadline. */
  get all(): ReadonlySet<PooledSocket> {
    return this.#all;
  }

  /**
   * Takes in a newly dialed socket, idle, retired after `expiresAt` (ms since epoch). It is
   * watched for its whole life: `onIdleEvent` runs when bytes, EOF, an error or a close arrive
   * while no read is pending, `onCollected` when its connection was collected while borrowed.
   */
  add(
    conn: Connection,
    expiresAt: number,
    onIdleEvent: (record: PooledSocket) => void,
    onCollected: (record: PooledSocket) => void,
  ): PooledSocket {
    const record = new PooledSocket(conn, expiresAt);
    record.onIdleEvent = () => onIdleEvent(record);
    record.onCollected = () => onCollected(record);
    collected.register(conn, record, record);
    // The listener acts only while the socket is idle. (The unwatch function is not kept: it
    // holds the connection, which must stay collectable.)
    conn.watchIdle(record.onIdleEvent);
    this.#all.add(record);
    return record;
  }

  /**
   * idle → borrowed: lends the connection to a new lease of `owner` (`record.lease`), acquired
   * at `now` with the stack `stack`, and returns it; the record now holds it only weakly.
   */
  lend(record: PooledSocket, owner: LeaseOwner, now: number, stack: string | undefined): Connection {
    const conn = record.conn as Connection;
    record.conn = undefined;
    record.state = "borrowed";
    const reused = record.uses > 0;
    record.uses++;
    this.#borrowed++;
    const lease = new Lease(record, owner, now);
    record.lease = lease;
    if (this.#leakWarningAfter !== undefined) lease.watchLeak(this.#leakWarningAfter, stack, this.#onLeak);
    conn.lend(lease, reused);
    return conn;
  }

  /** borrowed → idle, transiently: the caller pools or destroys the socket before returning. */
  endLease(record: PooledSocket): void {
    if (record.state !== "borrowed") return;
    record.lease?.end();
    record.lease = undefined;
    this.#borrowed--;
    record.state = "idle";
  }

  /**
   * → gone: forgets the socket for good (ending its lease) and closes `conn` unless closed: at
   * once, or gracefully if `graceful` and it is open. False if the socket was gone already.
   */
  remove(record: PooledSocket, conn: Connection | undefined, graceful: boolean): boolean {
    if (record.state === "gone") return false;
    if (record.state === "borrowed") this.endLease(record);
    record.state = "gone";
    this.#all.delete(record);
    record.conn = undefined;
    collected.unregister(record);
    if (conn !== undefined && conn.state !== "closed") {
      this.#closing(conn); // pool.close() waits until it has closed
      if (graceful && conn.state === "open") {
        conn.socket.ref(); // close() may be awaited: let the FIN exchange finish
        void conn.close();
      } else conn.destroy();
    }
    return true;
  }
}
