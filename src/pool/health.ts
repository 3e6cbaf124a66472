import type { Connection } from "../connection/connection.js";
import { type WaitOptions, withCancel } from "../internal/cancel.js";
import type { Clock } from "../internal/clock.js";
import type { Lease, PooledSocket } from "./pooled-socket.js";
import type { DestroyReason } from "./stats.js";

/**
 * Why an idle socket must not be handed out, or undefined when it is fit: closed, errored,
 * half-closed by the peer, holding stray bytes, or past its lifetime.
 */
export function idleProblem(conn: Connection, record: PooledSocket, now: number): DestroyReason | undefined {
  if (conn.error !== undefined) return "error";
  if (conn.readableEnded || !conn.writable) return "peer-closed";
  if (conn.bufferedLength > 0) return "stray-bytes";
  if (now >= record.expiresAt) return "lifetime";
  return undefined;
}

/**
 * Why a released socket must be destroyed rather than pooled, or undefined when it may be
 * reused: an error, a close or FIN, an operation failed or cut short (dirty), one still
 * pending (busy), unread bytes, past its lifetime or its maximum uses.
 */
export function releaseProblem(
  conn: Connection,
  record: PooledSocket,
  now: number,
  maxUses: number,
): DestroyReason | undefined {
  if (conn.error !== undefined) return "error";
  if (conn.readableEnded || !conn.writable) return "peer-closed";
  if (conn.dirty) return "dirty";
  if (conn.busy) return "busy";
  if (conn.bufferedLength > 0) return "unread";
  if (now >= record.expiresAt) return "lifetime";
  if (record.uses >= maxUses) return "max-uses";
  return undefined;
}

/** The `validate` hook of SocketPoolOptions. */
export type Validate = (conn: Connection) => boolean | Promise<boolean>;

/** The acquire's limits, which the validate hook runs under. */
export interface ValidateLimits {
  operation: string;
  options: WaitOptions;
  clock: Clock;
  timeoutError: (ms: number) => Error;
}

/**
 * Runs `validate` on a connection just lent from the idle stack (its borrow is `lease`),
 * under the acquire's signal and timeout. Resolves with it when the hook says true and left
 * the stream clean; otherwise queues `retry()` (another acquire) and only then destroys the
 * connection through `discard`, so the endpoint's pool never looks empty in between. A
 * throwing hook counts as false; its error goes to `discard`. When the signal or timeout cuts
 * the hook off, the connection is discarded with that error (failing the hook's pending
 * reads) and the acquire rejects with it: AbortError or the timeout error.
 */
export async function validated(
  conn: Connection,
  lease: Lease,
  validate: Validate,
  limits: ValidateLimits,
  retry: () => Promise<Connection>,
  discard: (lease: Lease, err: unknown) => void,
): Promise<Connection> {
  let ok = false;
  let err: unknown;
  let cancelled: Error | undefined;
  try {
    const check = new Promise<boolean>((resolve) => resolve(validate(conn)));
    const onCancel = (e: Error) => {
      cancelled = e;
    };
    const { operation, options, timeoutError, clock } = limits;
    ok = (await withCancel(operation, check, options, timeoutError, onCancel, clock)) === true;
  } catch (e) {
    err = e;
  }
  if (cancelled !== undefined) {
    if (!lease.spent) discard(lease, cancelled);
    throw cancelled;
  }
  if (ok && !conn.dirty && conn.bufferedLength === 0 && !lease.spent) return conn;
  const next = retry();
  if (!lease.spent) discard(lease, err);
  return next;
}
