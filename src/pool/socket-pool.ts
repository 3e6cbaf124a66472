import { EventEmitter } from "node:events";
import type { Connection } from "../connection/connection.js";
import { type EndpointInput, parseEndpoint } from "../endpoint.js";
import { AbortError, NotBorrowedError, PoolClosedError } from "../errors.js";
import { throwIfAborted, type WaitOptions } from "../internal/cancel.js";
import { startTimer } from "../internal/timer.js";
import { validateOptions } from "../internal/validate.js";
import { ChannelPool } from "../rpc/channel-pool.js";
import { EndpointPool, type PoolHost } from "./endpoint-pool.js";
import type { Lease, PooledSocket } from "./lease.js";
import { type PoolSettings, resolvePoolOptions, type SocketPoolOptions } from "./options.js";
import { Counters, type DestroyReason, type EndpointStats, type PoolStats } from "./stats.js";

export interface UseOptions extends WaitOptions {
  /**
   * The request is idempotent: if a reused socket turns out dead before any byte of the
   * reply arrived, run `fn` once more on a fresh socket. Without it, the retry happens only
   * when nothing was written. Default false.
   */
  retryOnStale?: boolean | undefined;
}

export interface PoolCloseOptions {
  /** How long borrowed sockets may take to come back before they are destroyed. Default 5000. */
  timeout?: number | undefined;
}

/** What a 'leak' event carries. */
export interface LeakReport {
  endpoint: string;
  /** The acquire's stack (when `leakWarningAfter` is set). */
  stack: string | undefined;
  heldMs: number;
  /** True when the connection was garbage-collected unreleased (its slot is recovered). */
  collected: boolean;
}

/**
 * Requests over the pool's shared multiplexed channels to one endpoint (see `pool.channel()`).
 */
export interface PooledChannel {
  /** The endpoint's key. */
  readonly endpoint: string;
  /**
   * Sends one request and resolves with its reply, whatever order replies arrive in. Rejects
   * like `Channel.request` (RequestTimeoutError, AbortError, RemoteError,
   * ConnectionClosedError when the socket it rode on died), plus PoolClosedError.
   */
  request(payload: Uint8Array | string, options?: WaitOptions): Promise<Buffer>;
}

/**
 * Events, all emitted synchronously:
 * - `create (conn, endpointKey)`: a socket was opened;
 * - `acquire (conn, endpointKey, reused)`, `release (conn, endpointKey)`;
 * - `destroy (conn | undefined, endpointKey, reason: DestroyReason, error?)`;
 * - `leak (report: LeakReport)`.
 */
export type SocketPoolEvent = "create" | "acquire" | "release" | "destroy" | "leak";

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
 * - `#records`: every socket this pool opened → its record (weak: never keeps one alive).
 * - `#slots`: sockets open or dialing across all endpoints (≤ maxSockets); `#starved`:
 *   endpoints with waiters that could not get a slot, oldest first; `#evicting`: inside
 *   takeSlot, so a freed slot is not handed to someone else.
 * - `#total`: cumulative counters, kept when endpoints leave the map.
 * - `#closing`: the close() promise once closing (final); `#graceful`: sockets sent FIN
 *   whose close is still under way.
 * - `#channels`: the multiplexed channels behind `channel()`, made on first use. They are
 *   separate sockets from the checkout ones (a channel is shared, never borrowed), bounded
 *   by maxSocketsPerEndpoint on their own.
 */
export class SocketPool extends EventEmitter implements AsyncDisposable {
  readonly #s: PoolSettings;
  readonly #endpoints = new Map<string, EndpointPool>();
  readonly #keys = new Map<string, string>();
  readonly #records = new WeakMap<Connection, PooledSocket>();
  readonly #total = new Counters();
  readonly #starved = new Set<EndpointPool>();
  readonly #graceful = new Set<Connection>();
  #slots = 0;
  #evicting = false;
  #closing: Promise<void> | undefined;
  #channels: ChannelPool | undefined;
  readonly #host: PoolHost;

