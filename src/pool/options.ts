import type { ConnectOptions } from "../connection/connect.js";
import { checkAddressOptions, connectOptionsSchema } from "../connection/connect.js";
import type { Connection } from "../connection/connection.js";
import type { Endpoint } from "../endpoint.js";
import { InvalidArgumentError, quote } from "../errors.js";
import { type Clock, systemClock } from "../internal/clock.js";
import { orNever } from "../internal/timer.js";
import { type Schema, validateOptions } from "../internal/validate.js";
import type { ServiceResolver } from "./discovery.js";

/** Opens one socket for the pool; the default is sockpool's `connect()`. */
export type Dialer = (endpoint: Endpoint, options: ConnectOptions) => Promise<Connection>;

/** Settings of a {@link SocketPool}; every duration is in milliseconds. */
export interface SocketPoolOptions {
  /** Sockets per endpoint, dials in progress included. Default 10. */
  maxSocketsPerEndpoint?: number | undefined;
  /** Sockets across all endpoints. Default Infinity. */
  maxSockets?: number | undefined;
  /** Idle sockets kept per endpoint; extra released sockets are closed. Default: maxSocketsPerEndpoint. */
  maxIdlePerEndpoint?: number | undefined;
  /** Warm sockets kept open per endpoint once it has been used. Default 0. */
  minIdlePerEndpoint?: number | undefined;
  /** Queued acquires per endpoint; beyond it acquire fails at once with QueueFullError. Default Infinity. */
  maxWaiting?: number | undefined;
  /** Default acquire timeout (queueing and dialing). Default 10 000. */
  acquireTimeout?: number | undefined;
  /** Timeout of one dial (TLS handshake included). Default 10 000. */
  connectTimeout?: number | undefined;
  /** Idle sockets older than this are closed. Default 30 000; Infinity keeps them. */
  idleTimeout?: number | undefined;
  /** Sockets older than this are retired when they come back or while idle. Default Infinity. */
  maxLifetime?: number | undefined;
  /** Up to this much is taken off each socket's lifetime at random. Default maxLifetime / 10. */
  lifetimeJitter?: number | undefined;
  /** Borrows per socket before it is retired. Default Infinity. */
  maxUses?: number | undefined;
  /**
   * Checks an idle socket before it is handed out (a ping); false or a throw destroys it and
   * another is taken. Skipped for sockets idle less than `validateAfter`.
   */
  validate?: ((conn: Connection) => boolean | Promise<boolean>) | undefined;
  /** Idle time after which `validate` runs on checkout. Default 1000. */
  validateAfter?: number | undefined;
  /** A socket borrowed longer than this emits 'leak' with the acquire's stack. Default: off. */
  leakWarningAfter?: number | undefined;
  /** Extra dial attempts after a connect failure, with capped exponential backoff. Default 0. */
  connectRetries?: number | undefined;
  /** First backoff delay between dial attempts (full jitter). Default 100. */
  retryDelay?: number | undefined;
  /** Cap of the backoff delay. Default 2000. */
  retryMaxDelay?: number | undefined;
  /**
   * After a failed dial, new acquires for that endpoint fail fast with
   * EndpointUnavailableError for this long, doubling per consecutive failure. 0 disables.
   * Default 100.
   */
  failFastWindow?: number | undefined;
  /** Cap of the fail-fast window. Default 5000. */
  failFastMaxWindow?: number | undefined;
  /** Options for each dial: tls, noDelay, keepAlive, readTimeout, writeTimeout, limit… */
  connect?: Omit<ConnectOptions, "signal" | "timeout"> | undefined;
  /** Replaces `connect()`: custom transports, tests that hold a dial open. */
  dial?: Dialer | undefined;
  /**
   * Where the pool's time comes from: `now()` and timers (idle and lifetime retirement,
   * acquire timeouts, fail-fast windows, leak warnings, dial backoff, ejections, DNS
   * refreshes). Default: the system clock. Tests give a manual clock to advance time
   * instead of sleeping.
   */
  clock?: Clock | undefined;

  // Services of replicas (a list, `srv:` or `dns:` target): see docs/architecture.md.

