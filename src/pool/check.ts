import { invariant } from "../internal/invariant.js";
import type { Dial } from "./dials.js";
import type { PooledSocket } from "./pooled-socket.js";
import type { WaiterQueue } from "./waiters.js";

/** What {@link checkEndpointPool} reads of one endpoint pool; it changes nothing. */
export interface EndpointPoolView {
  readonly key: string;
  readonly max: number;
  /** Idle sockets, least recently used first. */
  readonly idle: readonly PooledSocket[];
  /** Every open socket, idle or borrowed. */
  readonly sockets: ReadonlySet<PooledSocket>;
  readonly borrowed: number;
  readonly dials: readonly Dial[];
  readonly waiters: Pick<WaiterQueue, "pending" | "freshPending" | "check">;
}

/**
 * Asserts the invariants of an endpoint pool (see EndpointPool's State comment): throws
 * InternalError naming the endpoint when one is broken. Runs under SOCKPOOL_DEBUG only.
 */
export function checkEndpointPool(pool: EndpointPoolView): void {
  const { key, idle, sockets } = pool;
  const open = idle.length + pool.borrowed + pool.dials.length;
  invariant(open <= pool.max, `${key}: open ${open} > max ${pool.max}`);
  const normal = pool.waiters.pending - pool.waiters.freshPending;
  invariant(normal === 0 || idle.length === 0, `${key}: waiters while sockets are idle`);
  pool.waiters.check(key);
  for (const r of idle) {
    invariant(r.state === "idle" && r.conn !== undefined && sockets.has(r), `${key}: bad idle socket`);
  }
  let borrowed = 0;
  for (const r of sockets) {
    invariant(r.slot.held, `${key}: a ${r.state} socket gave its slot back`);
    if (r.state === "borrowed") {
      borrowed++;
      invariant(r.lease !== undefined && !r.lease.spent, `${key}: a borrowed socket without a live lease`);
    } else invariant(r.state === "idle" && r.lease === undefined, `${key}: a ${r.state} socket is tracked`);
  }
  for (const d of pool.dials) invariant(d.slot.held, `${key}: a dial in progress without its slot`);
  invariant(borrowed === pool.borrowed, `${key}: ${borrowed} borrowed, counted ${pool.borrowed}`);
  invariant(sockets.size === idle.length + borrowed, `${key}: a socket is idle twice or lost`);
  invariant(new Set(idle).size === idle.length, `${key}: a socket is idle twice`);
}
