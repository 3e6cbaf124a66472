import { InvalidArgumentError, quote } from "../errors.js";
import { type Schema, validateOptions } from "../internal/validate.js";

/** Options of {@link redisBus}. Durations in ms. */
export interface RedisBusOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. Required. */
  url: string;
  /** The room: every bus with the same Redis and room shares its broadcasts. Required. */
  room: string;
  /** The stream's key is this prefix and the room. Default `"sockpool:room:"`. */
  keyPrefix?: string | undefined;
  /**
   * The stream keeps about this many messages (`XADD … MAXLEN ~`): how far a reader that lost
   * its connection can fall behind and still resume without a gap. Default 10 000.
   */
  maxLen?: number | undefined;
  /** Outbox bound in messages: published while Redis is unreachable. Default 10 000. */
  maxQueued?: number | undefined;
  /** Outbox bound in bytes of payload. Default 16 MiB. */
  maxQueuedBytes?: number | undefined;
  /** How long one `XREAD BLOCK` waits for news before asking again. Default 1000. */
  blockTimeout?: number | undefined;
  /** First reconnect delay after a failure; it doubles per attempt, with jitter. Default 100. */
  reconnectDelay?: number | undefined;
  /** Longest reconnect delay. Default 2000. */
  maxReconnectDelay?: number | undefined;
  /** Deadline of each connection attempt. Default 5000. */
  connectTimeout?: number | undefined;
  /** How long `close()` waits for the outbox to reach Redis before giving up. Default 2000. */
  closeTimeout?: number | undefined;
}

/** The options after defaults. */
export type RedisBusSettings = Required<{ [K in keyof RedisBusOptions]: NonNullable<RedisBusOptions[K]> }> & {
  /** The stream's key. */
  readonly key: string;
};

const schema: Schema = {
  url: "string",
  room: "string",
  keyPrefix: "string",
  maxLen: "count",
  maxQueued: "count",
  maxQueuedBytes: "bytes",
  blockTimeout: "count",
  reconnectDelay: "count",
  maxReconnectDelay: "count",
  connectTimeout: "count",
  closeTimeout: "ms",
};

/** Checks the options once (InvalidArgumentError naming the key and value) and fills in defaults. */
export function resolveRedisBusOptions(options: RedisBusOptions): RedisBusSettings {
  validateOptions("redisBus options", options, schema);
  const { url, room } = options ?? {};
  if (typeof url !== "string" || !isRedisUrl(url)) {
    throw new InvalidArgumentError(
      `redisBus options.url must be a redis:// or rediss:// URL, got ${quote(url === undefined ? url : redactUrl(url))}`,
    );
  }
  if (typeof room !== "string" || room === "") {
    throw new InvalidArgumentError(`redisBus options.room must be a non-empty string, got ${quote(room)}`);
  }
  const keyPrefix = options.keyPrefix ?? "sockpool:room:";
  const reconnectDelay = options.reconnectDelay ?? 100;
  return {
    url,
    room,
    keyPrefix,
    key: keyPrefix + room,
    maxLen: options.maxLen ?? 10_000,
    maxQueued: options.maxQueued ?? 10_000,
    maxQueuedBytes: options.maxQueuedBytes ?? 16 * 1024 * 1024,
    blockTimeout: options.blockTimeout ?? 1000,
    reconnectDelay,
    maxReconnectDelay: Math.max(reconnectDelay, options.maxReconnectDelay ?? 2000),
    connectTimeout: options.connectTimeout ?? 5000,
    closeTimeout: options.closeTimeout ?? 2000,
  };
}

function isRedisUrl(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return (protocol === "redis:" || protocol === "rediss:") && hostname !== "";
  } catch {
    return false;
  }
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === "") return url;
    u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
  }
}

/**
 * The delay before reconnect attempt `attempt` (0 first): doubling from `base`, capped at
 * `max`, with "equal jitter" (half fixed, half random), so processes that lost Redis together
 * do not all come back in the same millisecond, and none waits less than half its step.
 */
export function backoff(attempt: number, base: number, max: number, random = Math.random): number {
  const step = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