  /**
   * Consecutive failures of one replica (connect errors and timeouts, fail-fast refusals,
   * resets, sockets that died before replying) after which it is ejected. 0 never ejects.
   * Default 5.
   */
  ejectAfterFailures?: number | undefined;
  /** How long a first ejection lasts; the n-th in a row lasts n times this. Default 10 000. */
  ejectionTime?: number | undefined;
  /** Cap of one ejection. Default 300 000. */
  maxEjectionTime?: number | undefined;
  /**
   * Share of a service's replicas (0 to 1) that may be ejected at once; always at least one
   * unless 0. Default 0.5.
   */
  maxEjectedShare?: number | undefined;
  /**
   * Successful borrows over which a replica that joined or returned grows to its full share
   * (it starts at 1 / (n + 1) of it). 0 gives the full share at once. Default 10.
   */
  warmupBorrows?: number | undefined;
  /**
   * Resolves `srv:` and `dns:` targets: a `dns.promises.Resolver` (say, one given
   * `setServers(["127.0.0.1:5353"])`) or anything with its `resolveSrv`, `resolve4` and
   * `resolve6`. Default: a Resolver on the system's DNS servers.
   */
  resolver?: ServiceResolver | undefined;
  /** Re-resolve `srv:`/`dns:` targets this often, whatever the TTL. Default: at the TTL. */
  resolveInterval?: number | undefined;
  /** Shortest wait between resolutions (a TTL of 0 waits this long). Default 1000. */
  resolveMinInterval?: number | undefined;
  /** Longest wait between resolutions. Default 30 000. */
  resolveMaxInterval?: number | undefined;
}

/** Options after defaults, under the same names: what the endpoint pools read. */
export interface PoolSettings {
  readonly maxSocketsPerEndpoint: number;
  readonly maxSockets: number;
  readonly maxIdlePerEndpoint: number;
  readonly minIdlePerEndpoint: number;
  readonly maxWaiting: number;
  readonly acquireTimeout: number;
  readonly connectTimeout: number;
  readonly idleTimeout: number;
  readonly maxLifetime: number;
  readonly lifetimeJitter: number;
  readonly maxUses: number;
  readonly validate: ((conn: Connection) => boolean | Promise<boolean>) | undefined;
  readonly validateAfter: number;
  readonly leakWarningAfter: number | undefined;
  readonly connectRetries: number;
  readonly retryDelay: number;
  readonly retryMaxDelay: number;
  readonly failFastWindow: number;
  readonly failFastMaxWindow: number;
  readonly connect: ConnectOptions;
  readonly dial: Dialer | undefined;
  readonly clock: Clock;
  readonly ejectAfterFailures: number;
  readonly ejectionTime: number;
  readonly maxEjectionTime: number;
  readonly maxEjectedShare: number;
  readonly warmupBorrows: number;
  readonly resolver: ServiceResolver | undefined;
  readonly resolveInterval: number | undefined;
  readonly resolveMinInterval: number;
  readonly resolveMaxInterval: number;
}

const schema: Schema = {
  maxSocketsPerEndpoint: "count",
  maxSockets: "count?",
  maxIdlePerEndpoint: "count0",
  minIdlePerEndpoint: "count0",
  maxWaiting: "count?",
  acquireTimeout: "ms?",
  connectTimeout: "ms?",
  idleTimeout: "ms?",
  maxLifetime: "ms?",
  lifetimeJitter: "ms",
  maxUses: "count?",
  validate: "function",
  validateAfter: "ms",
  leakWarningAfter: "ms",
  connectRetries: "count0",
  retryDelay: "ms",
  retryMaxDelay: "ms",
  failFastWindow: "ms",
  failFastMaxWindow: "ms",
  connect: "object",
  dial: "function",
  clock: "object",
  ejectAfterFailures: "count0",
  ejectionTime: "ms",
  maxEjectionTime: "ms",
  maxEjectedShare: "ratio",
  warmupBorrows: "count0",
  resolver: "object",
  resolveInterval: "ms",
  resolveMinInterval: "ms",
  resolveMaxInterval: "ms",
  channel: { renamed: "the channel option of an rpc Agent (pool.channel() moved to Agent.channel())" },
  maxSocketsPerHost: { renamed: "maxSocketsPerEndpoint" },
  maxIdle: { renamed: "maxIdlePerEndpoint" },
  minIdle: { renamed: "minIdlePerEndpoint" },
  timeout: { renamed: "acquireTimeout" },
  maxConnections: { renamed: "maxSocketsPerEndpoint" },
};

