import { DurationHistogram, type DurationStats } from "../internal/histogram.js";
import type { ServiceStats } from "./replica.js";

export type { DurationStats } from "../internal/histogram.js";

/** Why the pool destroyed (or retired) a socket. */
export type DestroyReason =
  | "idle-timeout" // idle longer than idleTimeout
  | "lifetime" // older than its (jittered) maxLifetime
  | "max-uses" // served maxUses borrows
  | "max-idle" // released while maxIdlePerEndpoint sockets were idle
  | "replaced" // idle, closed to make room for a retry that wants a fresh socket
  | "max-sockets" // idle, closed to make room for another endpoint under maxSockets
  | "peer-closed" // the peer sent FIN or closed while the socket was idle or borrowed
  | "error" // a socket error (a reset…)
  | "stray-bytes" // bytes arrived while idle
  | "unread" // released with unread bytes
  | "dirty" // released after an operation failed or was cancelled mid-way
  | "busy" // released with a read or write still pending
  | "validation" // the validate hook said no
  | "drained" // its replica left its service (DNS no longer lists it): closed when idle or given back
  | "user" // pool.destroy(), or the function given to use() threw
  | "leak" // borrowed, never released, garbage-collected
  | "pool-closed"; // the pool closed

/** @deprecated The wait histogram's type is {@link DurationStats}; this name stays for old code. */
export type WaitPercentiles = DurationStats;

/** A snapshot of one endpoint's pool (or, summed, of every endpoint). */
export interface EndpointStats {
  /** Sockets open or being opened: idle + borrowed + dialing. */
  open: number;
  idle: number;
  borrowed: number;
  dialing: number;
  /** Acquires waiting in the queue. */
  pending: number;
  /** Sockets opened. */
  created: number;
  /** Acquires served by a socket that served before. */
  reused: number;
  acquired: number;
  released: number;
  destroyed: number;
  destroyedBy: Partial<Record<DestroyReason, number>>;
  /** Acquires that timed out. */
  timeouts: number;
  /** Dials that failed (each attempt). */
  connectErrors: number;
  /** `use()` calls run again on a fresh socket because a reused one died before replying. */
  retries: number;
  /** How long acquires waited for a socket (0 when one was idle). */
  waitMs: DurationStats;
  /** How long borrowers held a socket: from the acquire to its release (or destruction). */
  holdMs: DurationStats;
  /** How long dials took that connected: from the dial's start, retries included, to connected. */
  dialMs: DurationStats;
}

export interface PoolStats extends EndpointStats {
  endpoints: Record<string, EndpointStats>;
  /** Services of replicas by key (see SocketPool.acquire): each replica's state and counts. */
  services: Record<string, ServiceStats>;
}

/**
 * Cumulative counters of one endpoint or of the whole pool, plus histograms of wait, hold and
 * dial times (ms, by the pool's clock). An endpoint's counters roll up into the pool's: each
 * `record…` method counts in `#parent` too.
 *
 * State: counters and histogram counts only grow. `#parent`: the pool's totals (undefined for
 * the totals themselves).
 */
export class Counters {
  created = 0;
  reused = 0;
  acquired = 0;
  released = 0;
  destroyed = 0;
  timeouts = 0;
  connectErrors = 0;
  retries = 0;
  readonly destroyedBy: Partial<Record<DestroyReason, number>> = {};
  readonly #wait = new DurationHistogram();
  readonly #hold = new DurationHistogram();
  readonly #dial = new DurationHistogram();
  readonly #parent: Counters | undefined;

  constructor(parent?: Counters) {
    this.#parent = parent;
  }

  /** A socket was lent after the acquire waited `waited` ms; `reused`: it had served before. */
  recordAcquire(reused: boolean, waited: number): void {
    this.acquired++;
    if (reused) this.reused++;
    this.#wait.record(waited);
    this.#parent?.recordAcquire(reused, waited);
  }

  recordRelease(): void {
    this.released++;
    this.#parent?.recordRelease();
  }

  /** A borrow ended (released or destroyed) after the borrower held the socket `held` ms. */
  recordHold(held: number): void {
    this.#hold.record(held);
    this.#parent?.recordHold(held);
  }

  /** A dial connected after `took` ms. */
  recordCreate(took: number): void {
    this.created++;
    this.#dial.record(took);
    this.#parent?.recordCreate(took);
  }

  recordTimeout(): void {
    this.timeouts++;
    this.#parent?.recordTimeout();
  }

  recordConnectError(): void {
    this.connectErrors++;
    this.#parent?.recordConnectError();
  }

  recordRetry(): void {
    this.retries++;
    this.#parent?.recordRetry();
  }

  recordDestroy(reason: DestroyReason): void {
    this.destroyed++;
    this.destroyedBy[reason] = (this.destroyedBy[reason] ?? 0) + 1;
    this.#parent?.recordDestroy(reason);
  }

  /** The counters as a snapshot, with the live gauges given by the caller. */
  snapshot(gauges: Pick<EndpointStats, "idle" | "borrowed" | "dialing" | "pending">): EndpointStats {
    return {
      open: gauges.idle + gauges.borrowed + gauges.dialing,
      ...gauges,
      created: this.created,
      reused: this.reused,
      acquired: this.acquired,
      released: this.released,
      destroyed: this.destroyed,
      destroyedBy: { ...this.destroyedBy },
      timeouts: this.timeouts,
      connectErrors: this.connectErrors,
      retries: this.retries,
      waitMs: this.#wait.snapshot(),
      holdMs: this.#hold.snapshot(),
      dialMs: this.#dial.snapshot(),
    };
  }
}
