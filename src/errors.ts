/**
 * Every failure a caller may branch on is a subclass of {@link SockpoolError} with a stable
 * `code`. Codes are listed in docs/errors.md and never change once released.
 */

export type ErrorCode =
  | "ERR_SOCKPOOL_INVALID_ARGUMENT"
  | "ERR_SOCKPOOL_INVALID_ENDPOINT"
  | "ERR_SOCKPOOL_CONNECT"
  | "ERR_SOCKPOOL_CONNECT_TIMEOUT"
  | "ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE"
  | "ERR_SOCKPOOL_ACQUIRE_TIMEOUT"
  | "ERR_SOCKPOOL_QUEUE_FULL"
  | "ERR_SOCKPOOL_READ_TIMEOUT"
  | "ERR_SOCKPOOL_WRITE_TIMEOUT"
  | "ERR_SOCKPOOL_REQUEST_TIMEOUT"
  | "ERR_SOCKPOOL_ABORTED"
  | "ERR_SOCKPOOL_INCOMPLETE_READ"
  | "ERR_SOCKPOOL_LIMIT_EXCEEDED"
  | "ERR_SOCKPOOL_BAD_FRAME"
  | "ERR_SOCKPOOL_CONNECTION_CLOSED"
  | "ERR_SOCKPOOL_CONNECTION_RESET"
  | "ERR_SOCKPOOL_SOCKET"
  | "ERR_SOCKPOOL_POOL_CLOSED"
  | "ERR_SOCKPOOL_SERVER_CLOSED"
  | "ERR_SOCKPOOL_READ_IN_PROGRESS"
  | "ERR_SOCKPOOL_NOT_BORROWED"
  | "ERR_SOCKPOOL_REMOTE"
  | "ERR_SOCKPOOL_INTERNAL";

export interface SockpoolErrorOptions {
  cause?: unknown;
}

/** Base of every error sockpool throws on purpose. */
export class SockpoolError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: SockpoolErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option or argument has a bad value or an unknown key. */
export class InvalidArgumentError extends SockpoolError {
  constructor(message: string) {
    super("ERR_SOCKPOOL_INVALID_ARGUMENT", message);
  }
}

/** An endpoint string or object cannot be parsed. `input` is what was given. */
export class InvalidEndpointError extends SockpoolError {
  readonly input: unknown;
  constructor(input: unknown, reason: string) {
    super("ERR_SOCKPOOL_INVALID_ENDPOINT", `invalid endpoint ${quote(input)}: ${reason}`);
    this.input = input;
  }
}

/** Dialing failed; `cause` is the system error (ECONNREFUSED, ENOENT, a TLS error…). */
export class ConnectError extends SockpoolError {
  readonly endpoint: string;
  /** The system error code, such as `ECONNREFUSED`, when there is one. */
  readonly syscode: string | undefined;
  constructor(endpoint: string, cause: unknown) {
    const syscode = systemCode(cause);
    const detail = cause instanceof Error ? cause.message : String(cause);
    super("ERR_SOCKPOOL_CONNECT", `connect to ${endpoint} failed: ${detail}`, { cause });
    this.endpoint = endpoint;
    this.syscode = syscode;
  }
}

export class ConnectTimeoutError extends SockpoolError {
  readonly endpoint: string;
  readonly timeout: number;
  constructor(endpoint: string, timeout: number) {
    super("ERR_SOCKPOOL_CONNECT_TIMEOUT", `connect to ${endpoint} timed out after ${timeout} ms`);
    this.endpoint = endpoint;
    this.timeout = timeout;
  }
}

/** The pool is failing fast for an endpoint that keeps refusing; `cause` is the last dial error. */
export class EndpointUnavailableError extends SockpoolError {
  readonly endpoint: string;
  readonly retryAfter: number;
  constructor(endpoint: string, retryAfter: number, cause: unknown) {
    super(
      "ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE",
      `${endpoint} is unavailable after repeated connect failures; retry in ${retryAfter} ms`,
      { cause },
    );
    this.endpoint = endpoint;
    this.retryAfter = retryAfter;
  }
}

export class AcquireTimeoutError extends SockpoolError {
  readonly endpoint: string;
  readonly timeout: number;
  constructor(endpoint: string, timeout: number, detail: string, cause?: unknown) {
    super("ERR_SOCKPOOL_ACQUIRE_TIMEOUT", `acquire timed out after ${timeout} ms for ${endpoint} (${detail})`, {
      cause,
    });
    this.endpoint = endpoint;
    this.timeout = timeout;
  }
}

/** `maxWaiting` acquires are already queued; this one is rejected at once. */
export class QueueFullError extends SockpoolError {
  readonly endpoint: string;
  readonly limit: number;
  constructor(endpoint: string, limit: number) {
    super("ERR_SOCKPOOL_QUEUE_FULL", `acquire queue for ${endpoint} is full (maxWaiting ${limit})`);
    this.endpoint = endpoint;
    this.limit = limit;
  }
}

export class ReadTimeoutError extends SockpoolError {
  readonly timeout: number;
  constructor(operation: string, timeout: number, where: string) {
    super("ERR_SOCKPOOL_READ_TIMEOUT", `${operation} timed out after ${timeout} ms on ${where}`);
    this.timeout = timeout;
  }
}

