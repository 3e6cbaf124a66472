import type { IntervalHistogram } from "node:perf_hooks";
import { InvalidArgumentError, quote } from "../errors.js";
import { validateOptions } from "../internal/validate.js";
import type { PoolStats } from "../pool/index.js";
import type { ChannelStats, RpcServerStats } from "../rpc/index.js";
import type { ServerStats } from "../server/index.js";
import { Exposition } from "./exposition.js";
import { processMetrics } from "./process-metrics.js";
import { channelMetrics, poolsMetrics, serverMetrics } from "./stats-metrics.js";

/** Anything with a `stats()`: a live SocketPool, Server, RpcServer or Channel, or a wrapper of a snapshot. */
export interface StatsSource<S> {
  stats(): S;
}

/** What {@link renderPrometheus} writes; each map's keys become the `pool`, `server` or `channel` label. */
export interface PrometheusSources {
  /** Pools by name: one series per endpoint (labels `pool`, `endpoint`). */
  pools?: Record<string, StatsSource<PoolStats>> | undefined;
  /** Servers (plain or RPC) by name (label `server`). */
  servers?: Record<string, StatsSource<ServerStats | RpcServerStats>> | undefined;
  /** RPC channels by name (label `channel`). */
  channels?: Record<string, StatsSource<ChannelStats>> | undefined;
  /** The standard `process_…` metrics and Node's `nodejs_…` heap metrics. Default false. */
  process?: boolean | undefined;
  /**
   * An enabled `perf_hooks.monitorEventLoopDelay()` histogram, written as the summary
   * `nodejs_eventloop_delay_seconds`; the caller enables and disables it. Needs `process`.
   */
  eventLoopDelay?: IntervalHistogram | undefined;
}

const SCHEMA = {
  pools: "object",
  servers: "object",
  channels: "object",
  process: "boolean",
  eventLoopDelay: "object",
} as const;

/**
 * The sources' stats now, in Prometheus's text exposition format 0.0.4 (serve it with
 * {@link PROMETHEUS_CONTENT_TYPE}): every metric named `sockpool_…` except the process ones,
 * counters ending in `_total`, durations as histograms in seconds. Reads each source's
 * `stats()` once; returns "" when there is nothing to write.
 *
 * Throws InvalidArgumentError, naming the key and the value, for an unknown option, a map that
 * is not an object, a source without a `stats()` method, or `eventLoopDelay` without
 * `process: true` or without a `percentile()` method.
 */
export function renderPrometheus(sources: PrometheusSources): string {
  if (sources === undefined) throw new InvalidArgumentError("renderPrometheus needs sources, got undefined");
  validateOptions("renderPrometheus", sources, SCHEMA);
  const loop = sources.eventLoopDelay;
  if (loop !== undefined) {
    if (typeof loop.percentile !== "function") {
      throw new InvalidArgumentError(
        `renderPrometheus.eventLoopDelay must be a monitorEventLoopDelay() histogram, got ${quote(loop)}`,
      );
    }
    if (sources.process !== true) {
      throw new InvalidArgumentError("renderPrometheus.eventLoopDelay is a process metric: add process: true");
    }
  }
  const out = new Exposition();
  for (const [name, pool] of entries("pools", sources.pools)) poolsMetrics(out, name, pool.stats());
  for (const [name, server] of entries("servers", sources.servers)) serverMetrics(out, name, server.stats());
  for (const [name, channel] of entries("channels", sources.channels)) channelMetrics(out, name, channel.stats());
  if (sources.process === true) processMetrics(out, loop);
  return out.text();
}

/** The sources of one map, each checked to have a `stats()` method. */
function entries<S>(key: string, map: Record<string, StatsSource<S>> | undefined): Array<[string, StatsSource<S>]> {
  if (map === undefined) return [];
  if (Array.isArray(map)) {
    throw new InvalidArgumentError(`renderPrometheus.${key} must map names to sources, got an array`);
  }
  const list = Object.entries(map);
  for (const [name, source] of list) {
    if (typeof (source as Partial<StatsSource<S>> | null)?.stats !== "function") {
      throw new InvalidArgumentError(
        `renderPrometheus.${key}[${quote(name)}] must have a stats() method, got ${quote(source)}`,
      );
    }
  }
  return list;
}
