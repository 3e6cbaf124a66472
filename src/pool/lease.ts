import type { Connection, ConnectionOwner } from "../connection/connection.js";
import { type WaitOptions, withCancel } from "../internal/cancel.js";
import { startTimer } from "../internal/timer.js";
import type { DestroyReason } from "./stats.js";

/** `idle ⇄ borrowed → gone`; `gone` is final (destroyed, retired or collected). */
export type SocketState = "idle" | "borrowed" | "gone";

/**
 * The pool's record of one socket it owns.
 *
 * State:
 * - `state`: see {@link SocketState}.
 * - `conn`: the connection, held strongly only while idle; while borrowed only `ref` points
 *   at it, so a connection its borrower dropped (and whose socket closed) can be collected
 *   and its slot recovered.
 * - `expiresAt`: ms since epoch after which the socket is retired (maxLifetime minus jitter).
 * - `uses`: borrows so far. `idleSince`: ms since epoch it last became idle.
 * - `parked`: the socket is unref'd because it sits idle.
 * - `lease`: the current borrow; set exactly while borrowed.
 */
export class PooledSocket {
  /** A new socket starts idle: it counts as borrowed only once `SocketRecords.lend` hands it out. */
  state: SocketState = "idle";
  conn: Connection | undefined;
  readonly ref: WeakRef<Connection>;
  readonly expiresAt: number;
  uses = 0;
  idleSince = 0;
  parked = false;
  lease: Lease | undefined;
  /** Runs when bytes, EOF, an error or a close arrive while idle. Set by `SocketRecords.add`. */
  onIdleEvent: () => void = noop;
  /** Runs when the connection was garbage-collected. Set by `SocketRecords.add`. */
  onCollected: () => void = noop;

  constructor(conn: Connection, expiresAt: number) {
    this.ref = new WeakRef(conn);
    this.expiresAt = expiresAt;
  }
}

/** What a lease hands a connection back to. */
export interface LeaseOwner {
  releaseLease(lease: Lease, conn: Connection): Promise<void>;
}

const RESOLVED = Promise.resolve();
function noop(): void {}

/**
 * One borrow of a socket: what `conn[Symbol.asyncDispose]` releases through. A lease is
 * spent once released or destroyed, after which disposing again does nothing, so a late
 * `await using` exit can never return a socket that has since been lent to someone else.
 *
 * State: `spent` (the borrow is over); `since`: ms since epoch of the acquire; `stack`: the
 * acquire's stack when leak detection is on; `leakTimer`: the pending leak warning.
 */
export class Lease implements ConnectionOwner {
  spent = false;
  readonly since: number;
  readonly record: PooledSocket;
  readonly owner: LeaseOwner;
  stack: string | undefined;
  leakTimer: NodeJS.Timeout | undefined;

  constructor(record: PooledSocket, owner: LeaseOwner, now: number) {
    this.record = record;
    this.owner = owner;
    this.since = now;
  }

  /** The borrow is still on: not spent, and still its socket's current lease. */
  get current(): boolean {
    return !this.spent && this.record.state === "borrowed" && this.record.lease === this;
  }

  /** Calls `onLeak` if the borrow lasts `after` ms; `stack` is the acquire's. */
  watchLeak(after: number, stack: string | undefined, onLeak: (lease: Lease) => void): void {
    this.stack = stack;
    this.leakTimer = startTimer(() => onLeak(this), after);
  }

  /** Dispose hook: releases once; later calls resolve at once. */
  release(conn: Connection): Promise<void> {
    return this.spent ? RESOLVED : this.owner.releaseLease(this, conn);
  }

  /** Ends the borrow: stops the leak timer. Idempotent. */
  end(): void {
    this.spent = true;
    if (this.leakTimer !== undefined) clearTimeout(this.leakTimer);
  }
}

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
  timeoutError: (ms: number) => Error;
}

/**
 * Runs `validate` on a connection just lent from the idle stack, under the acquire's
 * signal and timeout. Resolves with it when the hook says true and left the stream clean;
 * otherwise queues `retry()` (another acquire) and only then destroys the connection
 * through `discard`, so the endpoint's pool never looks empty in between. A throwing hook
 * counts as false; its error goes to `discard`. When the signal or timeout cuts the hook
 * off, the connection is discarded with that error (failing the hook's pending reads) and
 * the acquire rejects with it: AbortError or the timeout error.
 */
export async function validated(
  conn: Connection,
  record: PooledSocket,
  validate: Validate,
  limits: ValidateLimits,
  retry: () => Promise<Connection>,
  discard: (lease: Lease, err: unknown) => void,
): Promise<Connection> {
  const lease = record.lease as Lease; // this borrow: spent if the pool took it back meanwhile
  let ok = false;
  let err: unknown;
  let cancelled: Error | undefined;
  try {
    const check = new Promise<boolean>((resolve) => resolve(validate(conn)));
    const onCancel = (e: Error) => {
      cancelled = e;
    };
    ok = (await withCancel(limits.operation, check, limits.options, limits.timeoutError, onCancel)) === true;
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
