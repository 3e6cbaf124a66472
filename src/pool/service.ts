import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import {
  AbortError,
  AcquireTimeoutError,
  ConnectError,
  ConnectTimeoutError,
  EndpointUnavailableError,
  PoolClosedError,
  ServiceUnavailableError,
} from "../errors.js";
import { throwIfAborted, type WaitOptions, withCancel } from "../internal/cancel.js";
import type { Clock } from "../internal/clock.js";
import { checkingInvariants } from "../internal/invariant.js";
import { chooseReplica, inPanic } from "./balancer.js";
import { Discovery, type ReplicaSpec } from "./discovery.js";
import type { EndpointPool } from "./endpoint-pool.js";
import type { SocketPoolEvents } from "./events.js";
import type { PoolSettings } from "./options.js";
import { ejectionCap, ejectionLength, isOutlier, nextStreak } from "./outliers.js";
import type { BorrowObserver, Lease } from "./pooled-socket.js";
import {
  checkReplicas,
  Replica,
  type ReplicaEvent,
  type ReplicaStats,
  type ResolveErrorEvent,
  type ServiceStats,
  unavailable,
} from "./replica.js";
import type { DestroyReason } from "./stats.js";
import type { ServiceTarget } from "./target.js";

/** What a service needs from the SocketPool that holds it. */
export interface ServiceContext {
  readonly settings: PoolSettings;
  readonly clock: Clock;
  /** False once the pool is closing. */
  readonly open: boolean;
  /** The pool's endpoint pool for `endpoint`, made if missing. */
  poolFor(endpoint: Endpoint): EndpointPool;
  /** The current borrow of a connection the pool lent. */
  leaseOf(conn: Connection): Lease | undefined;
  /** Closes the idle sockets of `endpoint`: its replica is draining. */
  closeIdle(endpoint: Endpoint): void;
  emit<E extends keyof SocketPoolEvents>(event: E, ...args: SocketPoolEvents[E]): void;
}

/** Failures of an acquire that move it on to another replica (and count against this one). */
function movesOn(err: unknown): boolean {
  return err instanceof ConnectError || err instanceof ConnectTimeoutError || err instanceof EndpointUnavailableError;
}

/** Destroy reasons of a borrow that served: its replica answered. */
const SERVED = new Set<DestroyReason | undefined>([undefined, "lifetime", "max-uses"]);

/** One borrow through a service: its replica hears when it ends. */
class ReplicaBorrow implements BorrowObserver {
  /** Set by use(): the work succeeded, or the socket died before any reply byte. */
  verdict: "ok" | "failed" | undefined;
  constructor(
    readonly service: Service,
    readonly replica: Replica,
    readonly probe: boolean,
  ) {}

  ended(_lease: Lease, reason: DestroyReason | undefined, err: unknown): boolean {
    return this.service.borrowEnded(this, reason, err);
  }
}

/**
 * Replicas behind one name: the state machine that balances acquires over them, ejects
 * outliers and brings them back, and (for `srv:`/`dns:`) follows DNS through a
 * {@link Discovery}. Each replica is an ordinary endpoint of the pool; this holds only what
 * the service knows of it (a {@link Replica}). See docs/architecture.md, "Services of replicas".
 *
 * State:
 * - `#replicas`: endpoint key → replica, in the order they joined; a draining replica stays
 *   until nothing is in flight on it, then leaves.
 * - `#discovery`: keeps a `srv:`/`dns:` service's set fresh (undefined for a list).
 *   `#known`: a first set arrived (later joiners warm up; the first set starts warm).
 * Invariants: an active replica is ejected only while fewer than `ejectionCap` are (a failed
 * probe only extends an ejection); only an ejected replica is probed, by one acquire at a
 * time; `inFlight` (≥ 0) counts every acquire under way and borrow not yet ended; a draining
 * replica with nothing in flight has left. {@link checkReplicas} asserts what it can see after
 * every transition, under SOCKPOOL_DEBUG.
 */
export class Service {
  readonly key: string;
  readonly target: ServiceTarget;
  readonly #ctx: ServiceContext;
  readonly #s: PoolSettings;
  readonly #replicas = new Map<string, Replica>();
  readonly #discovery: Discovery | undefined;
  #known = false;

