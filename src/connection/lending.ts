import type { Connection, ConnectionOwner } from "./connection.js";

/**
 * What a pool may do to a Connection and its users may not: lend it to a borrow (so that
 * `await using` gives it back instead of closing it) and watch it while it sits idle. These
 * are not methods of Connection, so they stay off the public surface; Connection installs
 * them here once, from inside its class body, where its private fields are in reach.
 */
export interface LendingHooks {
  lend(conn: Connection, owner: ConnectionOwner | undefined): void;
  watchIdle(conn: Connection, listener: (() => void) | undefined): void;
}

let hooks: LendingHooks | undefined;

/** Called once, by Connection's static initialiser. */
export function installLendingHooks(h: LendingHooks): void {
  hooks = h;
}

/**
 * Sets who `conn[Symbol.asyncDispose]` hands the connection back to (a pool's lease);
 * `undefined` detaches, so disposing closes it again.
 */
export function lendConnection(conn: Connection, owner: ConnectionOwner | undefined): void {
  (hooks as LendingHooks).lend(conn, owner);
}

/**
 * Calls `listener` whenever bytes, EOF, an error or a close arrive while no read is pending
 * (`undefined` stops). This is how an idle pooled socket that the peer closed, reset or wrote
 * to is noticed at once, without a timer.
 */
export function watchIdle(conn: Connection, listener: (() => void) | undefined): void {
  (hooks as LendingHooks).watchIdle(conn, listener);
}
