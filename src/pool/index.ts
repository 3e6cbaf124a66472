export type { AddressWithTtl, ServiceResolver, SrvRecordLike } from "./discovery.js";
export type {
  LeakReport,
  PoolAcquireContext,
  PoolAcquireMessage,
  PoolAcquireTimeoutMessage,
  PoolConnectContext,
  PoolConnectErrorMessage,
  PoolCreateMessage,
  PoolDestroyMessage,
  PoolReleaseMessage,
  SocketPoolEvent,
  SocketPoolEvents,
} from "./events.js";
export type { Dialer, SocketPoolOptions } from "./options.js";
export type { ReplicaEvent, ReplicaState, ReplicaStats, ResolveErrorEvent, ServiceStats } from "./replica.js";
export { type PoolCloseOptions, type PoolState, SocketPool } from "./socket-pool.js";
export type { DestroyReason, DurationStats, EndpointStats, PoolStats, WaitPercentiles } from "./stats.js";
export { parseTarget, type ServiceTarget, type Target, type TargetInput } from "./target.js";
export type { UseOptions } from "./use.js";
