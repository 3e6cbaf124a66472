import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { AbortError, AcquireTimeoutError, NotBorrowedError, PoolClosedError, QueueFullError } from "../errors.js";
import { armCancel, type WaitOptions } from "../internal/cancel.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { dialWithRetries, FailFast } from "./dial.js";
import {
  idleProblem,
  Lease,
  type LeaseOwner,
  PooledSocket,
  releaseProblem,
  type Validate,
  validated,
} from "./lease.js";
import type { PoolSettings } from "./options.js";
import { dueForRetirement, Reaper } from "./reaper.js";
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

/** Recovers the slot of a borrowed connection collected without release. */
const collected = new FinalizationRegistry<PooledSocket>((record) => record.onCollected());

/**
 * One bounded pool for one endpoint.
 *
 * State:
 * - `#idle`: idle sockets, most recently used LAST (a stack: pop reuses MRU, so the surplus
 *   ages out at the bottom, where `idleSince` is oldest).
 * - `#sockets`: every open socket (idle or borrowed); `#borrowedCount`: how many are lent
 *   out. `#dials`: dials in progress, oldest first (one
 *   AbortController each). `#waiters`: queued acquires (see {@link WaiterQueue}); retries
 *   that want a fresh socket are served by new dials only.
 * - `#failFast`: consecutive dial failures, the fail-fast window and the last dial error.
 * - `#closing`: final; nothing is lent or pooled after it.
 * Invariants at every synchronous boundary: open = idle + borrowed + dialing ≤ maxPerEndpoint;
 * a socket is in exactly one of idle or borrowed; if a (non-fresh) acquire waits, nothing is
 * idle; the counts match the waiters whose state is "waiting".
 */
export class EndpointPool implements LeaseOwner {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly #host: PoolHost;
  readonly #s: PoolSettings;
  readonly #counters = new Counters();
  readonly #idle: PooledSocket[] = [];
  readonly #sockets = new Set<PooledSocket>();
  #borrowedCount = 0;
  readonly #dials: AbortController[] = [];
  readonly #waiters = new WaiterQueue();
  readonly #failFast: FailFast;
  #closing = false;
  readonly #reaper = new Reaper(() => this.#reap());
  readonly #expiry = new Reaper(() => this.#expireWaiters());
  readonly #drained: Array<() => void> = [];

  constructor(endpoint: Endpoint, host: PoolHost) {
    this.endpoint = endpoint;
    this.key = endpoint.key;
    this.#host = host;
    this.#s = host.settings;
    this.#failFast = new FailFast(this.key, this.#s.failFastWindow, this.#s.failFastMaxWindow);
  }

