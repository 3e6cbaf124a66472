import { type Connection, watchIdle } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, AcquireTimeoutError, NotBorrowedError, PoolClosedError, QueueFullError } from "../errors.js";
import { armCancel, type WaitOptions } from "../internal/cancel.js";
import type { Clock } from "../internal/clock.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import type { BudgetMember } from "./budget.js";
import { checkEndpointPool } from "./check.js";
import type { PoolContext } from "./context.js";
import { DeadlineTimer } from "./deadline-timer.js";
import { type Dial, Dials, dialWithRetries } from "./dials.js";
import { FailFast } from "./fail-fast.js";
import { idleProblem, releaseProblem, type Validate, validated } from "./health.js";
import { IdleStack } from "./idle-stack.js";
import type { PoolSettings } from "./options.js";
import type { Lease, LeaseOwner, PooledSocket } from "./pooled-socket.js";
import { SocketTable } from "./socket-table.js";
import { Counters, type DestroyReason, type EndpointStats } from "./stats.js";
import { Waiter, WaiterQueue } from "./waiters.js";

const RESOLVED = Promise.resolve();

/**
 * One bounded pool for one endpoint: the state machine. It owns every field below and makes
 * every transition; its parts are plain data that never call back into it.
 *
 * State:
 * - `#sockets`: every open socket (a {@link PooledSocket}: `idle ⇄ borrowed → gone`) with
 *   the bookkeeping of each move ({@link SocketTable}). `#idle`: the idle ones, most recently
 *   used on top.
 * - `#dials`: dials in progress, oldest first, each holding a budget slot.
 * - `#waiters`: queued acquires, FIFO; retries wanting a fresh socket are served by new
 *   sockets only. Default-timeout acquires share `#expiry`; others arm their own timer.
 * - `#failFast`: consecutive dial failures, the fail-fast window and the last dial error.
 * - `#retirement`: armed for the next idle or lifetime retirement and the window's end.
 * - `#closing`: final; nothing is lent or pooled after it. `#drained`: close() callers
 *   waiting until nothing is borrowed or dialing.
 * Invariants at every synchronous boundary ({@link checkEndpointPool}): open = idle +
 * borrowed + dialing ≤ maxSocketsPerEndpoint; a socket is in exactly one of idle or borrowed;
 * if an ordinary acquire waits, nothing is idle; each socket and dial holds its slot.
 */
export class EndpointPool implements LeaseOwner, BudgetMember {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly #ctx: PoolContext;
  readonly #s: PoolSettings;
  readonly #clock: Clock;
  readonly #counters: Counters;
  readonly #sockets: SocketTable;
  readonly #idle = new IdleStack();
  readonly #dials = new Dials();
  readonly #waiters = new WaiterQueue();
  readonly #failFast: FailFast;
  readonly #retirement: DeadlineTimer;
  readonly #expiry: DeadlineTimer;
  #closing = false;
  readonly #drained: Array<() => void> = [];

