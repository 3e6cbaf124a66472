import type { Connection } from "../connection/connection.js";
import type { Clock } from "../internal/clock.js";
import type { SocketBudget } from "./budget.js";
import type { SocketPoolEvents } from "./events.js";
import type { PoolSettings } from "./options.js";
import type { PooledSocket } from "./pooled-socket.js";
import type { Counters } from "./stats.js";

/** What an endpoint pool (and its socket table) needs from the SocketPool that holds it. */
export interface PoolContext {
  readonly settings: PoolSettings;
  readonly clock: Clock;
  /** The pool's totals, which every endpoint's counters roll up into. */
  readonly total: Counters;
  readonly budget: SocketBudget;
  /** A socket was opened: the pool-wide map finds its record from the connection. */
  track(conn: Connection, record: PooledSocket): void;
  /** A connection is closing gracefully; the pool's close() waits for it. */
  closing(conn: Connection): void;
  /** The endpoint pool with this key is empty and idle: drop it from the map. */
  forget(pool: { readonly key: string }): void;
  emit<E extends keyof SocketPoolEvents>(event: E, ...args: SocketPoolEvents[E]): void;
  /** Whether anyone listens to `event`: the hot paths build no event arguments for nobody. */
  listens(event: keyof SocketPoolEvents): boolean;
}
