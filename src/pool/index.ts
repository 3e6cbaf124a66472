export type { Dialer, SocketPoolOptions } from "./options.js";
export {
  type LeakReport,
  type PoolCloseOptions,
  type PooledChannel,
  SocketPool,
  type SocketPoolEvent,
  type UseOptions,
} from "./socket-pool.js";
export type { DestroyReason, EndpointStats, PoolStats, WaitPercentiles } from "./stats.js";
