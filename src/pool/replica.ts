import type { Endpoint } from "../endpoint.js";
import { describeError, EndpointUnavailableError, type ReplicaFailure, ServiceUnavailableError } from "../errors.js";
import { invariant } from "../internal/invariant.js";
import type { DiscoveryStats } from "./discovery.js";
import type { ServiceTarget } from "./target.js";

/**
 * `active ⇄ ejected`; either `→ draining` when discovery drops the replica; `draining →
 * active` when it comes back before it left. A draining replica leaves its service once
 * nothing is in flight on it.
 */
export type ReplicaState = "active" | "ejected" | "draining";

/** One replica in `stats().services[key].replicas`. Times are ms since the epoch. */
export interface ReplicaStats {
  state: ReplicaState;
  /** Acquires under way and borrows not yet ended, through this service. */
  inFlight: number;
  /** Borrows lent through this service. */
  acquired: number;
  /** Failed attempts: connect errors and timeouts, fail-fast refusals, resets, sockets that died before replying. */
  failures: number;
  consecutiveFailures: number;
  ejections: number;
  /** When an ejected replica may be probed; null unless ejected. */
  ejectedUntil: number | null;
  /** The last failure as `CODE: message`, and when; null if it never failed. */
  lastError: string | null;
  lastErrorAt: number | null;
  /** SRV weight (1 for lists and dns:) and priority (lower is preferred; 0 for lists and dns:). */
  weight: number;
  priority: number;
  /** 0 to 1: how far a replica that joined or returned is into its warm-up (1: full share). */
  warmup: number;
}

/** What the `join`, `eject`, `return`, `drain` and `leave` events carry. */
export interface ReplicaEvent {
  /** The service's key. */
  service: string;
  /** The replica's endpoint key. */
  endpoint: string;
  state: ReplicaState;
  ejections: number;
  /** `eject`: when it may be probed (ms since the epoch). */
  ejectedUntil?: number;
  /** `eject`: the failure that tipped it over. */
  error?: unknown;
}

/** What the `resolve-error` event carries: once per run of failed resolutions. */
export interface ResolveErrorEvent {
  service: string;
  error: unknown;
}

/** One service in `stats().services`. */
export interface ServiceStats extends DiscoveryStats {
  kind: ServiceTarget["kind"];
  /** No healthy replica is in rotation: acquires spread over every replica, ejected ones too. */
  panic: boolean;
  /** By endpoint key; draining replicas stay until their last borrow ends. */
  replicas: Record<string, ReplicaStats>;
}

/**
 * One replica of a service, as its {@link Service} sees it. Plain data: the service makes
 * every move; each replica is also an ordinary endpoint of the pool, with its own bounds,
 * idle stack and stats.
 *
 * State:
 * - `state` (see {@link ReplicaState}); `probing`: the one probe borrow of an ejected replica
 *   whose time is up is under way.
 * - `weight` (> 0) and `priority`: from SRV, else 1 and 0.
 * - `inFlight`: acquires under way through the service plus borrows not yet ended (≥ 0).
 * - `acquired`, `failures`, `ejections`: counters that only grow. `consecutive`: failures
 *   since the last success.
 * - `streak`: how many ejections in a row the next one follows (its time is base × streak);
 *   `ejectedUntil`, `returnedAt`: ms since the epoch.
 * - `warmed`: successful borrows since it joined or returned, up to the warm-up length.
 * - `lastError` and `lastErrorAt`: the last failure, kept after a success.
 */
export class Replica {
  readonly endpoint: Endpoint;
  readonly key: string;
  state: ReplicaState = "active";
  probing = false;
  weight = 1;
  priority = 0;
  inFlight = 0;
  acquired = 0;
  failures = 0;
  consecutive = 0;
  ejections = 0;
  streak = 0;
  ejectedUntil = 0;
  returnedAt = 0;
  warmed: number;
  lastError: unknown;
  lastErrorAt = 0;

  /** `warmed`: where its warm-up starts (a replica of the first set starts warm). */
  constructor(endpoint: Endpoint, warmed: number) {
    this.endpoint = endpoint;
    this.key = endpoint.key;
    this.warmed = warmed;
  }

  /** Its weight scaled by its warm-up: (warmed + 1) / (warmupBorrows + 1) of it until warm. */
  effectiveWeight(warmupBorrows: number): number {
    if (this.warmed >= warmupBorrows) return this.weight;
    return (this.weight * (this.warmed + 1)) / (warmupBorrows + 1);
  }

  snapshot(warmupBorrows: number): ReplicaStats {
    const failed = this.failures > 0;
    return {
      state: this.state,
      inFlight: this.inFlight,
      acquired: this.acquired,
      failures: this.failures,
      consecutiveFailures: this.consecutive,
      ejections: this.ejections,
      ejectedUntil: this.state === "ejected" ? this.ejectedUntil : null,
      lastError: failed ? describeError(this.lastError) : null,
      lastErrorAt: failed ? this.lastErrorAt : null,
      weight: this.weight,
      priority: this.priority,
      warmup: warmupBorrows === 0 ? 1 : Math.min(1, this.warmed / warmupBorrows),
    };
  }
}

/**
 * The error of an acquire that found no replica left to try: each replica in rotation with
 * its state and last error (`errors`: this acquire's), and `retryAfter`, the soonest a
 * replica may be tried again: an ejection's end, a fail-fast window's end, or
 * `failFastWindow` after a connect failure just now.
 */
export function unavailable(
  service: string,
  all: Iterable<Replica>,
  errors: ReadonlyMap<Replica, unknown>,
  last: unknown,
  now: number,
  s: { readonly failFastWindow: number },
): ServiceUnavailableError {
  const replicas: ReplicaFailure[] = [];
  let retryAfter = Number.POSITIVE_INFINITY;
  for (const r of all) {
    if (r.state === "draining") continue;
    const error = errors.get(r) ?? r.lastError;
    replicas.push({ endpoint: r.key, state: r.state, error });
    if (r.state === "ejected") retryAfter = Math.min(retryAfter, Math.max(0, r.ejectedUntil - now));
    else if (error instanceof EndpointUnavailableError) retryAfter = Math.min(retryAfter, error.retryAfter);
    else if (errors.has(r)) retryAfter = Math.min(retryAfter, s.failFastWindow);
  }
  return new ServiceUnavailableError(service, replicas, Number.isFinite(retryAfter) ? retryAfter : 0, last);
}

/**
 * Asserts the invariants of a service's replicas (see Service's State comment): throws
 * InternalError naming the service when one is broken. Runs under SOCKPOOL_DEBUG only.
 */
export function checkReplicas(service: string, replicas: ReadonlyMap<string, Replica>): void {
  for (const [key, r] of replicas) {
    invariant(r.key === key, `${service}: replica ${r.key} filed under ${key}`);
    invariant(r.inFlight >= 0, `${service}: ${key} has ${r.inFlight} borrows in flight`);
    invariant(!r.probing || r.state === "ejected", `${service}: ${key} is probed while ${r.state}`);
    invariant(r.state !== "draining" || r.inFlight > 0, `${service}: ${key} drained but did not leave`);
    invariant(r.consecutive <= r.failures && r.weight > 0, `${service}: ${key} has bad counts`);
  }
}