  constructor(target: ServiceTarget, ctx: ServiceContext) {
    this.key = target.key;
    this.target = target;
    this.#ctx = ctx;
    this.#s = ctx.settings;
    if (target.kind === "list") {
      this.update(target.endpoints.map((endpoint) => ({ endpoint, weight: 1, priority: 0 })));
      return;
    }
    this.#discovery = new Discovery(target, this.#s, ctx.clock, {
      resolved: (replicas) => this.update(replicas),
      failed: (error) => this.#ctx.emit("resolve-error", { service: this.key, error } satisfies ResolveErrorEvent),
      busy: () => this.busy,
    });
  }

  /** Something is in flight on one of its replicas. */
  get busy(): boolean {
    for (const r of this.#replicas.values()) if (r.inFlight > 0) return true;
    return false;
  }

  /**
   * Borrows a socket from one replica: a due probe first, else the better of two by
   * {@link pickReplica} in the best priority with a replica in rotation. A connect failure
   * (error, timeout, fail-fast refusal) counts against that replica and moves on to another
   * within the acquire's deadline; once every replica failed, rejects with
   * ServiceUnavailableError. `retryOf`: a use() retry, which wants a new socket on another
   * replica than that borrow's (the same one only if no other is left). Otherwise rejects
   * as SocketPool.acquire does.
   */
  async acquire(options: WaitOptions | undefined, stack: string | undefined, retryOf?: Lease): Promise<Connection> {
    const operation = `acquire from ${this.key}`;
    throwIfAborted(operation, options?.signal);
    const clock = this.#ctx.clock;
    const timeout = options?.timeout ?? this.#s.acquireTimeout;
    const deadline = clock.now() + timeout;
    const discovery = this.#discovery;
    discovery?.touch();
    const ready = discovery?.ready();
    if (ready !== undefined) await this.#resolved(ready, options, timeout);
    const avoid = retryOf === undefined ? undefined : this.replicaOf(retryOf);
    const skip = new Set<Replica>(avoid === undefined ? [] : [avoid]);
    const errors = new Map<Replica, unknown>();
    let last: unknown;
    for (let attempt = 0; ; attempt++) {
      if (!this.#ctx.open) throw new PoolClosedError(operation);
      const now = clock.now();
      let r = chooseReplica(this.#replicas, skip, now, this.#s);
      if (r === undefined && avoid !== undefined && !errors.has(avoid) && this.#replicas.get(avoid.key) === avoid) {
        r = avoid.state === "draining" ? undefined : avoid; // a retry with nowhere else to go
      }
      if (r === undefined) throw unavailable(this.key, this.#replicas.values(), errors, last, now, this.#s);
      skip.add(r);
      // The first attempt runs under the caller's options as given, unless resolving took time.
      const plain = attempt === 0 && retryOf === undefined && ready === undefined;
      if (!plain && deadline - now <= 0) {
        throw new AcquireTimeoutError(this.key, timeout, `${attempt} replicas tried`, last);
      }
      const probe = r.probing;
      r.inFlight++;
      let conn: Connection;
      try {
        const attemptOptions = plain ? options : { signal: options?.signal, timeout: deadline - now };
        conn = await this.#ctx.poolFor(r.endpoint).acquire(attemptOptions, stack, retryOf !== undefined);
      } catch (err) {
        r.inFlight--;
        if (!movesOn(err)) {
          if (probe) r.probing = false;
          this.#settle(r);
          throw err;
        }
        this.#failed(r, err, clock.now());
        errors.set(r, err);
        last = err;
        this.#settle(r);
        continue;
      }
      return this.#lent(r, conn, probe);
    }
  }

  /** The replica a borrow of this service went to, or undefined. */
  replicaOf(lease: Lease): Replica | undefined {
    const o = lease.observer;
    return o instanceof ReplicaBorrow && o.service === this ? o.replica : undefined;
  }

  /** use()'s verdict on a borrow: its work succeeded, or its socket died before any reply byte. */
  judge(lease: Lease, verdict: "ok" | "failed"): void {
    const o = lease.observer;
    if (o instanceof ReplicaBorrow) o.verdict = verdict;
  }

  /** A borrow ended (see BorrowObserver): counts its outcome; true closes a draining replica's socket. */
  borrowEnded(borrow: ReplicaBorrow, reason: DestroyReason | undefined, err: unknown): boolean {
    const r = borrow.replica;
    r.inFlight--;
    const now = this.#ctx.clock.now();
    if (borrow.verdict === "failed" || reason === "error") this.#failed(r, err, now);
    else if (borrow.verdict === "ok" || SERVED.has(reason)) this.#succeeded(r, now);
    else if (borrow.probe) r.probing = false; // told nothing: the next acquire probes again
    const drop = r.state === "draining";
    this.#settle(r);
    return drop;
  }

  /**
   * The replica set is now `specs`: new replicas join (warming up, unless this is the first
   * set), known ones take the new weight and priority (a draining one comes back), missing
   * ones drain: no new borrows, idle sockets closed, borrowed ones closed as they come back.
   */
  update(specs: readonly ReplicaSpec[]): void {
    const first = !this.#known;
    this.#known = true;
    const listed = new Set<string>();
    for (const spec of specs) {
      listed.add(spec.endpoint.key);
      let r = this.#replicas.get(spec.endpoint.key);
      const joins = r === undefined || r.state === "draining";
      if (r === undefined) {
        r = new Replica(spec.endpoint, first ? this.#s.warmupBorrows : 0);
        this.#replicas.set(r.key, r);
      } else if (r.state === "draining") {
        r.state = "active";
        r.warmed = 0;
      }
      r.weight = spec.weight;
      r.priority = spec.priority;
      if (joins) this.#emit("join", r);
    }
    for (const r of [...this.#replicas.values()]) {
      if (listed.has(r.key) || r.state === "draining") continue;
      r.state = "draining";
      r.probing = false;
      this.#emit("drain", r);
      this.#ctx.closeIdle(r.endpoint);
      this.#settle(r);
    }
  }

  stats(): ServiceStats {
    const replicas: Record<string, ReplicaStats> = {};
    for (const r of this.#replicas.values()) replicas[r.key] = r.snapshot(this.#s.warmupBorrows);
    const resolution = this.#discovery?.stats() ?? {
      resolvedAt: null,
      resolutions: 0,
      resolveErrors: 0,
      lastResolveError: null,
    };
    return { kind: this.target.kind, panic: inPanic(this.#replicas, this.#s), replicas, ...resolution };
  }

  /** Stops refreshing (the pool is closing). */
  stop(): void {
    this.#discovery?.stop();
  }

  // --- Choosing -----------------------------------------------------------------------------

  /** The acquire got a socket: the borrow is the replica's until it ends. */
  #lent(r: Replica, conn: Connection, probe: boolean): Connection {
    const lease = this.#ctx.leaseOf(conn);
    if (lease === undefined || !lease.current) {
      r.inFlight--; // its borrow ended already: the pool closed meanwhile
      if (probe) r.probing = false;
      this.#settle(r);
      return conn;
    }
    lease.observer = new ReplicaBorrow(this, r, probe);
    r.acquired++;
    this.#settle(r);
    return conn;
  }

  /** Waits for the first resolution under the acquire's signal and timeout. */
  async #resolved(ready: Promise<void>, options: WaitOptions | undefined, timeout: number): Promise<void> {
    const operation = `acquire from ${this.key}`;
    const timeoutError = (ms: number) => new AcquireTimeoutError(this.key, ms, "resolving its replicas");
    const limits = { signal: options?.signal, timeout };
    try {
      await withCancel(operation, ready, limits, timeoutError, undefined, this.#ctx.clock);
    } catch (err) {
      if (err instanceof AbortError || err instanceof AcquireTimeoutError) throw err;
      throw new ServiceUnavailableError(this.key, [], 0, err);
    }
  }

  // --- Outliers -----------------------------------------------------------------------------

  #failed(r: Replica, err: unknown, now: number): void {
    r.failures++;
    r.consecutive++;
    r.lastError = err;
    r.lastErrorAt = now;
    if (r.state === "ejected") {
      // A probe, or a panic or last-resort attempt, failed: a due ejection starts over, longer.
      r.probing = false;
      if (now >= r.ejectedUntil) this.#eject(r, now, err, true);
      return;
    }
    if (r.state !== "active" || !isOutlier(r, this.#s)) return;
    let ejected = 0;
    let members = 0;
    for (const other of this.#replicas.values()) {
      if (other.state !== "draining") members++;
      if (other.state === "ejected") ejected++;
    }
    if (ejected < ejectionCap(members, this.#s)) this.#eject(r, now, err, false);
  }

  #eject(r: Replica, now: number, err: unknown, probeFailed: boolean): void {
    r.streak = nextStreak(r, now, this.#s, probeFailed);
    r.ejections++;
    r.state = "ejected";
    r.probing = false;
    r.ejectedUntil = now + ejectionLength(r.streak, this.#s);
    this.#emit("eject", r, { ejectedUntil: r.ejectedUntil, error: err });
  }

  #succeeded(r: Replica, now: number): void {
    r.consecutive = 0;
    if (r.state === "ejected") {
      r.state = "active";
      r.probing = false;
      r.returnedAt = now;
      r.warmed = 0;
      this.#emit("return", r);
    } else if (r.warmed < this.#s.warmupBorrows) r.warmed++;
  }

  /** A draining replica with nothing in flight leaves the service (and its stats). */
  #settle(r: Replica): void {
    if (r.state === "draining" && r.inFlight === 0 && this.#replicas.get(r.key) === r) {
      this.#replicas.delete(r.key);
      this.#emit("leave", r);
    }
    if (checkingInvariants) checkReplicas(this.key, this.#replicas);
  }

  #emit(
    event: "join" | "eject" | "return" | "drain" | "leave",
    r: Replica,
    extra?: Pick<ReplicaEvent, "ejectedUntil" | "error">,
  ): void {
    const payload: ReplicaEvent = {
      service: this.key,
      endpoint: r.key,
      state: r.state,
      ejections: r.ejections,
      ...extra,
    };
    this.#ctx.emit(event, payload);
  }
}
