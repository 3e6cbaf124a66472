import { type ConnectOptions, checkAddressOptions, connectOptionsSchema } from "../connection/connect.js";
import { InvalidArgumentError } from "../errors.js";
import { type Schema, validateOptions } from "../internal/validate.js";
import { DEFAULT_MAX_FRAME_SIZE } from "./frame.js";

/** The default mark on a channel's unsent bytes. */
export const DEFAULT_CHANNEL_HIGH_WATER_MARK = 1024 * 1024;

/** Settings of one multiplexed channel; durations in ms. */
export interface ChannelOptions {
  /** Requests outstanding at once; more wait, FIFO. Default 100. */
  maxInFlight?: number | undefined;
  /** Largest frame body (5 + payload bytes) sent or accepted. Default 1 MiB. */
  maxFrameSize?: number | undefined;
  /** Default timeout of each request (slot wait + reply). Default: none. */
  requestTimeout?: number | undefined;
  /** Idle time before a ping is sent. Default 15 000; `Infinity` turns pings off. */
  pingInterval?: number | undefined;
  /** How long a ping may go unanswered (no byte at all) before the peer is declared dead. Default 10 000. */
  pingTimeout?: number | undefined;
  /**
   * Unsent bytes (requests, cancels, pings and pongs the kernel has not taken yet) past
   * which the channel stops adding to them until they have all gone out: new requests wait
   * (FIFO, under their own timeout) and only the latest ping that arrives meanwhile gets a
   * pong, sent on drain. Reading never stops, so replies keep coming. Default 1 MiB.
   */
  highWaterMark?: number | undefined;
  /** How to dial, for `openChannel()` and ChannelPool: `timeout` (connect), `tls`, `localAddress`… */
  connect?: Omit<ConnectOptions, "signal"> | undefined;
}

export interface ResolvedChannelOptions {
  maxInFlight: number;
  maxFrameSize: number;
  requestTimeout: number | undefined;
  pingInterval: number;
  pingTimeout: number;
  highWaterMark: number;
}

export const channelOptionsSchema: Schema = {
  maxInFlight: "count",
  maxFrameSize: "bytes",
  requestTimeout: "ms?",
  pingInterval: "ms?",
  pingTimeout: "ms",
  highWaterMark: "bytes",
  connect: "object",
  timeout: { renamed: "requestTimeout (or connect.timeout for the connect timeout)" },
};

/** Checks a ChannelOptions bag (InvalidArgumentError naming key and value) and fills defaults. */
export function resolveChannelOptions(options: ChannelOptions): ResolvedChannelOptions {
  validateOptions("channel options", options, channelOptionsSchema);
  if (options.connect !== undefined) {
    validateOptions("channel options.connect", options.connect, {
      ...connectOptionsSchema,
      signal: { renamed: "openChannel's signal" },
    });
    checkAddressOptions("channel options.connect", options.connect);
  }
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (maxFrameSize < 5 || maxFrameSize > 0xffffffff) {
    throw new InvalidArgumentError(`channel options.maxFrameSize must be from 5 to 4294967295, got ${maxFrameSize}`);
  }
  return {
    maxInFlight: options.maxInFlight ?? 100,
    maxFrameSize,
    requestTimeout: options.requestTimeout,
    pingInterval: options.pingInterval === 0 ? Number.POSITIVE_INFINITY : (options.pingInterval ?? 15_000),
    pingTimeout: options.pingTimeout ?? 10_000,
    highWaterMark: options.highWaterMark ?? DEFAULT_CHANNEL_HIGH_WATER_MARK,
  };
}
