/**
 * What `bench` loads: an echo server (or a service of echo replicas) through a SocketPool
 * (one request per socket at a time), or with `--rpc` an RPC echo server through a
 * ChannelPool (many requests per socket).
 */
import {
  BadFrameError,
  ChannelPool,
  type ChannelPoolOptions,
  InvalidArgumentError,
  parseTarget,
  type ServiceResolver,
  SocketPool,
  type SocketPoolOptions,
} from "../index.js";
import type { RequestFn } from "./load.js";
import { checkEcho, checkRpcEcho, PREFLIGHT_WINDOW } from "./preflight.js";

/** The part of the bench settings a target needs. */
export interface TargetSettings {
  /** One endpoint, or a service: `A,B,C`, `srv:NAME`, `dns:HOST:PORT`. */
  target: string;
  pool: number;
  size: number;
  /** Ms per connect, acquire, write and read; `Infinity`: no timeout. */
  timeout: number;
  /** PEM certificates to trust for `tls://` replicas (`--ca`), instead of the system's. */
  ca?: string | undefined;
  /** Resolves `srv:`/`dns:` targets (`--resolver`); default the system's DNS servers. */
  resolver?: ServiceResolver | undefined;
  /** More pool options (benches pass a dial hook, a shorter ejection…). */
  poolOptions?: SocketPoolOptions | undefined;
}

/** One replica's part of a run over a service: borrows, failed attempts, where it ended up. */
export interface ReplicaShare {
  endpoint: string;
  /** Borrows it served (requests, retries included). */
  requests: number;
  /** `requests` over all replicas' requests, 0 to 1. */
  share: number;
  /** Failed attempts there: connect failures and sockets that died before replying. */
  errors: number;
  state: string;
  ejections: number;
}

/**
 * Sockets a run used: `opened` in all; `reused`: requests carried by a socket already open;
 * `retries`: requests run again on a fresh socket because a reused one had died unseen.
 */
export interface SocketCounts {
  opened: number;
  reused: number;
  retries: number;
}

export interface BenchTarget {
  /**
   * One round trip of a request's payload before the run, on a pool of its own (so the
   * run's figures leave it out): a server that is not there is one clear error, not N, and
   * one that does not echo within `windowMs` (default 2 s; `Infinity`: no limit) is
   * InvalidArgumentError "… did not echo a 1 KiB message within 2 s …". `signal` stops it
   * (AbortError).
   */
  preflight(windowMs?: number, signal?: AbortSignal): Promise<void>;
  request: RequestFn;
  sockets(): SocketCounts;
  /** Each replica's share, for a service; undefined for one endpoint. */
  replicas(): ReplicaShare[] | undefined;
  close(): Promise<void>;
}

/**
 * A payload of `size` bytes: letters, a newline last (so line servers answer too), and the
 * request's sequence number stamped at the start, so a reply meant for another request
 * cannot pass the check.
 */
export function payloadMaker(size: number): (seq: number) => Buffer {
  const template = Buffer.alloc(size);
  for (let i = 0; i < size; i++) template[i] = 97 + (i % 26);
  template[size - 1] = 10;
  const width = Math.min(size - 1, 12);
  return (seq) => {
    const payload = Buffer.from(template);
    if (width > 0) payload.write(String(seq).padStart(width, "0").slice(-width), "latin1");
    return payload;
  };
}

function mismatch(seq: number, size: number): BadFrameError {
  return new BadFrameError(`echo of bench request ${seq} differs from the ${size} bytes sent`);
}

/**
 * Echo over a SocketPool: borrow, write the payload, read as many bytes back, compare. An echo
 * is idempotent, so a reused socket found dead before any reply byte (a one-shot server's FIN
 * still in flight) is retried once on a fresh socket (`retryOnStale`), and counted.
 */