  get open(): number {
    return this.#idle.length + this.#borrowedCount + this.#dials.length;
  }
  get idleCount(): number {
    return this.#idle.length;
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
    const record = fresh ? undefined : this.#takeIdle(now);
    if (record !== undefined) {
      const validate = this.#s.validate !== undefined && now - record.idleSince >= this.#s.validateAfter;
      const conn = this.#lend(record, now, 0, stack);
      this.#check();
      return validate ? this.#validate(conn, record, options, stack) : Promise.resolve(conn);
    }
    if (now < this.#failFast.until && this.#borrowedCount === 0 && this.#dials.length === 0) {
      return Promise.reject(this.#failFast.error(now));
    }
    if (this.#waiters.pending >= this.#s.maxWaiting)
      return Promise.reject(new QueueFullError(this.key, this.#s.maxWaiting));
    const w = new Waiter(now, stack, fresh);
    // A retry after a stale socket wants a new one: make room by closing the oldest idle.
    if (fresh && this.open >= this.#s.maxPerEndpoint) this.#evictOldest("replaced");
    this.#waiters.push(w);
    if (options?.signal === undefined && options?.timeout === undefined && !fresh) {
      // The default timeout: deadlines grow in queue order, so one shared timer serves all.
      w.deadline = now + this.#s.acquireTimeout;
      this.#expiry.arm(w.deadline);
    } else {
      w.disarm = armCancel(
        `acquire from ${this.key}`,
        { signal: options?.signal, timeout: options?.timeout ?? this.#s.acquireTimeout },
        (ms) => new AcquireTimeoutError(this.key, ms, this.#detail(), this.#failFast.errorSince(w.since)),
        (err) => this.#cancel(w, err),
      );
    }
    this.#pump();
    this.#check();
    return w.promise;
  }

  /** Runs the validate hook on a socket just lent, under the acquire's signal and timeout. */
  #validate(conn: Connection, record: PooledSocket, options: WaitOptions | undefined, stack: string | undefined) {
    const limits = {
      operation: `acquire from ${this.key}`,
      options: { signal: options?.signal, timeout: options?.timeout ?? this.#s.acquireTimeout },
      timeoutError: (ms: number) => new AcquireTimeoutError(this.key, ms, `validating; ${this.#detail()}`),
    };
    const retry = () => this.acquire(options, stack);
    return validated(conn, record, this.#s.validate as Validate, limits, retry, (lease, err) => {
      if (err instanceof AcquireTimeoutError) {
        this.#counters.timeouts++;
        this.#host.total.timeouts++;
      }
      this.destroyLent(lease, conn, "validation", err);
    });
  }

  /** Takes a lent socket back: pooled if healthy, else destroyed with the reason. */
  releaseLease(lease: Lease, conn: Connection): Promise<void> {
    const record = lease.record;
    if (lease.spent || record.state !== "borrowed" || record.lease !== lease) {
      return Promise.reject(new NotBorrowedError("release", conn.where));
    }
    this.#endLease(record);
    this.#counters.released++;
    this.#host.total.released++;
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
    const record = lease.record;
    if (lease.spent || record.state !== "borrowed" || record.lease !== lease) {
      throw new NotBorrowedError("destroy", conn.where);
    }
    this.#endLease(record);
    // Pending reads and writes reject with `err` (an abort, say) rather than a bare close.
    if (err instanceof Error && conn.state !== "closed") conn.destroy(err);
    this.#destroy(record, conn, reason, err, false);
    this.#settle();
  }

  /** Called by the SocketPool when a slot under maxSockets frees up. */
  pump(): void {
    this.#pump();
    this.#check();
  }

  /** Closes the oldest idle socket to make room elsewhere; false if nothing is idle. */
  evictIdle(): boolean {
    if (!this.#evictOldest("max-sockets")) return false;
    queueMicrotask(() => this.#settle());
    return true;
  }

  #evictOldest(reason: DestroyReason): boolean {
    const record = this.#idle.shift();
    if (record === undefined) return false;
    this.#destroy(record, record.conn, reason, undefined, true);
    return true;
  }

  /** Starts minIdlePerEndpoint warm dials. */
  warm(): void {
    this.#pump();
    this.#check();
  }

  /**
   * Stops lending: rejects waiters with PoolClosedError, aborts dials, closes idle sockets.
   * Resolves once no socket is borrowed or dialing.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#reaper.stop();
    this.#expiry.stop();
    this.#waiters.rejectAll(new PoolClosedError(`acquire from ${this.key}`));
    for (const ac of [...this.#dials]) this.#abortDial(ac, new PoolClosedError(`connect to ${this.key}`));
    for (const record of this.#idle.splice(0)) this.#destroy(record, record.conn, "pool-closed", undefined, true);
    this.#check();
    if (this.#borrowedCount === 0 && this.#dials.length === 0) return RESOLVED;
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** After the close deadline: destroys whatever is still borrowed. */
  destroyBorrowed(): void {
    for (const record of [...this.#sockets]) {
      if (record.state !== "borrowed") continue;
      this.#endLease(record);
      this.#destroy(record, record.ref.deref(), "pool-closed", undefined, false);
    }
    this.#settle();
  }

  stats(): EndpointStats {
    return this.#counters.snapshot({
      idle: this.#idle.length,
      borrowed: this.#borrowedCount,
      dialing: this.#dials.length,
      pending: this.#waiters.pending,
    });
  }

  #takeIdle(now: number): PooledSocket | undefined {
    for (let record = this.#idle.pop(); record !== undefined; record = this.#idle.pop()) {
      const problem = idleProblem(record.conn as Connection, record, now);
      if (problem === undefined) return record;
      this.#destroy(record, record.conn, problem, record.conn?.error, problem === "lifetime");
    }
    return undefined;
  }

  #lend(record: PooledSocket, now: number, waited: number, stack: string | undefined): Connection {
    const conn = record.conn as Connection;
    record.conn = undefined;
    if (record.parked) {
      record.parked = false;
      conn.socket.ref();
    }
    record.state = "borrowed";
    const reused = record.uses > 0;
    record.uses++;
    this.#borrowedCount++;
    const lease = new Lease(record, this, now);
    record.lease = lease;
    if (this.#s.leakWarningAfter !== undefined) this.#watchLeak(lease, stack);
    conn.lend(lease, reused);
    const c = this.#counters;
    const t = this.#host.total;
    c.acquired++;
    t.acquired++;
    if (reused) {
      c.reused++;
      t.reused++;
    }
    c.recordWait(waited);
    t.recordWait(waited);
    this.#host.emit("acquire", conn, this.key, reused);
    return conn;
  }

  #watchLeak(lease: Lease, stack: string | undefined): void {
    lease.stack = stack;
    const after = this.#s.leakWarningAfter as number;
    lease.leakTimer = setTimeout(() => {
      this.#host.emit("leak", { endpoint: this.key, stack, heldMs: Date.now() - lease.since, collected: false });
    }, after);
    lease.leakTimer.unref();
  }

  /**
   * Serves the oldest waiter (a new socket goes to retries wanting a fresh one first), else
   * makes the socket idle. Returns false when it closed the socket instead: past maxIdle, or
   * to make room for a fresh dial, or while closing.
   */
  #offer(record: PooledSocket, conn: Connection, now: number): boolean {
    record.conn = conn;
    const w = this.#waiters.shift(record.uses === 0);
    if (w !== undefined) {
      w.deliver(this.#lend(record, now, now - w.since, w.stack));
      return true;
    }
    if (this.#closing || this.#idle.length >= this.#s.maxIdle || this.#waiters.freshPending > 0) {
      const reason = this.#closing ? "pool-closed" : this.#waiters.freshPending > 0 ? "replaced" : "max-idle";
      this.#destroy(record, conn, reason, undefined, true);
      return false;
    }
    record.state = "idle";
    record.idleSince = now;
    record.parked = true;
    conn.socket.unref(); // an idle socket never keeps the process alive (ref'd again when lent)
    this.#idle.push(record);
    this.#reaper.arm(Math.min(now + this.#s.idleTimeout, record.expiresAt));
    return true;
  }

  #endLease(record: PooledSocket): void {
    if (record.state !== "borrowed") return;
    record.lease?.end();
    record.lease = undefined;
    this.#borrowedCount--;
    record.state = "idle"; // transient: the caller pools or destroys it before returning
  }

  /** Removes a socket from the pool for good, closing it gracefully or at once. */
  #destroy(
    record: PooledSocket,
    conn: Connection | undefined,
    reason: DestroyReason,
    err: unknown,
    graceful: boolean,
  ): void {
    if (record.state === "gone") return;
    if (record.state === "borrowed") this.#endLease(record);
    record.state = "gone";
    this.#sockets.delete(record);
    record.conn = undefined;
    collected.unregister(record);
    if (conn !== undefined && conn.state !== "closed") {
      this.#host.closing(conn); // pool.close() waits until it has closed
      if (graceful && conn.state === "open") {
        conn.socket.ref(); // close() may be awaited: let the FIN exchange finish
        void conn.close();
      } else conn.destroy();
    }
    this.#counters.recordDestroy(reason);
    this.#host.total.recordDestroy(reason);
    this.#host.giveSlot();
    this.#host.emit("destroy", conn, this.key, reason, err);
  }

  /** Starts dials while waiters outnumber them (and minIdle asks for warm sockets). */
  #pump(): void {
    for (;;) {
      if (this.#closing) return;
      const want = Math.max(this.#waiters.pending, this.#s.minIdle - this.#idle.length - this.#borrowedCount);
      if (want <= this.#dials.length || this.open >= this.#s.maxPerEndpoint) return;
      if (this.#failFast.until > 0) {
        const now = Date.now();
        if (now < this.#failFast.until) {
          if (this.#borrowedCount === 0 && this.#dials.length === 0) this.#waiters.rejectAll(this.#failFast.error(now));
          this.#reaper.arm(this.#failFast.until);
          return;
        }
      }
      if (!this.#host.takeSlot(this)) return;
      this.#dial();
    }
  }

  #dial(): void {
    const ac = new AbortController();
    this.#dials.push(ac);
    dialWithRetries(this.endpoint, this.#s, ac.signal, (err) => {
      this.#counters.connectErrors++;
      this.#host.total.connectErrors++;
      this.#failFast.noteError(err);
    }).then(
      (conn) => this.#onDialed(ac, conn),
      (err) => this.#onDialFailed(ac, err),
    );
  }

  /** Abandons a dial: it stops counting at once (`connect` destroys its socket synchronously). */
  #abortDial(ac: AbortController, reason: unknown): void {
    this.#dials.splice(this.#dials.indexOf(ac), 1);
    this.#host.giveSlot();
    ac.abort(reason);
  }

  #onDialed(ac: AbortController, conn: Connection): void {
    const i = this.#dials.indexOf(ac);
    if (i >= 0) this.#dials.splice(i, 1);
    else if (this.#closing || this.open >= this.#s.maxPerEndpoint || !this.#host.takeSlot(this)) {
      // Connected just as it was abandoned, and its slot is gone: drop it.
      conn.destroy();
      this.#settle();
      return;
    }
    this.#failFast.succeeded();
    const now = Date.now();
    const jitter = Math.random() * this.#s.lifetimeJitter;
    const record = new PooledSocket(conn, now + this.#s.maxLifetime - jitter);
    record.onIdleEvent = () => this.#onIdleEvent(record);
    record.onCollected = () => this.#onCollected(record);
    collected.register(conn, record, record);
    // Watched for its whole life; the listener acts only while the socket is idle. (The
    // unwatch function is not kept: it holds the connection, which must stay collectable.)
    conn.watchIdle(record.onIdleEvent);
    this.#sockets.add(record);
    this.#host.track(conn, record);
    this.#counters.created++;
    this.#host.total.created++;
    this.#host.emit("create", conn, this.key);
    this.#offer(record, conn, now);
    this.#settle();
  }

  #onDialFailed(ac: AbortController, err: unknown): void {
    const i = this.#dials.indexOf(ac);
    if (i >= 0) {
      this.#dials.splice(i, 1);
      this.#host.giveSlot();
      this.#failFast.failed();
      this.#reaper.arm(this.#failFast.until); // to leave the map once the window ends
      // The failure goes to the oldest waiter at once; the rest wait for sockets in use or
      // get EndpointUnavailableError from #pump while the window lasts.
      const w = this.#waiters.shift(true);
      if (w !== undefined) w.reject(err);
    }
    this.#settle();
  }

  #onIdleEvent(record: PooledSocket): void {
    // Only a socket sitting in the idle stack (not one between a borrower and its fate).
    if (record.state !== "idle" || !record.parked) return;
    const conn = record.conn as Connection;
    const problem = idleProblem(conn, record, 0) ?? "peer-closed";
    this.#idle.splice(this.#idle.indexOf(record), 1);
    this.#destroy(record, conn, problem, conn.error, false);
    this.#settle();
  }

  #onCollected(record: PooledSocket): void {
    if (record.state !== "borrowed") return;
    const stack = record.lease?.stack;
    const heldMs = Date.now() - (record.lease?.since ?? 0);
    this.#destroy(record, undefined, "leak", undefined, false);
    this.#host.emit("leak", { endpoint: this.key, stack, heldMs, collected: true });
    this.#settle();
  }

