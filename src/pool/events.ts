import type { Connection } from "../connection/connection.js";
import type { ReplicaEvent, ResolveErrorEvent } from "./replica.js";
import type { DestroyReason } from "./stats.js";

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
 * - `leak (report: LeakReport)`;
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