export function socketTarget(s: TargetSettings): BenchTarget & { readonly pool: SocketPool } {
  const { key, kind } = parseTarget(s.target);
  const service = kind !== "endpoint";
  // K sockets per replica, not K shared by all: under an even spread, replicas sharing a
  // tight maxSockets keep closing each other's idle sockets to dial their own.
  const options = (max: number): SocketPoolOptions => ({
    maxSocketsPerEndpoint: max,
    connectTimeout: s.timeout,
    acquireTimeout: s.timeout,
    resolver: s.resolver,
    ...s.poolOptions,
    connect: { ...(s.ca !== undefined && { tls: { ca: s.ca } }), ...s.poolOptions?.connect },
  });
  const pool = new SocketPool(options(s.pool));
  const make = payloadMaker(s.size);
  const timeout = finite(s.timeout);
  return {
    pool,
    preflight: async (windowMs = PREFLIGHT_WINDOW, signal = undefined) => {
      const probe = new SocketPool(options(1));
      try {
        await probe.use(s.target, (conn) => checkEcho(conn, make(0), windowMs), { signal });
      } finally {
        await probe.close({ timeout: 1000 });
      }
    },
    request: (seq, signal) =>
      pool.use(
        s.target,
        async (conn) => {
          const payload = make(seq);
          await conn.write(payload, { timeout });
          const reply = await conn.readExactly(s.size, { timeout });
          if (!reply.equals(payload)) throw mismatch(seq, s.size);
          return s.size;
        },
        { retryOnStale: true, signal },
      ),
    sockets: () => {
      const st = pool.stats();
      return { opened: st.created, reused: st.reused, retries: st.retries };
    },
    replicas: () => (service ? replicaShares(pool, key) : undefined),
    close: () => pool.close({ timeout: 2000 }),
  };
}

/** Each replica of the service `key` with its requests, share and errors, busiest first. */
function replicaShares(pool: SocketPool, key: string): ReplicaShare[] {
  const replicas = Object.entries(pool.stats().services[key]?.replicas ?? {});
  const total = replicas.reduce((sum, [, r]) => sum + r.acquired, 0);
  return replicas
    .map(([endpoint, r]) => ({
      endpoint,
      requests: r.acquired,
      share: total > 0 ? Math.round((r.acquired / total) * 10_000) / 10_000 : 0,
      errors: r.failures,
      state: r.state,
      ejections: r.ejections,
    }))
    .sort((a, b) => b.requests - a.requests || a.endpoint.localeCompare(b.endpoint));
}

/** RPC echo over a ChannelPool: each request is one frame; the reply must carry it back. */
export function rpcTarget(s: TargetSettings): BenchTarget {
  const target = parseTarget(s.target);
  if (target.kind !== "endpoint") {
    throw new InvalidArgumentError(`--rpc takes one endpoint, not the service ${JSON.stringify(s.target)}`);
  }
  const endpoint = target.endpoint;
  const timeout = finite(s.timeout);
  const options = (max: number): ChannelPoolOptions => ({
    maxChannelsPerEndpoint: max,
    channel: {
      connect: { timeout: s.timeout, ...(s.ca !== undefined && { tls: { ca: s.ca } }) },
      requestTimeout: timeout,
    },
  });
  const pool = new ChannelPool(options(s.pool));
  const make = payloadMaker(s.size);
  let sent = 0;
  return {
    preflight: async (windowMs = PREFLIGHT_WINDOW, signal = undefined) => {
      const probe = new ChannelPool(options(1));
      try {
        await checkRpcEcho(probe, endpoint, make(0), windowMs, signal);
      } finally {
        await probe.close();
      }
    },
    request: async (seq, signal) => {
      const payload = make(seq);
      sent++;
      const reply = await pool.request(endpoint, payload, { signal });
      if (!reply.equals(payload)) throw mismatch(seq, s.size);
      return s.size;
    },
    sockets: () => {
      const opened = pool.stats().opened;
      return { opened, reused: Math.max(0, sent - opened), retries: 0 };
    },
    replicas: () => undefined,
    close: () => pool.close(),
  };
}

/** A timeout for one operation: undefined when there is none. */
function finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}