const { timeout: _t, signal: _s, ...dialSchema } = connectOptionsSchema;

/** Checks options once and fills in defaults; throws InvalidArgumentError naming the key and value. */
export function resolvePoolOptions(options: SocketPoolOptions = {}): PoolSettings {
  validateOptions("SocketPool options", options, schema);
  validateOptions("SocketPool options.connect", options.connect, dialSchema);
  checkAddressOptions("SocketPool options.connect", options.connect);
  const maxSocketsPerEndpoint = options.maxSocketsPerEndpoint ?? 10;
  const maxIdlePerEndpoint = options.maxIdlePerEndpoint ?? maxSocketsPerEndpoint;
  const minIdle = options.minIdlePerEndpoint ?? 0;
  if (minIdle > Math.min(maxIdlePerEndpoint, maxSocketsPerEndpoint)) {
    throw new InvalidArgumentError(
      `SocketPool options.minIdlePerEndpoint must not exceed maxIdlePerEndpoint and maxSocketsPerEndpoint, got ${minIdle}`,
    );
  }
  checkServiceOptions(options);
  const maxLifetime = orNever(options.maxLifetime ?? Number.POSITIVE_INFINITY);
  return {
    maxSocketsPerEndpoint,
    maxSockets: options.maxSockets ?? Number.POSITIVE_INFINITY,
    maxIdlePerEndpoint,
    minIdlePerEndpoint: minIdle,
    maxWaiting: options.maxWaiting ?? Number.POSITIVE_INFINITY,
    acquireTimeout: orNever(options.acquireTimeout ?? 10_000),
    connectTimeout: orNever(options.connectTimeout ?? 10_000),
    idleTimeout: orNever(options.idleTimeout ?? 30_000),
    maxLifetime,
    lifetimeJitter: options.lifetimeJitter ?? (Number.isFinite(maxLifetime) ? maxLifetime / 10 : 0),
    maxUses: options.maxUses ?? Number.POSITIVE_INFINITY,
    validate: options.validate,
    validateAfter: options.validateAfter ?? 1000,
    leakWarningAfter: options.leakWarningAfter,
    connectRetries: options.connectRetries ?? 0,
    retryDelay: options.retryDelay ?? 100,
    retryMaxDelay: options.retryMaxDelay ?? 2000,
    failFastWindow: options.failFastWindow ?? 100,
    failFastMaxWindow: orNever(options.failFastMaxWindow ?? 5000),
    connect: { ...options.connect },
    dial: options.dial,
    clock: options.clock ?? systemClock,
    ejectAfterFailures: options.ejectAfterFailures ?? 5,
    ejectionTime: options.ejectionTime ?? 10_000,
    maxEjectionTime: options.maxEjectionTime ?? 300_000,
    maxEjectedShare: options.maxEjectedShare ?? 0.5,
    warmupBorrows: options.warmupBorrows ?? 10,
    resolver: options.resolver,
    resolveInterval: options.resolveInterval,
    resolveMinInterval: options.resolveMinInterval ?? 1000,
    resolveMaxInterval: options.resolveMaxInterval ?? 30_000,
  };
}

/** The cross-checks of the service options: the resolver's methods, min ≤ max intervals. */
function checkServiceOptions(options: SocketPoolOptions): void {
  const resolver = options.resolver as unknown as Record<string, unknown> | undefined;
  for (const method of ["resolveSrv", "resolve4", "resolve6"]) {
    if (resolver !== undefined && typeof resolver[method] !== "function") {
      throw new InvalidArgumentError(
        `SocketPool options.resolver must have a ${method}() method (a dns.promises.Resolver does), got ${quote(resolver)}`,
      );
    }
  }
  const min = options.resolveMinInterval ?? 1000;
  const max = options.resolveMaxInterval ?? 30_000;
  if (min > max) {
    throw new InvalidArgumentError(
      `SocketPool options.resolveMinInterval (${min}) must not exceed resolveMaxInterval (${max})`,
    );
  }
}
