import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, AcquireTimeoutError, NotBorrowedError, PoolClosedError, QueueFullError } from "../errors.js";
import type { WaitOptions } from "../internal/cancel.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { AcquireTimeouts } from "./acquire-timeouts.js";
import { checkEndpointPool } from "./check.js";
import { Dials, FailFast } from "./dial.js";
import { IdleStack } from "./idle-stack.js";
import type { Lease, LeaseOwner, PooledSocket, Validate } from "./lease.js";
import { releaseProblem, validated } from "./lease.js";
import type { PoolSettings } from "./options.js";
import { Reaper } from "./reaper.js";
import { SocketRecords } from "./socket-records.js";
import { Counters, type DestroyReason, type EndpointStats } from "./stats.js";
import { Waiter, WaiterQueue } from "./waiter.js";

/** What an endpoint pool needs from the SocketPool that holds it. */
export interface PoolHost {
  readonly settings: PoolSettings;
  readonly total: Counters;
  /** Takes a slot under maxSockets (possibly closing another endpoint's idle socket); false: wait. */
  takeSlot(pool: EndpointPool): boolean;
  /** Gives a slot back; may pump another endpoint waiting for one. */
  giveSlot(): void;
  track(conn: Connection, record: PooledSocket): void;
  /** A socket closing gracefully; close() waits for it. */
  closing(conn: Connection): void;
  /** The pool is empty and idle: drop it from the map. */
  forget(pool: EndpointPool): void;
  emit(event: string, a?: unknown, b?: unknown, c?: unknown, d?: unknown): void;
}

const RESOLVED = Promise.resolve();

/**
 * One bounded pool for one endpoint.
 *
 * State (each part's own State comment says more):
 * - `#idle`: the idle stack, most recently used on top ({@link IdleStack}). `#sockets`: every
 *   open socket, idle or borrowed, and the borrowed count ({@link SocketRecords}).
 * - `#dials`: dials in progress, oldest first ({@link Dials}). `#waiters`: queued acquires
 *   ({@link WaiterQueue}); retries that want a fresh socket are served by new dials only.
 *   `#timeouts` queues them and arms their timeouts and aborts ({@link AcquireTimeouts}).
 * - `#failFast`: consecutive dial failures, the fail-fast window and the last dial error.
 * - `#counters`: this endpoint's, rolled up into the pool's totals. `#reaper`: armed for the
 *   next idle or lifetime retirement and for the end of the fail-fast window.
 * - `#closing`: final; nothing is lent or pooled after it. `#drained`: close() callers waiting
 *   until nothing is borrowed or dialing.
 * Invariants at every synchronous boundary (asserted by {@link checkEndpointPool}): open =
 * idle + borrowed + dialing ≤ maxPerEndpoint; a socket is in exactly one of idle or borrowed;
 * if a (non-fresh) acquire waits, nothing is idle; the counts match the waiters still waiting.
 */
export class EndpointPool implements LeaseOwner {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly #host: PoolHost;
  readonly #s: PoolSettings;
  readonly #counters: Counters;
  readonly #idle: IdleStack;
  readonly #sockets: SocketRecords;
  readonly #dials: Dials;
  readonly #waiters = new WaiterQueue();
  readonly #timeouts: AcquireTimeouts;
  readonly #failFast: FailFast;
  #closing = false;
  readonly #reaper = new Reaper(() => this.#reap());
  readonly #drained: Array<() => void> = [];