  /** Throws InvalidArgumentError naming the option and value when an option is bad. */
  constructor(options?: SocketPoolOptions) {
    super();
    this.#s = resolvePoolOptions(options);
    this.#host = {
      settings: this.#s,
      total: this.#total,
      takeSlot: (pool) => this.#takeSlot(pool),
      giveSlot: () => this.#giveSlot(),
      track: (conn, record) => this.#records.set(conn, record),
      closing: (conn) => {
        this.#graceful.add(conn);
        conn.closed.then(() => this.#graceful.delete(conn));
      },
      forget: (pool) => {
        if (this.#endpoints.get(pool.key) === pool) this.#endpoints.delete(pool.key);
        this.#starved.delete(pool);
      },
      emit: (event, a, b, c, d) => this.emit(event, a, b, c, d),
    };
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Borrows a connection to `endpoint`: a healthy idle one (most recently used first), else a
   * new one once the endpoint has a free slot; waiters are served first come, first served.
   * Give it back with `release()` or `await using`. Resolves with the connection
   * (`conn.reused` tells whether it served before). Rejects with InvalidEndpointError,
   * InvalidArgumentError, PoolClosedError, QueueFullError (maxWaiting reached),
   * EndpointUnavailableError (failing fast after connect failures; cause: the last one),
   * ConnectError or ConnectTimeoutError (the dial made for this acquire failed),
   * AcquireTimeoutError after `timeout` (default acquireTimeout; cause: the last dial error),
   * or AbortError when `signal` aborts (cause: its reason). A rejected acquire leaves nothing behind.
   */
  acquire(endpoint: EndpointInput, options?: WaitOptions): Promise<Connection> {
    return this.#acquire(endpoint, options, false);
  }

  #acquire(endpoint: EndpointInput, options: WaitOptions | undefined, fresh: boolean): Promise<Connection> {
    if (this.#closing) return Promise.reject(new PoolClosedError("acquire"));
    let pool: EndpointPool;
    try {
      if (options !== undefined) validateOptions("acquire options", options, acquireSchema);
      pool = this.#pool(endpoint);
    } catch (err) {
      return Promise.reject(err);
    }
    const stack = this.#s.leakWarningAfter === undefined ? undefined : new Error("acquired here").stack;
    return pool.acquire(options, stack, fresh);
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
      if (this.#closing && record?.state === "gone") return Promise.resolve();
      return Promise.reject(new NotBorrowedError("release", conn.where));
    }
    return lease.owner.releaseLease(lease, conn);
  }

  /** Destroys a borrowed connection at once (its slot frees up). Throws NotBorrowedError otherwise. */
  destroy(conn: Connection, err?: Error): void {
    const record = this.#records.get(conn);
    const lease = record?.lease;
    if (record === undefined || lease === undefined) throw new NotBorrowedError("destroy", conn.where);
    (lease.owner as EndpointPool).destroyLent(lease, conn, "user", err);
  }

  /**
   * Runs `fn` with a borrowed connection and releases it afterwards; if `fn` throws, the
   * connection is destroyed, not returned. If the socket was reused and died before any
   * reply byte arrived, `fn` runs once more on a fresh socket when `retryOnStale` is set or
   * nothing was written. An abort of `signal` while `fn` runs destroys the connection, so
   * its pending reads reject with AbortError. Resolves with what `fn` returns; rejects with
   * what acquire() rejects with, or what `fn` throws.
   */
  async use<T>(endpoint: EndpointInput, fn: (conn: Connection) => Promise<T>, options?: UseOptions): Promise<T> {
    if (options !== undefined) validateOptions("use options", options, useSchema);
    const acquireOptions = options && { signal: options.signal, timeout: options.timeout };
    for (let attempt = 0; ; attempt++) {
      const conn = await this.#acquire(endpoint, acquireOptions, attempt > 0);
      // This borrow's identity: once spent (fn released the socket itself, say), ending it
      // again does nothing, even if the socket has since been lent to someone else.
      const lease = this.#records.get(conn)?.lease;
      const read0 = conn.bytesRead;
      const written0 = conn.bytesWritten;
      const signal = options?.signal;
      const onAbort = () => this.#discard(lease, conn, new AbortError(`use of ${conn.where}`, signal?.reason));
      signal?.addEventListener("abort", onAbort, { once: true });
      let result: T;
      try {
        // An abort after the acquire resolved but before the listener was added.
        throwIfAborted(`use of ${conn.where}`, signal);
        result = await fn(conn);
      } catch (err) {
        const died = conn.readableEnded || conn.error !== undefined || conn.state !== "open";
        const stale = conn.reused && died && conn.bytesRead === read0;
        const retry = stale && attempt === 0 && (options?.retryOnStale === true || conn.bytesWritten === written0);
        this.#discard(lease, conn, err);
        if (retry && !signal?.aborted) {
          (lease?.owner as EndpointPool | undefined)?.recordRetry();
          continue;
        }
        throw err;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      await lease?.release(conn);
      return result;
    }
  }

  /**
   * A handle for multiplexed requests to `endpoint` (an rpc server, see docs/protocol.md):
   * requests spread over up to `maxSocketsPerEndpoint` shared sockets, least in flight first,
   * and a socket that dies is replaced for new requests. Throws InvalidEndpointError for a bad
   * endpoint and PoolClosedError once the pool is closing.
   */
  channel(endpoint: EndpointInput): PooledChannel {
    if (this.#closing) throw new PoolClosedError("channel");
    const ep = parseEndpoint(endpoint);
    this.#channels ??= new ChannelPool({
      maxChannelsPerEndpoint: this.#s.maxPerEndpoint,
      channel: { ...this.#s.channel, connect: { ...this.#s.connect, timeout: this.#s.connectTimeout } },
    });
    const channels = this.#channels;
    return { endpoint: ep.key, request: (payload, options) => channels.request(ep, payload, options) };
  }

  /** Counters and gauges per endpoint (by key) and in total; totals survive endpoints leaving. */
  stats(): PoolStats {
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
    return { ...this.#total.snapshot(gauges), endpoints };
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
    this.#closing = this.#shutdown(options?.timeout ?? 5000);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = startTimer(() => resolve(false), timeout, true);
    });
    try {
      const channels = this.#channels?.close().then(() => true as const);
      const pools = [...this.#endpoints.values()];
      const drained = Promise.all(pools.map((p) => p.close())).then(() => true as const);
      if (!(await Promise.race([drained, deadline]))) for (const p of pools) p.destroyBorrowed();
      await drained;
      const closes = Promise.all([...this.#graceful].map((c) => c.closed)).then(() => true as const);
      if (!(await Promise.race([closes, deadline]))) for (const c of this.#graceful) c.destroy();
      await closes;
      if (channels && !(await Promise.race([channels, deadline]))) this.#channels?.destroy();
      await channels;
    } finally {
      clearTimeout(timer);
    }
  }

  #pool(endpoint: EndpointInput): EndpointPool {
    const cached = typeof endpoint === "string" ? this.#keys.get(endpoint) : undefined;
    const found = cached === undefined ? undefined : this.#endpoints.get(cached);
    if (found !== undefined) return found;
    const ep = parseEndpoint(endpoint);
    if (typeof endpoint === "string") {
      if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.clear();
      this.#keys.set(endpoint, ep.key);
    }
    let pool = this.#endpoints.get(ep.key);
    if (pool === undefined) {
      pool = new EndpointPool(ep, this.#host);
      this.#endpoints.set(ep.key, pool);
      if (this.#s.minIdle > 0) pool.pump(); // warm sockets
    }
    return pool;
  }

  /** Destroys the socket of `lease` unless that borrow already ended. */
  #discard(lease: Lease | undefined, conn: Connection, err: unknown): void {
    if (lease === undefined || lease.spent) return;
    const reason: DestroyReason =
      conn.error !== undefined ? "error" : conn.readableEnded || conn.state !== "open" ? "peer-closed" : "user";
    (lease.owner as EndpointPool).destroyLent(lease, conn, reason, err);
  }

  #takeSlot(pool: EndpointPool): boolean {
    if (this.#slots < this.#s.maxSockets) {
      this.#slots++;
      return true;
    }
    this.#evicting = true;
    try {
      for (const other of this.#endpoints.values()) {
        if (other !== pool && other.evictIdle()) {
          this.#slots++;
          return true;
        }
      }
    } finally {
      this.#evicting = false;
    }
    this.#starved.add(pool);
    return false;
  }

  #giveSlot(): void {
    this.#slots--;
    if (this.#evicting || this.#closing) return;
    while (this.#starved.size > 0 && this.#slots < this.#s.maxSockets) {
      const first = this.#starved.values().next().value as EndpointPool;
      this.#starved.delete(first);
      first.pump();
    }
  }
}
