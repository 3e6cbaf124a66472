import { invariant } from "../internal/invariant.js";
import type { PooledSocket } from "./lease.js";
import type { WaiterQueue } from "./waiter.js";

/** What {@link checkEndpointPool} reads of one endpoint pool; it changes nothing. */
export interface EndpointPoolView {
  readonly key: string;
  readonly maxPerEndpoint: number;
  /** Idle sockets, least recently used first. */
  readonly idle: readonly PooledSocket[];
  /** Every open socket, idle or borrowed. */
  readonly sockets: ReadonlySet<PooledSocket>;
  readonly borrowedCount: number;
  readonly dialing: number;
  readonly waiters: Pick<WaiterQueue, "pending" | "freshPending" | "check">;
}

/**
 * Asserts the invariants of an endpoint pool (see EndpointPool's State comment): throws
 * InternalError naming the endpoint when one is broken. Runs under SOCKPOOL_DEBUG only.
 */
export function checkEndpointPool(pool: EndpointPoolView): void {
  const { key, idle, sockets } = pool;
  const open = idle.length + pool.borrowedCount + pool.dialing;
  invariant(open <= pool.maxPerEndpoint, `${key}: open ${open} > max ${pool.maxPerEndpoint}`);
  const normal = pool.waiters.pending - pool.waiters.freshPending;
  invariant(normal === 0 || idle.length === 0, `${key}: waiters while sockets are idle`);
  pool.waiters.check(key);
  for (const r of idle) {
    invariant(r.state === "idle" && r.conn !== undefined && sockets.has(r), `${key}: bad idle socket`);
  }
  let borrowed = 0;
  for (const r of sockets) {
    if (r.state === "borrowed") {
      borrowed++;
      invariant(r.lease !== undefined && !r.lease.spent, `${key}: a borrowed socket without a live lease`);
    } else invariant(r.state === "idle" && r.lease === undefined, `${key}: a ${r.state} socket is tracked`);
  }
  invariant(borrowed === pool.borrowedCount, `${key}: ${borrowed} borrowed, counted ${pool.borrowedCount}`);
  invariant(sockets.size === idle.length + borrowed, `${key}: a socket is idle twice or lost`);
  invariant(new Set(idle).size === idle.length, `${key}: a socket is idle twice`);
}
