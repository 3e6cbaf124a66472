import type { ServiceStats } from "./replica.js";
import { Service, type ServiceContext } from "./service.js";
import type { ServiceTarget } from "./target.js";

/** Services kept; past it, those with nothing in flight are forgotten (their state is lost). */
const SERVICE_LIMIT = 1024;
/** Service strings remembered with their service; the cache is cleared when full. */
const INPUT_CACHE_LIMIT = 1024;

/**
 * The services of one SocketPool, by key, and the service strings already parsed.
 *
 * State: `#byKey`: service key → its {@link Service}, at most SERVICE_LIMIT (past it, the
 * ones with nothing in flight are stopped and dropped); `#byInput`: a target string as the
 * caller wrote it → its service (bounded; cleared when full or when services are dropped).
 */
export class Services {
  readonly #ctx: ServiceContext;
  readonly #byKey = new Map<string, Service>();
  readonly #byInput = new Map<string, Service>();

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** The service a target string was found to name before, if any. */
  cached(input: string): Service | undefined {
    return this.#byInput.get(input);
  }

  /** The service of a parsed target, made on first use; a string `input` is remembered. */
  serviceFor(target: ServiceTarget, input: unknown): Service {
    let service = this.#byKey.get(target.key);
    if (service === undefined) {
      if (this.#byKey.size >= SERVICE_LIMIT) this.#dropIdle();
      service = new Service(target, this.#ctx);
      this.#byKey.set(target.key, service);
    }
    if (typeof input === "string") {
      if (this.#byInput.size >= INPUT_CACHE_LIMIT) this.#byInput.clear();
      this.#byInput.set(input, service);
    }
    return service;
  }

  stats(): Record<string, ServiceStats> {
    const stats: Record<string, ServiceStats> = {};
    for (const [key, service] of this.#byKey) stats[key] = service.stats();
    return stats;
  }

  /** The pool is closing: no service refreshes any more. */
  stop(): void {
    for (const service of this.#byKey.values()) service.stop();
  }

  /** Forgets the services with nothing in flight (their ejections and warm-ups). */
  #dropIdle(): void {
    for (const [key, service] of this.#byKey) {
      if (service.busy) continue;
      service.stop();
      this.#byKey.delete(key);
    }
    this.#byInput.clear();
  }
}
