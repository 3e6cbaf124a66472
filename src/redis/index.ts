/**
 * sockpool/redis: a broadcast bus on Redis Streams. It needs the `redis` package (node-redis),
 * an optional peer dependency of sockpool: `npm install redis`.
 */
export type { Bus, BusEvents, BusOutage, BusRecovery, BusState, BusStats } from "../server/bus.js";
export type { RedisBusOptions } from "./options.js";
export { RedisBus, type RedisBusStats, redisBus } from "./redis-bus.js";
