import { EventEmitter } from "node:events";
import type { Connection } from "../connection/connection.js";
import { traces } from "../diagnostics.js";
import { type Endpoint, parseEndpoint } from "../endpoint.js";
import { NotBorrowedError, PoolClosedError } from "../errors.js";
import type { WaitOptions } from "../internal/cancel.js";
import { deferred } from "../internal/deferred.js";
import { validateOptions } from "../internal/validate.js";
import { SocketBudget } from "./budget.js";
import type { PoolContext } from "./context.js";
import { EndpointPool } from "./endpoint-pool.js";
import type { PoolAcquireContext, SocketPoolEvents } from "./events.js";
import { notifier } from "./notify.js";
import { type PoolSettings, resolvePoolOptions, type SocketPoolOptions } from "./options.js";
import type { Lease, PooledSocket } from "./pooled-socket.js";
import { Service } from "./service.js";
import { Services } from "./services.js";
import { Counters, type EndpointStats, type PoolStats } from "./stats.js";
import { isServiceTarget, parseTarget, type TargetInput } from "./target.js";
import { runUse, type UseHost, type UseOptions } from "./use.js";

export interface PoolCloseOptions {
  /** How long borrowed sockets may take to come back before they are destroyed. Default 5000. */
  timeout?: number | undefined;
}

/** `open → closing → closed`: `close()` was called; every socket is closed. */
export type PoolState = "open" | "closing" | "closed";

const acquireSchema = { signal: "signal", timeout: "ms?" } as const;
const useSchema = { ...acquireSchema, retryOnStale: "boolean" } as const;
const KEY_CACHE_LIMIT = 1024;

/**
 * Sockets to many endpoints, bounded per endpoint and in total, reused most-recent-first,
 * checked before every hand-out, retired when idle or old. See docs/architecture.md.
 *
 * State:
 * - `#endpoints`: endpoint key → its pool, only while that pool has sockets, waiters, warm
 *   sockets to keep or a fail-fast window running (an empty pool leaves the map).
 * - `#keys`: endpoint strings already parsed → key (bounded cache; cleared when full).
 * - `#services`: the services of replicas, by key and by the strings that named them
 *   ({@link Services}). A service's replicas are ordinary endpoints in `#endpoints`.
 * - `#records`: every socket this pool opened → its record (weak: never keeps one alive).
 * - `#budget`: slots under maxSockets across endpoints. `#total`: cumulative counters, kept
 *   when endpoints leave the map.
 * - `#state` (see {@link PoolState}); `#closed` resolves once closed. `#graceful`: sockets
 *   sent FIN whose close is still under way.
 */
export class SocketPool extends EventEmitter<SocketPoolEvents> implements AsyncDisposable {
  readonly #s: PoolSettings;
  readonly #endpoints = new Map<string, EndpointPool>();
  readonly #keys = new Map<string, string>();
  readonly #services: Services;
  readonly #records = new WeakMap<Connection, PooledSocket>();
  readonly #total = new Counters();
  readonly #graceful = new Set<Connection>();
  readonly #budget: SocketBudget;
  readonly #ctx: PoolContext;
  #state: PoolState = "open";
  #closing: Promise<void> | undefined;
  readonly #closed = deferred<void>();