  constructor(endpoint: Endpoint, ctx: PoolContext) {
    this.endpoint = endpoint;
    this.key = endpoint.key;
    this.#ctx = ctx;
    this.#s = ctx.settings;
    this.#clock = ctx.clock;
    this.#counters = new Counters(ctx.total);
    this.#sockets = new SocketTable(this.key, ctx, this.#counters);
    this.#failFast = new FailFast(this.key, this.#s.failFastWindow, this.#s.failFastMaxWindow);
    this.#retirement = new DeadlineTimer(this.#clock, () => this.#retireDue());
    this.#expiry = new DeadlineTimer(this.#clock, () => this.#expireWaiters());
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
    const now = this.#clock.now();
    const record = fresh ? undefined : this.#takeIdle(now);
    if (record !== undefined) {
      const conn = record.conn as Connection;
      const validate = this.#s.validate !== undefined && now - record.idleSince >= this.#s.validateAfter;
      const lease = this.#sockets.lend(record, this, now, stack);
      this.#sockets.acquired(lease, 0);
      this.#check();
      return validate ? this.#validate(conn, lease, options, stack) : Promise.resolve(conn);
    }
    if (now < this.#failFast.until && this.#sockets.borrowed === 0 && this.#dials.count === 0) {
      return Promise.reject(this.#failFast.error(now));
    }
    if (this.#waiters.pending >= this.#s.maxWaiting) {
      return Promise.reject(new QueueFullError(this.key, this.#s.maxWaiting));
    }
    const w = new Waiter(now, stack, fresh);
    // A retry after a stale socket wants a new one: make room by closing the oldest idle.
    if (fresh && this.open >= this.#s.maxSocketsPerEndpoint) this.#evictOldest("replaced");
    this.#enqueue(w, options, now);
    this.#pump();
    this.#check();
    return w.promise;
  }

  /** Takes a lent socket back: pooled if healthy, else destroyed with the reason. */
  releaseLease(lease: Lease, conn: Connection): Promise<void> {
    if (!lease.current) return Promise.reject(new NotBorrowedError("release", conn.where));
    const record = lease.record;
    const now = this.#clock.now();
    this.#sockets.endLease(record, now);
    this.#counters.recordRelease();
    if (this.#ctx.listens("release")) this.#ctx.emit("release", conn, this.key);
    let problem = this.#closing ? "pool-closed" : releaseProblem(conn, record, now, this.#s.maxUses);
    // A service's borrow: its replica counts the outcome, and a draining one wants it closed.
    if (lease.observer?.ended(lease, problem, conn.error) === true && problem === undefined) problem = "drained";
    if (problem === undefined && this.#offer(record, conn, now)) {
      this.#check(); // the hot path: nothing was destroyed, so nothing else can change
      return RESOLVED;
    }
    if (problem !== undefined) {
      const graceful = problem === "pool-closed" || problem === "lifetime" || problem === "drained";
      this.#sockets.remove(record, conn, problem, conn.error, graceful);
    }
    this.#reconcile();
    return RESOLVED;
  }

  /** Destroys a lent socket (pool.destroy, or use() whose function threw). */
  destroyLent(lease: Lease, conn: Connection, reason: DestroyReason, err?: unknown): void {
    if (!lease.current) throw new NotBorrowedError("destroy", conn.where);
    this.#sockets.endLease(lease.record);
    lease.observer?.ended(lease, reason, err ?? conn.error);
    // Pending reads and writes reject with `err` (an abort, say) rather than a bare close.
    if (err instanceof Error && conn.state !== "closed") conn.destroy(err);
    this.#sockets.remove(lease.record, conn, reason, err, false);
    this.#reconcile();
  }

  /** use() is running its function again on a fresh socket (a stale reuse). */
  recordRetry(): void {
    this.#counters.recordRetry();
  }

  /** BudgetMember: starts the dials wanted (a slot may be free, or minIdle asks for warm sockets). */
  pump(): void {
    this.#pump();
    this.#check();
  }

  /** BudgetMember: closes the oldest idle socket to make room elsewhere; false if nothing is idle. */
  evictIdle(): boolean {
    if (!this.#evictOldest("max-sockets")) return false;
    queueMicrotask(() => this.#reconcile());
    return true;
  }

  /**
   * Gracefully closes every idle socket (a service's replica is draining); borrowed sockets
   * and waiters are left alone.
   */
  closeIdle(): void {
    let closed = false;
    while (this.#evictOldest("drained")) closed = true;
    if (closed) this.#reconcile();
  }

  /** A borrowed connection was garbage-collected: its borrower dropped it unreleased. */
  collected(record: PooledSocket): void {
    if (record.state !== "borrowed") return;
    const lease = record.lease as Lease;
    const heldMs = this.#clock.now() - lease.since;
    this.#sockets.endLease(record);
    lease.observer?.ended(lease, "leak", undefined);
    this.#sockets.remove(record, undefined, "leak", undefined, false);
    this.#ctx.emit("leak", { endpoint: this.key, stack: lease.stack, heldMs, collected: true });
    this.#reconcile();
  }

  /**
   * Stops lending: rejects waiters with PoolClosedError, abandons dials, closes idle sockets.
   * Resolves once no socket is borrowed or dialing.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#retirement.stop();
    this.#expiry.stop();
    const closed = new PoolClosedError(`acquire from ${this.key}`);
    for (const w of this.#waiters.clear()) w.reject(closed);
    for (const dial of this.#dials.all()) this.#abandon(dial, new PoolClosedError(`connect to ${this.key}`));
    for (const record of this.#idle.clear()) this.#sockets.remove(record, record.conn, "pool-closed", undefined, true);
    this.#check();
    if (this.#sockets.borrowed === 0 && this.#dials.count === 0) return RESOLVED;
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** After the close deadline: destroys whatever is still borrowed. */
  destroyBorrowed(): void {
    for (const record of [...this.#sockets.all]) {
      if (record.state !== "borrowed") continue;
      const lease = record.lease as Lease;
      this.#sockets.endLease(record);
      lease.observer?.ended(lease, "pool-closed", undefined);
      this.#sockets.remove(record, record.ref.deref(), "pool-closed", undefined, false);
    }
    this.#reconcile();
  }

  stats(): EndpointStats {
    return this.#counters.snapshot({
      idle: this.#idle.length,
      borrowed: this.#sockets.borrowed,
      dialing: this.#dials.count,
      pending: this.#waiters.pending,
    });
  }

  // --- Lending -------------------------------------------------------------------------------

  /** Pops the most recently used idle socket fit to hand out, destroying unfit ones on the way. */
  #takeIdle(now: number): PooledSocket | undefined {
    for (let record = this.#idle.pop(); record !== undefined; record = this.#idle.pop()) {
      const conn = record.conn as Connection;
      const problem = idleProblem(conn, record, now);
      if (problem === undefined) return record;
      this.#sockets.remove(record, conn, problem, conn.error, problem === "lifetime");
    }
    return undefined;
  }

  /** Runs the validate hook on a socket just lent, under the acquire's signal and timeout. */
  #validate(
    conn: Connection,
    lease: Lease,
    options: WaitOptions | undefined,
    stack: string | undefined,
  ): Promise<Connection> {
    const timeoutError = (ms: number) => new AcquireTimeoutError(this.key, ms, `validating; ${this.#detail()}`);
    const limits = {
      operation: `acquire from ${this.key}`,
      options: { signal: options?.signal, timeout: options?.timeout ?? this.#s.acquireTimeout },
      clock: this.#clock,
      timeoutError,
    };
    const retry = () => this.acquire(options, stack);
    return validated(conn, lease, this.#s.validate as Validate, limits, retry, (spent, err) => {
      if (err instanceof AcquireTimeoutError) this.#timedOut(err);
      this.destroyLent(spent, conn, "validation", err);
    });
  }

  /**
   * Serves the oldest waiter (a new socket goes to retries wanting a fresh one first), else
   * parks the socket. Returns false when it closed the socket instead: past maxIdle, to make
   * room for a fresh dial, or while closing.
   */
  #offer(record: PooledSocket, conn: Connection, now: number): boolean {
    record.conn = conn;
    const w = this.#waiters.shift(record.uses === 0);
    if (w !== undefined) {
      // No user code runs between lending and delivering (the 'acquire' event comes after),
      // so a waiter the queue just gave out cannot have settled in between.
      const lease = this.#sockets.lend(record, this, now, w.stack);
      invariant(w.deliver(conn), `${this.key}: a socket was lent to an acquire that had already settled`);
      this.#sockets.acquired(lease, now - w.since);
      return true;
    }
    if (this.#closing || this.#idle.length >= this.#s.maxIdlePerEndpoint || this.#waiters.freshPending > 0) {
      const reason = this.#closing ? "pool-closed" : this.#waiters.freshPending > 0 ? "replaced" : "max-idle";
      this.#sockets.remove(record, conn, reason, undefined, true);
      return false;
    }
    this.#park(record, conn, now);
    return true;
  }

  /** Makes a socket idle: on the stack, unref'd (an idle pool never keeps the process alive). */
  #park(record: PooledSocket, conn: Connection, now: number): void {
    conn.socket.unref();
    record.parked = true;
    this.#idle.push(record, now);
    this.#retirement.arm(Math.min(now + this.#s.idleTimeout, record.expiresAt));
  }

  // --- Waiting -------------------------------------------------------------------------------

  /**
   * Queues `w` and arms its timeout and abort. An acquire on the default timeout (no signal,
   * no timeout, not a retry) shares the one expiry timer: deadlines grow in queue order, so
   * that timer only ever waits for the oldest. Any other arms its own through `armCancel`.
   */
  #enqueue(w: Waiter, options: WaitOptions | undefined, now: number): void {
    this.#waiters.push(w);
    if (options?.signal === undefined && options?.timeout === undefined && !w.fresh) {
      w.deadline = now + this.#s.acquireTimeout;
      this.#expiry.arm(w.deadline);
      return;
    }
    w.disarm = armCancel(
      `acquire from ${this.key}`,
      { signal: options?.signal, timeout: options?.timeout ?? this.#s.acquireTimeout },
      (ms) => this.#timeoutError(ms, w),
      (err) => this.#cancel(w, err),
      this.#clock,
    );
  }

  /** The expiry timer fired: times out the waiters whose deadline passed, re-arms for the next. */
  #expireWaiters(): void {
    const { expired, next } = this.#waiters.expired(this.#clock.now());
    this.#expiry.arm(next);
    for (const w of expired) this.#cancel(w, this.#timeoutError(this.#s.acquireTimeout, w));
  }

  /** A waiter timed out or was aborted: it leaves, and a dial nobody needs any more is abandoned. */
  #cancel(w: Waiter, err: Error): void {
    if (!w.reject(err)) return;
    this.#waiters.cancelled(w);
    if (err instanceof AcquireTimeoutError) this.#timedOut(err);
    const newest = this.#dials.newest();
    if (newest !== undefined && this.#dials.count > this.#wanted()) this.#abandon(newest, err);
    this.#reconcile();
  }

  #timedOut(err: AcquireTimeoutError): void {
    this.#counters.recordTimeout();
    this.#ctx.emit("acquireTimeout", err, this.key);
  }

  #timeoutError(ms: number, w: Waiter): AcquireTimeoutError {
    return new AcquireTimeoutError(this.key, ms, this.#detail(), this.#failFast.errorSince(w.since));
  }

  // --- Dialing -------------------------------------------------------------------------------

  /** Starts dials while waiters outnumber them (and minIdle asks for warm sockets). */
  #pump(): void {
    while (!this.#closing && this.#wanted() > this.#dials.count && this.open < this.#s.maxSocketsPerEndpoint) {
      if (this.#failFast.until > 0) {
        const now = this.#clock.now();
        if (now < this.#failFast.until) {
          if (this.#sockets.borrowed === 0 && this.#dials.count === 0) {
            const err = this.#failFast.error(now);
            for (const w of this.#waiters.clear()) w.reject(err);
          }
          this.#retirement.arm(this.#failFast.until);
          return;
        }
      }
      const slot = this.#ctx.budget.take(this);
      if (slot === undefined) return;
      this.#dial(this.#dials.add(slot, this.#clock.now()));
    }
  }

  /** How many sockets should be coming: one per waiter, or enough to keep minIdle warm. */
  #wanted(): number {
    return Math.max(this.#waiters.pending, this.#s.minIdlePerEndpoint - this.#idle.length - this.#sockets.borrowed);
  }

  #dial(dial: Dial): void {
    const onAttemptFailed = (err: unknown) => {
      this.#counters.recordConnectError();
      this.#failFast.noteError(err, this.#clock.now());
      this.#ctx.emit("connectError", err, this.key);
    };
    dialWithRetries(this.endpoint, this.#s, this.#clock, dial.controller.signal, onAttemptFailed).then(
      (conn) => this.#dialed(dial, conn),
      (err) => this.#dialFailed(dial, err),
    );
  }

