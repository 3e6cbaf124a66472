import dns from "node:dns";
import { isIP } from "node:net";
import { type Endpoint, parseEndpoint } from "../endpoint.js";
import { describeError } from "../errors.js";
import type { Clock, TimerHandle } from "../internal/clock.js";
import type { ServiceTarget } from "./target.js";

/** An SRV record, as `dns.promises.Resolver#resolveSrv` gives it. */
export interface SrvRecordLike {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** An address and its TTL in seconds, as `resolve4(host, { ttl: true })` gives it. */
export interface AddressWithTtl {
  address: string;
  ttl: number;
}

/**
 * What discovery asks of a resolver: these three methods of a `dns.promises.Resolver`, so
 * one pointed at a chosen server (`resolver.setServers(["127.0.0.1:5353"])`) fits as it is.
 */
export interface ServiceResolver {
  resolveSrv(name: string): Promise<SrvRecordLike[]>;
  resolve4(host: string, options: { ttl: true }): Promise<AddressWithTtl[]>;
  resolve6(host: string, options: { ttl: true }): Promise<AddressWithTtl[]>;
}

/** One replica a resolution found. */
export interface ReplicaSpec {
  readonly endpoint: Endpoint;
  readonly weight: number;
  readonly priority: number;
}

/** What one resolution found; `ttl` in ms (Infinity when no record carried one). */
export interface Resolution {
  readonly replicas: ReplicaSpec[];
  readonly ttl: number;
}

/** A weight of 0 still gets a very small chance beside weighted records (RFC 2782). */
const ZERO_WEIGHT = 0.01;

/**
 * Resolves a `srv:` or `dns:` target once through `resolver`. SRV targets are resolved to
 * their A and AAAA addresses through the same resolver (the system resolver would not ask
 * the chosen server); a target's weight is split evenly over its addresses, and an address
 * named twice keeps its best priority and the sum of its weights there. Records whose target
 * is `.` (the service is decidedly not offered there) are skipped. Node's `resolveSrv` does
 * not report the SRV record's own TTL, so the TTL is the smallest of the address records'.
 *
 * Rejects with the resolver's error (code ENOTFOUND, ENODATA, ETIMEOUT, ECONNREFUSED…) when
 * the name does not resolve, or with an error of code ENODATA when it resolves to nothing.
 */
export async function resolveService(
  target: Exclude<ServiceTarget, { kind: "list" }>,
  resolver: ServiceResolver,
): Promise<Resolution> {
  const found = new Map<string, { endpoint: Endpoint; weight: number; priority: number }>();
  let ttl = Number.POSITIVE_INFINITY;
  const add = (address: string, port: number, weight: number, priority: number) => {
    const endpoint = parseEndpoint({ host: address, port });
    const seen = found.get(endpoint.key);
    if (seen === undefined || priority < seen.priority) found.set(endpoint.key, { endpoint, weight, priority });
    else if (priority === seen.priority) seen.weight += weight;
  };
  if (target.kind === "dns") {
    const addresses = await addressesOf(target.host, resolver);
    for (const a of addresses) {
      ttl = Math.min(ttl, a.ttl * 1000);
      add(a.address, target.port, 1, 0);
    }
  } else {
    const records = (await resolver.resolveSrv(target.name)).filter((r) => r.name !== "" && r.name !== ".");
    const resolved = await Promise.all(records.map((r) => addressesOf(r.name, resolver)));
    records.forEach((r, i) => {
      const addresses = resolved[i] as AddressWithTtl[];
      const weight = (r.weight > 0 ? r.weight : ZERO_WEIGHT) / addresses.length;
      for (const a of addresses) {
        ttl = Math.min(ttl, a.ttl * 1000);
        add(a.address, r.port, weight, r.priority);
      }
    });
  }
  if (found.size === 0) {
    throw Object.assign(new Error(`${target.key} resolved to no address`), { code: "ENODATA" });
  }
  return { replicas: [...found.values()], ttl };
}

/** Every A and AAAA address of `host` (an IP literal is its own); rejects when neither lookup worked. */
async function addressesOf(host: string, resolver: ServiceResolver): Promise<AddressWithTtl[]> {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (isIP(name) !== 0) return [{ address: name, ttl: Number.POSITIVE_INFINITY }];
  const [v4, v6] = await Promise.allSettled([
    resolver.resolve4(name, { ttl: true }),
    resolver.resolve6(name, { ttl: true }),
  ]);
  if (v4.status === "rejected" && v6.status === "rejected") throw v4.reason;
  return [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
}

/** The discovery options of SocketPoolOptions, after defaults. */
export interface DiscoverySettings {
  readonly resolver: ServiceResolver | undefined;
  readonly resolveInterval: number | undefined;
  readonly resolveMinInterval: number;
  readonly resolveMaxInterval: number;
}

/** What a {@link Discovery} tells its service. */
export interface DiscoveryHost {
  /** A resolution succeeded: these are the replicas now. */
  resolved(replicas: ReplicaSpec[]): void;
  /** A resolution failed; called once per run of failures (the first), not for each retry. */
  failed(err: unknown): void;
  /** Whether anything is in flight on the service (an unused, idle service stops refreshing). */
  busy(): boolean;
}

let defaultResolver: ServiceResolver | undefined;

/** The system's DNS servers (resolv.conf), with a short timeout: one, made on first use. */
function systemResolver(): ServiceResolver {
  defaultResolver ??= new dns.promises.Resolver({ timeout: 2000, tries: 2 });
  return defaultResolver;
}

/** A discovery service's resolution counts, for its stats. */
export interface DiscoveryStats {
  /** When the last good set was resolved (ms since the epoch); null before the first. */
  resolvedAt: number | null;
  resolutions: number;
  resolveErrors: number;
  /** The last failed resolution's error as `CODE: message`, while failures go on; null after a success. */
  lastResolveError: string | null;
}

/**
 * Keeps one `srv:`/`dns:` service's replica set fresh: resolves on first use, then again at
 * the records' TTL clamped to [resolveMinInterval, resolveMaxInterval] (or every
 * `resolveInterval`). A failed resolution keeps the last good set, is reported once per run
 * of failures, and is retried after resolveMinInterval, doubling up to the maximum. A service
 * left unused and idle for a whole interval stops refreshing; its next use refreshes it
 * again in the background while the last good set serves. Timers run on the pool's clock
 * and are unref'd.
 *
 * State:
 * - `#known`: a resolution has succeeded, so the service holds a last good set.
 * - `#pending`: the resolution under way, if any. `#timer`: the next one, armed only while
 *   none is under way and the discovery is neither paused nor stopped.
 * - `#failures`: consecutive failed resolutions; `#lastError` the last one's error;
 *   `#reported`: the current run of failures was reported.
 * - `#used`: the service was used since the last refresh; `#paused`: refreshing stopped
 *   because it was not. `#stopped`: final (the pool closed).
 * - `#resolvedAt`, `#resolutions`, `#errors`: for stats.
 */
export class Discovery {
  readonly #target: Exclude<ServiceTarget, { kind: "list" }>;
  readonly #s: DiscoverySettings;
  readonly #clock: Clock;
  readonly #host: DiscoveryHost;
  #known = false;
  #pending: Promise<void> | undefined;
  #timer: TimerHandle | undefined;
  #failures = 0;
  #lastError: unknown;
  #reported = false;
  #used = false;
  #paused = false;
  #stopped = false;
  #resolvedAt = 0;
  #resolutions = 0;
  #errors = 0;

  constructor(
    target: Exclude<ServiceTarget, { kind: "list" }>,
    s: DiscoverySettings,
    clock: Clock,
    host: DiscoveryHost,
  ) {
    this.#target = target;
    this.#s = s;
    this.#clock = clock;
    this.#host = host;
  }

  /**
   * Undefined once a good set is known (nothing to wait for). Otherwise a promise that
   * resolves when the first good set arrives, or rejects with the resolution's error: at
   * once when the last attempt failed and its retry is still ahead.
   */
  ready(): Promise<void> | undefined {
    if (this.#known) return undefined;
    if (this.#pending !== undefined) return this.#pending;
    if (this.#lastError !== undefined && this.#timer !== undefined) return Promise.reject(this.#lastError);
    return this.#refresh();
  }

  /** The service was used: keep refreshing, or start again if it had stopped. */
  touch(): void {
    this.#used = true;
    if (!this.#paused) return;
    this.#paused = false;
    this.#refresh().catch(() => {}); // reported through the host
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  stats(): DiscoveryStats {
    return {
      resolvedAt: this.#known ? this.#resolvedAt : null,
      resolutions: this.#resolutions,
      resolveErrors: this.#errors,
      lastResolveError: this.#failures > 0 ? describeError(this.#lastError) : null,
    };
  }

  #refresh(): Promise<void> {
    if (this.#pending !== undefined) return this.#pending;
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    const pending = resolveService(this.#target, this.#s.resolver ?? systemResolver()).then(
      (found) => this.#succeeded(found),
      (err) => this.#failed(err),
    );
    this.#pending = pending;
    return pending;
  }

  #succeeded(found: Resolution): void {
    this.#pending = undefined;
    if (this.#stopped) return;
    this.#known = true;
    this.#failures = 0;
    this.#reported = false;
    this.#resolutions++;
    this.#resolvedAt = this.#clock.now();
    const { resolveInterval, resolveMinInterval, resolveMaxInterval } = this.#s;
    this.#schedule(resolveInterval ?? Math.min(resolveMaxInterval, Math.max(resolveMinInterval, found.ttl)));
    this.#host.resolved(found.replicas);
  }

  #failed(err: unknown): never {
    this.#pending = undefined;
    if (this.#stopped) throw err;
    this.#failures++;
    this.#errors++;
    this.#lastError = err;
    const { resolveMinInterval, resolveMaxInterval } = this.#s;
    this.#schedule(Math.min(resolveMaxInterval, resolveMinInterval * 2 ** (this.#failures - 1)));
    if (!this.#reported) {
      this.#reported = true;
      this.#host.failed(err);
    }
    throw err;
  }

  #schedule(ms: number): void {
    this.#used = false;
    this.#timer = this.#clock.setTimer(this.#tick, ms);
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.#known && !this.#used && !this.#host.busy()) {
      this.#paused = true;
      return;
    }
    this.#refresh().catch(() => {}); // reported through the host
  };
}
