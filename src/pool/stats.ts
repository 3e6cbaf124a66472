import type { ServiceStats } from "./replica.js";

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

/** Milliseconds acquires spent waiting, over the last {@link WAIT_SAMPLES} acquires. */
export interface WaitPercentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

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
  waitMs: WaitPercentiles;
}

export interface PoolStats extends EndpointStats {
  endpoints: Record<string, EndpointStats>;
  /** Services of replicas by key (see SocketPool.acquire): each replica's state and counts. */
  services: Record<string, ServiceStats>;
}

export const WAIT_SAMPLES = 1024;

/**
 * Cumulative counters of one endpoint or of the whole pool, plus a ring of recent wait times.
 * An endpoint's counters roll up into the pool's: each `record…` method counts in `#parent` too.
 *
 * State: counters only grow. `#waits[0..#filled)` holds the last ≤ WAIT_SAMPLES waits in ms,
 * `#next` is where the next one goes (oldest overwritten first). `#parent`: the pool's totals
 * (undefined for the totals themselves).
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
  readonly #waits = new Float64Array(WAIT_SAMPLES);
  #next = 0;
  #filled = 0;
  readonly #parent: Counters | undefined;

  constructor(parent?: Counters) {
    this.#parent = parent;
  }

  /** A socket was lent after the acquire waited `waited` ms; `reused`: it had served before. */
  recordAcquire(reused: boolean, waited: number): void {
    this.acquired++;
    if (reused) this.reused++;
    this.#waits[this.#next] = waited;
    this.#next = (this.#next + 1) & (WAIT_SAMPLES - 1); // a power of two
    if (this.#filled < WAIT_SAMPLES) this.#filled++;
    this.#parent?.recordAcquire(reused, waited);
  }

  recordRelease(): void {
    this.released++;
    this.#parent?.recordRelease();
  }

  recordCreate(): void {
    this.created++;
    this.#parent?.recordCreate();
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
      waitMs: this.#percentiles(),
    };
  }

  #percentiles(): WaitPercentiles {
    if (this.#filled === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#waits.slice(0, this.#filled).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] as number };
  }
}