  /** Abandons a dial: it stops counting and gives its slot back at once. */
  #abandon(dial: Dial, reason: unknown): void {
    this.#dials.remove(dial);
    dial.slot.give();
    dial.controller.abort(reason);
  }

  /** A dial connected: its slot passes to the socket, unless it was abandoned and none is left. */
  #dialed(dial: Dial, conn: Connection): void {
    const slot = this.#dials.remove(dial) ? dial.slot : this.#spareSlot();
    if (slot === undefined) {
      conn.destroy(); // connected just as it was abandoned, and no slot is free for it
      this.#reconcile();
      return;
    }
    this.#failFast.succeeded();
    const now = this.#clock.now();
    const expiresAt = now + this.#s.maxLifetime - Math.random() * this.#s.lifetimeJitter;
    const record = this.#sockets.add(conn, slot, expiresAt, now - dial.since);
    // Acts only while the socket is idle; a read in progress takes the events itself.
    watchIdle(conn, () => this.#idleEvent(record));
    this.#offer(record, conn, now);
    this.#reconcile();
  }

  /** A slot for a socket whose dial was abandoned as it connected, if there is room for it. */
  #spareSlot() {
    if (this.#closing || this.open >= this.#s.maxSocketsPerEndpoint) return undefined;
    return this.#ctx.budget.take(this);
  }

  /** A dial failed for good: the oldest waiter hears why at once; the window opens. */
  #dialFailed(dial: Dial, err: unknown): void {
    if (this.#dials.remove(dial)) {
      dial.slot.give();
      this.#failFast.failed(this.#clock.now());
      this.#retirement.arm(this.#failFast.until); // to leave the map once the window ends
      this.#waiters.shift(true)?.reject(err);
    }
    this.#reconcile();
  }

  // --- Retiring ------------------------------------------------------------------------------

  /** Bytes, EOF, an error or a close arrived on a socket: evict it if it sits idle. */
  #idleEvent(record: PooledSocket): void {
    if (record.state !== "idle" || !this.#idle.remove(record)) return;
    const conn = record.conn as Connection;
    this.#sockets.remove(record, conn, idleProblem(conn, record, 0) ?? "peer-closed", conn.error, false);
    this.#reconcile();
  }

  /** Gracefully closes the least recently used idle socket; false if none. */
  #evictOldest(reason: DestroyReason): boolean {
    const record = this.#idle.shift();
    if (record === undefined) return false;
    this.#sockets.remove(record, record.conn, reason, undefined, true);
    return true;
  }

  /** Retires idle sockets past idleTimeout (down to minIdle) or their lifetime, then re-arms. */
  #retireDue(): void {
    const { due, next } = this.#idle.takeDue(this.#clock.now(), this.#s.idleTimeout, this.#s.minIdlePerEndpoint);
    for (const [record, reason] of due) this.#sockets.remove(record, record.conn, reason, undefined, true);
    this.#retirement.arm(next);
    this.#reconcile();
  }

  /** After any event: start dials, resolve close() once drained, leave the map once empty. */
  #reconcile(): void {
    this.#pump();
    this.#check();
    if (this.#sockets.borrowed === 0 && this.#dials.count === 0 && this.#drained.length > 0) {
      for (const resolve of this.#drained.splice(0)) resolve();
    }
    const idle = this.open === 0 && this.#waiters.pending === 0 && this.#s.minIdlePerEndpoint === 0;
    if (idle && this.#clock.now() >= this.#failFast.until) {
      this.#retirement.disarm();
      this.#expiry.disarm();
      this.#ctx.budget.forget(this);
      this.#ctx.forget(this);
    }
  }

  /** The pool's load, for timeout messages: "2/5 borrowed, 1 dialing, 3 waiting". */
  #detail(): string {
    const max = this.#s.maxSocketsPerEndpoint;
    return `${this.#sockets.borrowed}/${max} borrowed, ${this.#dials.count} dialing, ${this.#waiters.pending} waiting`;
  }

  #check(): void {
    if (!checkingInvariants) return;
    checkEndpointPool({
      key: this.key,
      max: this.#s.maxSocketsPerEndpoint,
      idle: this.#idle.records,
      sockets: this.#sockets.all,
      borrowed: this.#sockets.borrowed,
      dials: this.#dials.all(),
      waiters: this.#waiters,
    });
  }
}