  #cancel(w: Waiter, err: Error): void {
    if (!w.reject(err)) return;
    this.#waiters.settled(w);
    if (err instanceof AcquireTimeoutError) {
      this.#counters.timeouts++;
      this.#host.total.timeouts++;
    }
    // A dial nobody needs any more is abandoned: its half-made socket is destroyed.
    const want = Math.max(this.#waiters.pending, this.#s.minIdle - this.#idle.length - this.#borrowedCount);
    const surplus = this.#dials[this.#dials.length - 1];
    if (this.#dials.length > want && surplus !== undefined) this.#abortDial(surplus, err);
    this.#settle();
  }

  /** Times out waiters on the default timeout whose deadline passed; re-arms for the next. */
  #expireWaiters(): void {
    const { expired, next } = this.#waiters.expired(Date.now());
    this.#expiry.arm(next);
    for (const w of expired) {
      const err = new AcquireTimeoutError(
        this.key,
        this.#s.acquireTimeout,
        this.#detail(),
        this.#failFast.errorSince(w.since),
      );
      this.#cancel(w, err);
    }
  }

  /** Retires idle sockets past idleTimeout (down to minIdle) or lifetime, then re-arms. */
  #reap(): void {
    const { retire, next } = dueForRetirement(this.#idle, Date.now(), this.#s.idleTimeout, this.#s.minIdle);
    for (const [record, reason] of retire) this.#destroy(record, record.conn, reason, undefined, true);
    this.#reaper.arm(next);
    this.#settle();
  }