  constructor(endpoint: Endpoint, host: PoolHost) {
    this.endpoint = endpoint;
    this.key = endpoint.key;
    this.#host = host;
    this.#s = host.settings;
    this.#counters = new Counters(host.total);
    this.#idle = new IdleStack((record, reason, err, graceful) =>
      this.#destroy(record, record.conn, reason, err, graceful),
    );
    this.#sockets = new SocketRecords((conn) => host.closing(conn), this.#s.leakWarningAfter, this.#onLeak);
    this.#failFast = new FailFast(this.key, this.#s.failFastWindow, this.#s.failFastMaxWindow);
    this.#dials = new Dials(endpoint, this.#s, {
      giveSlot: () => host.giveSlot(),
      attemptFailed: (err) => {
        this.#counters.recordConnectError();
        this.#failFast.noteError(err);
      },
      connected: (conn, counted) => this.#onDialed(conn, counted),
      failed: (err, counted) => this.#onDialFailed(err, counted),
    });
    this.#timeouts = new AcquireTimeouts(this.#waiters, `acquire from ${this.key}`, this.#s.acquireTimeout, {
      timeoutError: (ms, w) =>
        new AcquireTimeoutError(this.key, ms, this.#detail(), this.#failFast.errorSince(w.since)),
      cancelled: (err) => this.#onCancelled(err),
    });
  }

  get open(): number {
    return this.#idle.length + this.#sockets.borrowed + this.#dials.count;
  }

  /**
   * Lends a socket: the most recently used healthy idle one, else one dialed for this
   * acquire once a slot is free, waiting FIFO. See SocketPool.acquire for the rejections.
   */
  acquire(options: WaitOptions | undefined, stack: string | undefined, fresh = false): Promise<Connection> {
    if (this.#closing) return Promise.reject(new PoolClosedError(`acquire from ${this.key}`));
    if (options?.signal?.aborted) {
      return Promise.reject(new AbortError(`acquire from ${this.key}`, options.signal.reason));
    }
    const now = Date.now();
    const record = fresh ? undefined : this.#idle.take(now);
    if (record !== undefined) {
      const validate = this.#s.validate !== undefined && now - record.idleSince >= this.#s.validateAfter;
      const conn = this.#sockets.lend(record, this, now, stack);
      this.#acquired(conn, record, 0);
      this.#check();
      return validate ? this.#validate(conn, record, options, stack) : Promise.resolve(conn);
    }
    if (now < this.#failFast.until && this.#sockets.borrowed === 0 && this.#dials.count === 0) {
      return Promise.reject(this.#failFast.error(now));
    }
    if (this.#waiters.pending >= this.#s.maxWaiting)
      return Promise.reject(new QueueFullError(this.key, this.#s.maxWaiting));
    const w = new Waiter(now, stack, fresh);
    // A retry after a stale socket wants a new one: make room by closing the oldest idle.
    if (fresh && this.open >= this.#s.maxPerEndpoint) this.#idle.evictOldest("replaced");
    this.#timeouts.enqueue(w, options, now);
    this.#pump();
    this.#check();
    return w.promise;
  }

  /** Runs the validate hook on a socket just lent, under the acquire's signal and timeout. */
  #validate(conn: Connection, record: PooledSocket, options: WaitOptions | undefined, stack: string | undefined) {
    const timeoutError = (ms: number) => new AcquireTimeoutError(this.key, ms, `validating; ${this.#detail()}`);
    const limits = this.#timeouts.limits(options, timeoutError);
    const retry = () => this.acquire(options, stack);
    return validated(conn, record, this.#s.validate as Validate, limits, retry, (lease, err) => {
      if (err instanceof AcquireTimeoutError) this.#counters.recordTimeout();
      this.destroyLent(lease, conn, "validation", err);
    });
  }

  /** Takes a lent socket back: pooled if healthy, else destroyed with the reason. */
  releaseLease(lease: Lease, conn: Connection): Promise<void> {
    if (!lease.current) return Promise.reject(new NotBorrowedError("release", conn.where));
    const record = lease.record;
    this.#sockets.endLease(record);
    this.#counters.recordRelease();
    this.#host.emit("release", conn, this.key);
    const now = Date.now();
    const problem = this.#closing ? "pool-closed" : releaseProblem(conn, record, now, this.#s.maxUses);
    if (problem === undefined && this.#offer(record, conn, now)) {
      this.#check(); // the hot path: nothing was destroyed, so nothing else can change
      return RESOLVED;
    }
    if (problem !== undefined) {
      this.#destroy(record, conn, problem, conn.error, problem === "pool-closed" || problem === "lifetime");
    }
    this.#settle();
    return RESOLVED;
  }

  /** Destroys a lent socket (pool.destroy, or use() whose function threw). */
  destroyLent(lease: Lease, conn: Connection, reason: DestroyReason, err?: unknown): void {
    if (!lease.current) throw new NotBorrowedError("destroy", conn.where);
    const record = lease.record;
    this.#sockets.endLease(record);
    // Pending reads and writes reject with `err` (an abort, say) rather than a bare close.
    if (err instanceof Error && conn.state !== "closed") conn.destroy(err);
    this.#destroy(record, conn, reason, err, false);
    this.#settle();
  }

  /** use() is running its function again on a fresh socket (a stale reuse). */
  recordRetry(): void {
    this.#counters.recordRetry();
  }

  /** Starts the dials wanted: when a slot under maxSockets frees up, or to warm minIdle sockets. */
  pump(): void {
    this.#pump();
    this.#check();
  }

  /** Closes the oldest idle socket to make room elsewhere; false if nothing is idle. */
  evictIdle(): boolean {
    if (!this.#idle.evictOldest("max-sockets")) return false;
    queueMicrotask(() => this.#settle());
    return true;
  }

  /**
   * Stops lending: rejects waiters with PoolClosedError, aborts dials, closes idle sockets.
   * Resolves once no socket is borrowed or dialing.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#reaper.stop();
    this.#timeouts.stop();
    this.#waiters.rejectAll(new PoolClosedError(`acquire from ${this.key}`));
    this.#dials.abortAll(() => new PoolClosedError(`connect to ${this.key}`));
    this.#idle.closeAll();
    this.#check();
    if (this.#sockets.borrowed === 0 && this.#dials.count === 0) return RESOLVED;
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** After the close deadline: destroys whatever is still borrowed. */
  destroyBorrowed(): void {
    for (const record of [...this.#sockets.all]) {
      if (record.state !== "borrowed") continue;
      this.#sockets.endLease(record);
      this.#destroy(record, record.ref.deref(), "pool-closed", undefined, false);
    }
    this.#settle();
  }

  stats(): EndpointStats {
    return this.#counters.snapshot({
      idle: this.#idle.length,
      borrowed: this.#sockets.borrowed,
      dialing: this.#dials.count,
      pending: this.#waiters.pending,
    });
  }

  /** Counts a hand-out and tells listeners; only after the borrower holds the socket. */
  #acquired(conn: Connection, record: PooledSocket, waited: number): void {
    const reused = record.uses > 1;
    this.#counters.recordAcquire(reused, waited);
    this.#host.emit("acquire", conn, this.key, reused);
  }

  readonly #onLeak = (lease: Lease): void => {
    const heldMs = Date.now() - lease.since;
    this.#host.emit("leak", { endpoint: this.key, stack: lease.stack, heldMs, collected: false });
  };

  /**
   * Serves the oldest waiter (a new socket goes to retries wanting a fresh one first), else
   * makes the socket idle. Returns false when it closed the socket instead: past maxIdle, or
   * to make room for a fresh dial, or while closing.
   */
  #offer(record: PooledSocket, conn: Connection, now: number): boolean {
    record.conn = conn;
    const w = this.#waiters.shift(record.uses === 0);
    if (w !== undefined) {
      // No user code runs between lending and delivering (the 'acquire' event comes after),
      // so a waiter the queue just gave out cannot have settled in between.
      const conn = this.#sockets.lend(record, this, now, w.stack);
      invariant(w.deliver(conn), `${this.key}: a socket was lent to an acquire that had already settled`);
      this.#acquired(conn, record, now - w.since);
      return true;
    }
    if (this.#closing || this.#idle.length >= this.#s.maxIdle || this.#waiters.freshPending > 0) {
      const reason = this.#closing ? "pool-closed" : this.#waiters.freshPending > 0 ? "replaced" : "max-idle";
      this.#destroy(record, conn, reason, undefined, true);
      return false;
    }
    this.#idle.park(record, conn, now);
    this.#reaper.arm(Math.min(now + this.#s.idleTimeout, record.expiresAt));
    return true;
  }

  /** Removes a socket from the pool for good, closing it gracefully or at once. */
  #destroy(
    record: PooledSocket,
    conn: Connection | undefined,
    reason: DestroyReason,
    err: unknown,
    graceful: boolean,
  ): void {
    if (!this.#sockets.remove(record, conn, graceful)) return;
    this.#counters.recordDestroy(reason);
    this.#host.giveSlot();
    this.#host.emit("destroy", conn, this.key, reason, err);
  }

  /** Starts dials while waiters outnumber them (and minIdle asks for warm sockets). */
  #pump(): void {
    for (;;) {
      if (this.#closing) return;
      if (this.#wanted() <= this.#dials.count || this.open >= this.#s.maxPerEndpoint) return;
      if (this.#failFast.until > 0) {
        const now = Date.now();
        if (now < this.#failFast.until) {
          if (this.#sockets.borrowed === 0 && this.#dials.count === 0)
            this.#waiters.rejectAll(this.#failFast.error(now));
          this.#reaper.arm(this.#failFast.until);
          return;
        }
      }
      if (!this.#host.takeSlot(this)) return;
      this.#dials.start();
    }
  }

  /** How many sockets should be coming: one per waiter, or enough to keep minIdle warm. */
  #wanted(): number {
    return Math.max(this.#waiters.pending, this.#s.minIdle - this.#idle.length - this.#sockets.borrowed);
  }

  /** A dial connected: pools the socket, unless it was abandoned and no slot is left for it. */
  #onDialed(conn: Connection, counted: boolean): void {
    if (!counted && (this.#closing || this.open >= this.#s.maxPerEndpoint || !this.#host.takeSlot(this))) {
      // Connected just as it was abandoned, and its slot is gone: drop it.
      conn.destroy();
      this.#settle();
      return;
    }
    this.#failFast.succeeded();
    const now = Date.now();
    const jitter = Math.random() * this.#s.lifetimeJitter;
    const record = this.#sockets.add(conn, now + this.#s.maxLifetime - jitter, this.#onIdleEvent, this.#onCollected);
    this.#host.track(conn, record);
    this.#counters.recordCreate();
    this.#host.emit("create", conn, this.key);
    this.#offer(record, conn, now);
    this.#settle();
  }

  /** A dial failed for good; a counted one has given its slot back. */
  #onDialFailed(err: unknown, counted: boolean): void {
    if (counted) {
      this.#failFast.failed();
      this.#reaper.arm(this.#failFast.until); // to leave the map once the window ends
      // The failure goes to the oldest waiter at once; the rest wait for sockets in use or
      // get EndpointUnavailableError from #pump while the window lasts.
      const w = this.#waiters.shift(true);
      if (w !== undefined) w.reject(err);
    }
    this.#settle();
  }

  readonly #onIdleEvent = (record: PooledSocket): void => {
    if (this.#idle.evict(record)) this.#settle();
  };

  readonly #onCollected = (record: PooledSocket): void => {
    if (record.state !== "borrowed") return;
    const stack = record.lease?.stack;
    const heldMs = Date.now() - (record.lease?.since ?? 0);
    this.#destroy(record, undefined, "leak", undefined, false);
    this.#host.emit("leak", { endpoint: this.key, stack, heldMs, collected: true });
    this.#settle();
  };

  /** A waiter timed out or was aborted. */
  #onCancelled(err: Error): void {
    if (err instanceof AcquireTimeoutError) this.#counters.recordTimeout();
    // A dial nobody needs any more is abandoned: its half-made socket is destroyed.
    this.#dials.trim(this.#wanted(), err);
    this.#settle();
  }

  /** Retires idle sockets past idleTimeout (down to minIdle) or lifetime, then re-arms. */
  #reap(): void {
    this.#reaper.arm(this.#idle.retireDue(Date.now(), this.#s.idleTimeout, this.#s.minIdle));
    this.#settle();
  }

  /** After an event: start dials, resolve close() once drained, leave the map once empty. */
  #settle(): void {
    this.#pump();
    this.#check();
    if (this.#sockets.borrowed === 0 && this.#dials.count === 0 && this.#drained.length > 0) {
      for (const resolve of this.#drained.splice(0)) resolve();
    }
    if (this.open === 0 && this.#waiters.pending === 0 && this.#s.minIdle === 0 && Date.now() >= this.#failFast.until) {
      this.#reaper.disarm();
      this.#timeouts.disarm();
      this.#host.forget(this);
    }
  }

  /** The pool's load, for timeout messages: "2/5 borrowed, 1 dialing, 3 waiting". */
  #detail(): string {
    return `${this.#sockets.borrowed}/${this.#s.maxPerEndpoint} borrowed, ${this.#dials.count} dialing, ${this.#waiters.pending} waiting`;
  }

  #check(): void {
    if (!checkingInvariants) return;
    checkEndpointPool({
      key: this.key,
      maxPerEndpoint: this.#s.maxPerEndpoint,
      idle: this.#idle.records,
      sockets: this.#sockets.all,
      borrowedCount: this.#sockets.borrowed,
      dialing: this.#dials.count,
      waiters: this.#waiters,
    });
  }
}