export class WriteTimeoutError extends SockpoolError {
  readonly timeout: number;
  constructor(timeout: number, where: string) {
    super("ERR_SOCKPOOL_WRITE_TIMEOUT", `write timed out after ${timeout} ms on ${where}`);
    this.timeout = timeout;
  }
}

/** A whole request (RPC or pooled use) ran past its deadline. */
export class RequestTimeoutError extends SockpoolError {
  readonly timeout: number;
  constructor(what: string, timeout: number) {
    super("ERR_SOCKPOOL_REQUEST_TIMEOUT", `${what} timed out after ${timeout} ms`);
    this.timeout = timeout;
  }
}

/** An AbortSignal fired. `cause` is the signal's reason. */
export class AbortError extends SockpoolError {
  constructor(operation: string, reason?: unknown) {
    super("ERR_SOCKPOOL_ABORTED", `${operation} was aborted`, { cause: reason });
  }
}

/** EOF came before `expected` bytes (or a separator) arrived; `partial` holds what did. */
export class IncompleteReadError extends SockpoolError {
  readonly partial: Buffer;
  /** Bytes wanted, or `undefined` when waiting for a separator. */
  readonly expected: number | undefined;
  constructor(partial: Buffer, expected: number | undefined) {
    const want = expected === undefined ? "a separator" : `${expected} bytes`;
    super("ERR_SOCKPOOL_INCOMPLETE_READ", `connection ended after ${partial.length} bytes while waiting for ${want}`);
    this.partial = partial;
    this.expected = expected;
  }
}

/** A line, frame or buffer grew past its maximum; nothing past the limit was kept. */
export class LimitExceededError extends SockpoolError {
  readonly limit: number;
  readonly consumed: number;
  constructor(what: string, limit: number, consumed: number) {
    super("ERR_SOCKPOOL_LIMIT_EXCEEDED", `${what} exceeds the limit of ${limit} bytes (${consumed} seen)`);
    this.limit = limit;
    this.consumed = consumed;
  }
}

/** Bytes that cannot be a frame: a bad header, kind or field. */
export class BadFrameError extends SockpoolError {
  constructor(detail: string) {
    super("ERR_SOCKPOOL_BAD_FRAME", `bad frame: ${detail}`);
  }
}

/** The connection is closed (by us or the peer) and the operation cannot proceed. */
export class ConnectionClosedError extends SockpoolError {
  constructor(operation: string, where: string, cause?: unknown) {
    super("ERR_SOCKPOOL_CONNECTION_CLOSED", `${operation} failed: connection to ${where} is closed`, {
      cause,
    });
  }
}

/** The peer reset the connection (ECONNRESET, EPIPE). */
export class ConnectionResetError extends SockpoolError {
  constructor(where: string, cause: unknown) {
    super("ERR_SOCKPOOL_CONNECTION_RESET", `connection to ${where} was reset by the peer`, { cause });
  }
}

/** Any other socket-level system error; `cause` is Node's error. */
export class SocketError extends SockpoolError {
  readonly syscode: string | undefined;
  constructor(where: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super("ERR_SOCKPOOL_SOCKET", `socket error on ${where}: ${detail}`, { cause });
    this.syscode = systemCode(cause);
  }
}

export class PoolClosedError extends SockpoolError {
  constructor(operation: string) {
    super("ERR_SOCKPOOL_POOL_CLOSED", `${operation} failed: the pool is closed`);
  }
}

export class ServerClosedError extends SockpoolError {
  constructor(operation: string) {
    super("ERR_SOCKPOOL_SERVER_CLOSED", `${operation} failed: the server is closed`);
  }
}

/** A second read was started while one is pending on the same connection. */
export class ReadInProgressError extends SockpoolError {
  constructor(operation: string, pending: string) {
    super("ERR_SOCKPOOL_READ_IN_PROGRESS", `${operation} called while ${pending} is pending`);
  }
}

/** A connection was released or destroyed through a pool that does not lend it now. */
export class NotBorrowedError extends SockpoolError {
  constructor(operation: string, where: string) {
    super("ERR_SOCKPOOL_NOT_BORROWED", `${operation}: connection to ${where} is not borrowed from this pool`);
  }
}

/** The remote side answered a request with an error reply. */
export class RemoteError extends SockpoolError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super("ERR_SOCKPOOL_REMOTE", `remote error ${remoteCode}: ${message}`);
    this.remoteCode = remoteCode;
  }
}

/** A broken invariant: a bug in sockpool. */
export class InternalError extends SockpoolError {
  constructor(message: string) {
    super("ERR_SOCKPOOL_INTERNAL", `internal error (a sockpool bug): ${message}`);
  }
}

/** `JSON.stringify` for strings, `String` for the rest; for messages that quote input. */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

export function systemCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Wraps an error from a live socket: resets become {@link ConnectionResetError}, everything
 * else not already ours becomes {@link SocketError}. The original is kept as `cause`.
 */
export function wrapSocketError(err: unknown, where: string): SockpoolError {
  if (err instanceof SockpoolError) return err;
  const code = systemCode(err);
  if (code === "ECONNRESET" || code === "EPIPE") return new ConnectionResetError(where, err);
  return new SocketError(where, err);
}