  /** After an event: start dials, resolve close() once drained, leave the map once empty. */
  #settle(): void {
    this.#pump();
    this.#check();
    if (this.#borrowedCount === 0 && this.#dials.length === 0 && this.#drained.length > 0) {
      for (const resolve of this.#drained.splice(0)) resolve();
    }
    if (this.open === 0 && this.#waiters.pending === 0 && this.#s.minIdle === 0 && Date.now() >= this.#failFast.until) {
      this.#reaper.disarm();
      this.#expiry.disarm();
      this.#host.forget(this);
    }
  }

  /** The pool's load, for timeout messages: "2/5 borrowed, 1 dialing, 3 waiting". */
  #detail(): string {
    return `${this.#borrowedCount}/${this.#s.maxPerEndpoint} borrowed, ${this.#dials.length} dialing, ${this.#waiters.pending} waiting`;
  }

  #check(): void {
    if (!checkingInvariants) return;
    const open = this.open;
    invariant(open <= this.#s.maxPerEndpoint, `${this.key}: open ${open} > max ${this.#s.maxPerEndpoint}`);
    const normal = this.#waiters.pending - this.#waiters.freshPending;
    invariant(normal === 0 || this.#idle.length === 0, `${this.key}: waiters while sockets are idle`);
    this.#waiters.check(this.key);
    for (const r of this.#idle) {
      invariant(r.state === "idle" && r.conn !== undefined && this.#sockets.has(r), `${this.key}: bad idle socket`);
    }
    let borrowed = 0;
    for (const r of this.#sockets) {
      if (r.state === "borrowed") {
        borrowed++;
        invariant(r.lease !== undefined && !r.lease.spent, `${this.key}: a borrowed socket without a live lease`);
      } else invariant(r.state === "idle" && r.lease === undefined, `${this.key}: a ${r.state} socket is tracked`);
    }
    invariant(borrowed === this.#borrowedCount, `${this.key}: ${borrowed} borrowed, counted ${this.#borrowedCount}`);
    invariant(this.#sockets.size === this.#idle.length + borrowed, `${this.key}: a socket is idle twice or lost`);
    invariant(new Set(this.#idle).size === this.#idle.length, `${this.key}: a socket is idle twice`);
  }
}
