import type { Connection } from "../connection/connection.js";
import { AbortError } from "../errors.js";
import { throwIfAborted, type WaitOptions } from "../internal/cancel.js";
import type { Lease } from "./pooled-socket.js";
import type { DestroyReason } from "./stats.js";

export interface UseOptions extends WaitOptions {
  /**
   * The request is idempotent: if a reused socket turns out dead before any byte of the
   * reply arrived, run `fn` once more on a fresh socket. Without it, the retry happens only
   * when nothing was written. With a service target the rerun goes to another replica, and
   * a new socket that died before replying is rerun too. Default false.
   */
  retryOnStale?: boolean | undefined;
}

/** What the use() policy needs from the pool. */
export interface UseHost {
  /** Borrows a socket; `retryOf`, on a rerun: the borrow whose socket died (the new one is fresh). */
  acquire(options: WaitOptions | undefined, retryOf: Lease | undefined): Promise<Connection>;
  /** The current borrow of a connection just acquired. */
  leaseOf(conn: Connection): Lease;
  /**
   * Destroys the socket of `lease` for `reason` unless that borrow already ended; `early`:
   * it died before any reply byte arrived.
   */
  discard(lease: Lease, conn: Connection, reason: DestroyReason, err: unknown, early: boolean): void;
  /** Counts a rerun. */
  retried(lease: Lease): void;
  /** `fn` resolved: its borrow served (called before the release). */
  readonly succeeded: ((lease: Lease) => void) | undefined;
  /** Reruns go to another replica, so a new socket that died before replying is rerun too. */
  readonly anotherReplica: boolean;
}

/**
 * The `use()` policy: borrow, run `fn`, release on success and destroy on a throw. When the
 * socket was reused and died before any reply byte arrived (a close that raced the
 * hand-over), run `fn` once more on a fresh socket if the caller marked the request
 * idempotent (`retryOnStale`) or nothing was written: a message is never sent twice unasked.
 * For a service the rerun goes to another replica, and applies to a new socket too.
 * An abort of `signal` while `fn` runs destroys the socket, so its pending reads reject.
 * Each attempt ends only its own borrow: if `fn` gave the socket back itself, the socket
 * may already be someone else's.
 */
export async function runUse<T>(
  host: UseHost,
  fn: (conn: Connection) => Promise<T>,
  options: UseOptions | undefined,
): Promise<T> {
  const acquireOptions = options && { signal: options.signal, timeout: options.timeout };
  const signal = options?.signal;
  let retryOf: Lease | undefined;
  for (let attempt = 0; ; attempt++) {
    const conn = await host.acquire(acquireOptions, retryOf);
    const lease = host.leaseOf(conn);
    const read0 = conn.bytesRead;
    const written0 = conn.bytesWritten;
    const onAbort = () =>
      host.discard(lease, conn, deathReason(conn), new AbortError(`use of ${conn.where}`, signal?.reason), false);
    signal?.addEventListener("abort", onAbort, { once: true });
    let result: T;
    try {
      // An abort after the acquire resolved but before the listener was added.
      throwIfAborted(`use of ${conn.where}`, signal);
      result = await fn(conn);
    } catch (err) {
      const died = conn.readableEnded || conn.error !== undefined || conn.state !== "open";
      const early = died && conn.bytesRead === read0;
      const stale = early && (lease.reused || host.anotherReplica);
      const retry = stale && attempt === 0 && (options?.retryOnStale === true || conn.bytesWritten === written0);
      host.discard(lease, conn, deathReason(conn), err, early);
      if (retry && !signal?.aborted) {
        host.retried(lease);
        retryOf = lease;
        continue;
      }
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    host.succeeded?.(lease);
    await lease.release(conn);
    return result;
  }
}

/** Why a socket whose borrower threw is destroyed: its own failure, else the borrower's. */
function deathReason(conn: Connection): DestroyReason {
  if (conn.error !== undefined) return "error";
  return conn.readableEnded || conn.state !== "open" ? "peer-closed" : "user";
}
