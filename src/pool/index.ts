export type { Dialer, SocketPoolOptions } from "./options.js";
export {
  type LeakReport,
  type PoolCloseOptions,
  type PoolState,
  SocketPool,
  type SocketPoolEvent,
} from "./socket-pool.js";
export type { DestroyReason, EndpointStats, PoolStats, WaitPercentiles } from "./stats.js";
export type { UseOptions } from "./use.js";
