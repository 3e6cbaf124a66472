export type { LeakReport, SocketPoolEvent, SocketPoolEvents } from "./events.js";
export type { Dialer, SocketPoolOptions } from "./options.js";
export { type PoolCloseOptions, type PoolState, SocketPool } from "./socket-pool.js";
export type { DestroyReason, EndpointStats, PoolStats, WaitPercentiles } from "./stats.js";
export type { UseOptions } from "./use.js";