  /** Throws InvalidArgumentError naming the option and value when an option is bad. */
  constructor(options?: SocketPoolOptions) {
    super();
    this.#s = resolvePoolOptions(options);
    this.#budget = new SocketBudget(this.#s.maxSockets, () => this.#endpoints.values());
    const notify = notifier(this);
    this.#ctx = {
      settings: this.#s,
      clock: this.#s.clock,
      total: this.#total,
      budget: this.#budget,
      track: (conn, record) => this.#records.set(conn, record),
      closing: (conn) => {
        this.#graceful.add(conn);
        conn.closed.then(() => this.#graceful.delete(conn));
      },
      forget: (pool) => {
        if (this.#endpoints.get(pool.key) === pool) this.#endpoints.delete(pool.key);
      },
      emit: notify.emit,
      listens: notify.listens,
    };
    const pool = this;
    this.#services = new Services({
      settings: this.#s,
      clock: this.#s.clock,
      get open() {
        return pool.#state === "open";
      },
      poolFor: (endpoint) => this.#poolFor(endpoint),
      leaseOf: (conn) => this.#records.get(conn)?.lease,
      closeIdle: (endpoint) => this.#endpoints.get(endpoint.key)?.closeIdle(),
      emit: notify.emit,
    });
  }

  get state(): PoolState {
    return this.#state;
  }

  /** Resolves once `close()` has finished: every socket is closed. Never rejects. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /**
   * Borrows a connection to `target`: a healthy idle one (most recently used first), else a
   * new one once the endpoint has a free slot; waiters are served first come, first served.
   * Give it back with `release()` or `await using`; `isReused(conn)` tells whether it served
   * before. Rejects with InvalidEndpointError, InvalidArgumentError, PoolClosedError,
   * QueueFullError (maxWaiting reached), EndpointUnavailableError (failing fast after connect
   * failures; cause: the last one), ConnectError or ConnectTimeoutError (the dial made for
   * this acquire failed), AcquireTimeoutError after `timeout` (default acquireTimeout; cause:
   * the last dial error), or AbortError when `signal` aborts (cause: its reason). A rejected
   * acquire leaves nothing behind.
   *
   * A service target (a list, `srv:NAME`, `dns:HOST:PORT`: see {@link parseTarget}) borrows
   * from one of its replicas, chosen by load and weight; a connect failure there moves on to
   * another replica within the same deadline, and when every replica failed the acquire
   * rejects with ServiceUnavailableError naming each one and its last error. The first
   * acquire of a `srv:`/`dns:` target waits for its resolution; one that fails rejects with
   * ServiceUnavailableError (cause: the resolver's error).
   */
  acquire(target: TargetInput, options?: WaitOptions): Promise<Connection> {
    return this.#tracedAcquire(target, options, false);
  }

  /**
   * Gives a borrowed connection back. A healthy one goes to the next waiter or the idle
   * stack; one that is closed, half-closed, errored, dirty (a read or write failed or was cut
   * short), busy, holding unread bytes, past its lifetime or uses is destroyed. Resolves at
   * once. Rejects with NotBorrowedError when the connection is not lent by this pool now
   * (a double release); the pool is left as it was.
   */
  release(conn: Connection): Promise<void> {
    const record = this.#records.get(conn);
    const lease = record?.lease;
    if (record === undefined || lease === undefined || record.state !== "borrowed") {
      if (this.#state !== "open" && record?.state === "gone") return Promise.resolve();
      return Promise.reject(new NotBorrowedError("release", conn.where));
    }
    return lease.owner.releaseLease(lease, conn);
  }

  /** Destroys a borrowed connection at once (its slot frees up). Throws NotBorrowedError otherwise. */
  destroy(conn: Connection, err?: Error): void {
    const lease = this.#leaseOf(conn, "destroy");
    (lease.owner as EndpointPool).destroyLent(lease, conn, "user", err);
  }

  /** Whether a borrowed connection served a borrower before this one. Throws NotBorrowedError otherwise. */
  isReused(conn: Connection): boolean {
    return this.#leaseOf(conn, "isReused").reused;
  }

  /**
   * Runs `fn` with a borrowed connection and releases it afterwards; if `fn` throws, the
   * connection is destroyed, not returned. If the socket was reused and died before any
   * reply byte arrived, `fn` runs once more on a fresh socket when `retryOnStale` is set or
   * nothing was written (counted in `stats().retries`). An abort of `signal` while `fn` runs
   * destroys the connection, so its pending reads reject with AbortError (`isReused(conn)`
   * tells `fn` whether its socket served before). Resolves with what `fn` returns; rejects
   * with what acquire() rejects with, or what `fn` throws.
   */
  use<T>(target: TargetInput, fn: (conn: Connection) => Promise<T>, options?: UseOptions): Promise<T> {
    let service: Service | undefined;
    try {
      if (options !== undefined) validateOptions("use options", options, useSchema);
      if (this.#state === "open") service = this.#serviceOf(target);
    } catch (err) {
      return Promise.reject(err);
    }
    if (service !== undefined) return runUse(this.#serviceUseHost(service), fn, options);
    return runUse(
      {
        acquire: (acquireOptions, retryOf) => this.#tracedAcquire(target, acquireOptions, retryOf !== undefined),
        leaseOf: (conn) => this.#leaseOf(conn, "use"),
        discard: (lease, conn, reason, err) => {
          if (!lease.spent) (lease.owner as EndpointPool).destroyLent(lease, conn, reason, err);
        },
        retried: (lease) => (lease.owner as EndpointPool).recordRetry(),
        succeeded: undefined,
        anotherReplica: false,
      },
      fn,
      options,
    );
  }

  /**
   * Counters and gauges per endpoint (by key) and in total; totals survive endpoints leaving.
   * `services`: each service of replicas by its key, with each replica's state and counts.
   */
  stats(): PoolStats {
    const services = this.#services.stats();
    const endpoints: Record<string, EndpointStats> = {};
    const gauges = { idle: 0, borrowed: 0, dialing: 0, pending: 0 };
    for (const [key, pool] of this.#endpoints) {
      const s = pool.stats();
      endpoints[key] = s;
      gauges.idle += s.idle;
      gauges.borrowed += s.borrowed;
      gauges.dialing += s.dialing;
      gauges.pending += s.pending;
    }
    return { ...this.#total.snapshot(gauges), endpoints, services };
  }

  /**
   * Shuts down: rejects queued and new acquires with PoolClosedError, aborts dials, closes
   * idle sockets, waits up to `timeout` for borrowed sockets to come back (they are closed as
   * they do) and then destroys the rest. Resolves once every socket is closed. Idempotent:
   * every caller gets the same promise, which never rejects.
   */
  close(options?: PoolCloseOptions): Promise<void> {
    if (this.#closing) return this.#closing;
    validateOptions("close options", options, { timeout: "ms?" });
    this.#state = "closing";
    this.#budget.stop();
    this.#services.stop();
    this.#closing = this.#shutdown(options?.timeout ?? 5000).then(() => {
      this.#state = "closed";
      this.#closed.resolve();
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** An acquire, traced on the `sockpool:pool:acquire` tracing channel while it has subscribers. */
  #tracedAcquire(target: TargetInput, options: WaitOptions | undefined, fresh: boolean): Promise<Connection> {
    if (!traces.poolAcquire.hasSubscribers) return this.#acquire(target, options, fresh);
    const context: PoolAcquireContext = { target };
    return traces.poolAcquire.tracePromise(this.#acquire, context, this, target, options, fresh);
  }

  #acquire(target: TargetInput, options: WaitOptions | undefined, fresh: boolean): Promise<Connection> {
    if (this.#state !== "open") return Promise.reject(new PoolClosedError("acquire"));
    let pool: EndpointPool | undefined;
    try {
      if (options !== undefined) validateOptions("acquire options", options, acquireSchema);
      pool = this.#cachedPool(target);
      if (pool === undefined) {
        const resolved = this.#target(target);
        if (resolved instanceof Service) return resolved.acquire(options, this.#stack());
        pool = this.#poolFor(resolved);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return pool.acquire(options, this.#stack(), fresh);
  }

  /** The acquire's stack, kept for leak reports when `leakWarningAfter` is set. */
  #stack(): string | undefined {
    return this.#s.leakWarningAfter === undefined ? undefined : new Error("acquired here").stack;
  }

  /** The use() policy's view of a service: retries go to another replica, verdicts to the replica. */
  #serviceUseHost(service: Service): UseHost {
    return {
      acquire: (options, retryOf) => {
        if (this.#state !== "open") return Promise.reject(new PoolClosedError("acquire"));
        if (!traces.poolAcquire.hasSubscribers) return service.acquire(options, this.#stack(), retryOf);
        const context: PoolAcquireContext = { target: service.key };
        return traces.poolAcquire.tracePromise(() => service.acquire(options, this.#stack(), retryOf), context);
      },
      leaseOf: (conn) => this.#leaseOf(conn, "use"),
      discard: (lease, conn, reason, err, early) => {
        if (early) service.judge(lease, "failed");
        if (!lease.spent) (lease.owner as EndpointPool).destroyLent(lease, conn, reason, err);
      },
      retried: (lease) => (lease.owner as EndpointPool).recordRetry(),
      succeeded: (lease) => service.judge(lease, "ok"),
      anotherReplica: true,
    };
  }

  #leaseOf(conn: Connection, operation: string): Lease {
    const lease = this.#records.get(conn)?.lease;
    if (lease === undefined) throw new NotBorrowedError(operation, conn.where);
    return lease;
  }

  async #shutdown(timeout: number): Promise<void> {
    const clock = this.#s.clock;
    const deadline = deferred<false>();
    const timer = clock.setTimer(() => deadline.resolve(false), timeout, true);
    try {
      const pools = [...this.#endpoints.values()];
      const drained = Promise.all(pools.map((p) => p.close())).then(() => true as const);
      if (!(await Promise.race([drained, deadline.promise]))) for (const p of pools) p.destroyBorrowed();
      await drained;
      const closes = Promise.all([...this.#graceful].map((c) => c.closed)).then(() => true as const);
      if (!(await Promise.race([closes, deadline.promise]))) for (const c of this.#graceful) c.destroy();
      await closes;
    } finally {
      clock.clearTimer(timer);
    }
  }

  /** The pool of an endpoint string seen before, if it is in the map: the hot path. */
  #cachedPool(target: TargetInput): EndpointPool | undefined {
    const cached = typeof target === "string" ? this.#keys.get(target) : undefined;
    return cached === undefined ? undefined : this.#endpoints.get(cached);
  }

  /** The service `target` names, or undefined when it is one endpoint. */
  #serviceOf(target: TargetInput): Service | undefined {
    if (typeof target === "string") {
      const known = this.#services.cached(target);
      if (known !== undefined || this.#keys.has(target)) return known; // no parse for a known string
    } else if (!Array.isArray(target)) return undefined; // an endpoint object
    const resolved = this.#target(target);
    return resolved instanceof Service ? resolved : undefined;
  }

  /**
   * The service `target` names (made on first use), or its endpoint; endpoint strings are
   * cached in `#keys`, service strings in `#services`. Throws InvalidEndpointError.
   */
  #target(target: TargetInput): Service | Endpoint {
    if (typeof target === "string") {
      const known = this.#services.cached(target);
      if (known !== undefined) return known;
      if (this.#keys.has(target)) return parseEndpoint(target);
    }
    const parsed = parseTarget(target);
    if (isServiceTarget(parsed)) return this.#services.serviceFor(parsed, target);
    if (typeof target === "string") {
      if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.clear();
      this.#keys.set(target, parsed.key);
    }
    return parsed.endpoint;
  }

  /** The endpoint pool of `ep`, made (and warmed, with minIdlePerEndpoint) if missing. */
  #poolFor(ep: Endpoint): EndpointPool {
    let pool = this.#endpoints.get(ep.key);
    if (pool === undefined) {
      pool = new EndpointPool(ep, this.#ctx);
      this.#endpoints.set(ep.key, pool);
      if (this.#s.minIdlePerEndpoint > 0) pool.pump(); // warm sockets
    }
    return pool;
  }
}
