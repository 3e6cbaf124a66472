import { type EndpointInput, parseEndpoint } from "../endpoint.js";
import { PoolClosedError } from "../errors.js";
import type { WaitOptions } from "../internal/cancel.js";
import { startTimer } from "../internal/timer.js";
import { type PoolStats, SocketPool, type SocketPoolOptions } from "../pool/index.js";
import { ChannelPool, type ChannelPoolStats } from "./channel-pool.js";
import type { ChannelOptions } from "./options.js";

export interface AgentOptions extends SocketPoolOptions {
  /**
   * Settings of the multiplexed channels (maxInFlight, maxFrameSize, requestTimeout, pings).
   * They dial with the pool's `connect` options and `connectTimeout`, and are bounded by
   * `maxSocketsPerEndpoint` on their own.
   */
  channel?: Omit<ChannelOptions, "connect"> | undefined;
}

/** Requests over the agent's shared multiplexed channels to one endpoint. */
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

export interface AgentStats {
  pool: PoolStats;
  channels: ChannelPoolStats;
}

/**
 * One client for both ways of talking to servers, as undici's Agent sits over its pools:
 * checkout sockets through `agent.pool` (a {@link SocketPool}), and requests multiplexed over
 * shared sockets through `agent.channel(endpoint)` (a {@link ChannelPool}, made on first use).
 * Channel sockets are shared, never borrowed, so they are kept apart from the checkout ones
 * and their stats. `close()` closes both within one deadline.
 */
export class Agent implements AsyncDisposable {
  readonly pool: SocketPool;
  readonly #options: AgentOptions;
  #channels: ChannelPool | undefined;

  /** Throws InvalidArgumentError naming the option and value when an option is bad. */
  constructor(options: AgentOptions = {}) {
    const { channel, ...poolOptions } = options;
    this.pool = new SocketPool(poolOptions);
    this.#options = options;
    if (channel !== undefined) this.#channelPool(); // check the channel options now
  }

  /**
   * A handle for multiplexed requests to `endpoint` (an RPC server, see docs/protocol.md):
   * requests spread over up to `maxSocketsPerEndpoint` shared sockets, least in flight first,
   * and a socket that dies is replaced for new requests. Throws InvalidEndpointError for a bad
   * endpoint and PoolClosedError once the agent is closing.
   */
  channel(endpoint: EndpointInput): PooledChannel {
    if (this.pool.state !== "open") throw new PoolClosedError("channel");
    const ep = parseEndpoint(endpoint);
    const channels = this.#channelPool();
    return { endpoint: ep.key, request: (payload, options) => channels.request(ep, payload, options) };
  }

  stats(): AgentStats {
    const channels = this.#channels?.stats() ?? { state: "open", opened: 0, openFailures: 0, endpoints: {} };
    return { pool: this.pool.stats(), channels };
  }

  /**
   * Closes the pool (see SocketPool.close) and the channels (they finish what they carry)
   * within `timeout` ms (default 5000); channels still busy then are destroyed. Idempotent.
   */
  async close(options?: { timeout?: number | undefined }): Promise<void> {
    const timeout = options?.timeout ?? 5000;
    const channels = this.#channels;
    const pool = this.pool.close({ timeout });
    if (channels !== undefined) {
      const timer = startTimer(() => channels.destroy(), timeout, true);
      await channels.close().finally(() => clearTimeout(timer));
    }
    await pool;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #channelPool(): ChannelPool {
    const o = this.#options;
    this.#channels ??= new ChannelPool({
      maxChannelsPerEndpoint: o.maxSocketsPerEndpoint ?? 10,
      channel: { ...o.channel, connect: { ...o.connect, timeout: o.connectTimeout ?? 10_000 } },
    });
    return this.#channels;
  }
}
