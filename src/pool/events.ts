import type { Connection } from "../connection/connection.js";
import type { AcquireTimeoutError } from "../errors.js";
import type { ReplicaEvent, ResolveErrorEvent } from "./replica.js";
import type { DestroyReason } from "./stats.js";
import type { TargetInput } from "./target.js";

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
 * A SocketPool's events, all emitted synchronously, with their listener arguments:
 * - `create (conn, endpointKey)`: a socket was opened;
 * - `acquire (conn, endpointKey, reused)`, `release (conn, endpointKey)`;
 * - `destroy (conn | undefined, endpointKey, reason: DestroyReason, error)`: `error` is the
 *   socket error behind it, or undefined;
 * - `connectError (error, endpointKey)`: one dial attempt failed (each retry counts); `error`
 *   is a ConnectError or ConnectTimeoutError, or what a custom `dial` threw;
 * - `acquireTimeout (error, endpointKey)`: an acquire waited past its timeout;
 * - `leak (report: LeakReport)`: without a listener, a `SockpoolLeakWarning` process warning;
 * - for services of replicas, each with a {@link ReplicaEvent}: `join` (a replica joined:
 *   the first set, or one DNS added), `eject` (consecutive failures took it out of rotation
 *   until `ejectedUntil`), `return` (its probe succeeded: back, warming up), `drain` (DNS
 *   dropped it: no new borrows, its sockets close) and `leave` (its last borrow ended);
 * - `resolve-error ({ service, error })`: a `srv:`/`dns:` resolution failed (the last good
 *   set stays); once per run of failures.
 */
export interface SocketPoolEvents {
  create: [conn: Connection, endpoint: string];
  acquire: [conn: Connection, endpoint: string, reused: boolean];
  release: [conn: Connection, endpoint: string];
  destroy: [conn: Connection | undefined, endpoint: string, reason: DestroyReason, error: unknown];
  connectError: [error: unknown, endpoint: string];
  acquireTimeout: [error: AcquireTimeoutError, endpoint: string];
  leak: [report: LeakReport];
  join: [event: ReplicaEvent];
  eject: [event: ReplicaEvent];
  return: [event: ReplicaEvent];
  drain: [event: ReplicaEvent];
  leave: [event: ReplicaEvent];
  "resolve-error": [event: ResolveErrorEvent];
}

/** A {@link SocketPoolEvents} name. */
export type SocketPoolEvent = keyof SocketPoolEvents;

// --- diagnostics_channel messages (see src/diagnostics.ts and docs/diagnostics.md) ---------

/** `sockpool:pool:create`: a socket was opened. */
export interface PoolCreateMessage {
  connection: Connection;
  endpoint: string;
}

/** `sockpool:pool:acquire`: a socket was handed out; `reused`: it had served before. */
export interface PoolAcquireMessage {
  connection: Connection;
  endpoint: string;
  reused: boolean;
}

/** `sockpool:pool:release`: a borrowed socket came back (pooled or then destroyed). */
export interface PoolReleaseMessage {
  connection: Connection;
  endpoint: string;
}

/** `sockpool:pool:destroy`: the pool closed a socket, for `reason`. */
export interface PoolDestroyMessage {
  connection: Connection | undefined;
  endpoint: string;
  reason: DestroyReason;
  error: unknown;
}

/** `sockpool:pool:connectError`: one dial attempt failed. */
export interface PoolConnectErrorMessage {
  endpoint: string;
  error: unknown;
}

/** `sockpool:pool:acquireTimeout`: an acquire waited past its timeout. */
export interface PoolAcquireTimeoutMessage {
  endpoint: string;
  error: AcquireTimeoutError;
}

/**
 * The context of the `sockpool:pool:acquire` tracing channel: one `acquire()` (or the
 * acquire of `use()`), from the call until the promise settles. Node sets `result` (the
 * Connection) or `error` on it before `asyncEnd`.
 */
export interface PoolAcquireContext {
  target: TargetInput;
  result?: Connection;
  error?: unknown;
}

/** The context of the `sockpool:pool:connect` tracing channel: one dial attempt of the pool. */
export interface PoolConnectContext {
  endpoint: string;
  /** 0 for the first attempt, then 1, 2… for retries (`connectRetries`). */
  attempt: number;
  result?: Connection;
  error?: unknown;
}
