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
  | "ERR_SOCKPOOL_SERVICE_UNAVAILABLE"
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
  | "ERR_SOCKPOOL_MISSING_DEPENDENCY"
  | "ERR_SOCKPOOL_PROXY_PROTOCOL"
  | "ERR_SOCKPOOL_INTERNAL";

export interface SockpoolErrorOptions {
  cause?: unknown;
}

/**
 * The brand every sockpool error carries, under a registry symbol, so `instanceof` works
 * across two installed copies of the package (undici's scheme): its value is the code.
 */
const BRAND = Symbol.for("sockpool.error.code");

/**
 * Base of every error sockpool throws on purpose. `code` is the class's literal code; each
 * subclass stands for exactly one code, and `instanceof` compares codes, not prototypes.
 */
export class SockpoolError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: SockpoolErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }

  get [BRAND](): C {
    return this.code;
  }

  /**
   * True for a sockpool error of this class's code (any code, for SockpoolError itself). Typed
   * as a predicate on `this`, so `err instanceof SockpoolError` narrows to
   * `SockpoolError<ErrorCode>` (a generic class alone would narrow to `SockpoolError<any>`)
   * and `err instanceof AcquireTimeoutError` to that class.
   */
  static override [Symbol.hasInstance]<T>(this: abstract new (...args: never) => T, value: unknown): value is T {
    const code = (value as { [BRAND]?: unknown } | null | undefined)?.[BRAND];
    if (typeof code !== "string") return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof was asked about
    const own = (this as unknown as { readonly CODE?: ErrorCode }).CODE;
    return own === undefined || own === code;
  }
}

/** An option or argument has a bad value or an unknown key. */
export class InvalidArgumentError extends SockpoolError<"ERR_SOCKPOOL_INVALID_ARGUMENT"> {
  static readonly CODE = "ERR_SOCKPOOL_INVALID_ARGUMENT";
  constructor(message: string) {
    super(InvalidArgumentError.CODE, message);
  }
}

/** An endpoint string or object cannot be parsed. `input` is what was given. */
export class InvalidEndpointError extends SockpoolError<"ERR_SOCKPOOL_INVALID_ENDPOINT"> {
  static readonly CODE = "ERR_SOCKPOOL_INVALID_ENDPOINT";
  readonly input: unknown;
  constructor(input: unknown, reason: string) {
    super(InvalidEndpointError.CODE, `invalid endpoint ${quote(input)}: ${reason}`);
    this.input = input;
  }
}

/** Dialing failed; `cause` is the system error (ECONNREFUSED, ENOENT, a TLS error…). */
export class ConnectError extends SockpoolError<"ERR_SOCKPOOL_CONNECT"> {
  static readonly CODE = "ERR_SOCKPOOL_CONNECT";
  readonly endpoint: string;
  /** The system error code, such as `ECONNREFUSED`, when there is one. */
  readonly syscode: string | undefined;
  constructor(endpoint: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(ConnectError.CODE, `connect to ${endpoint} failed: ${detail}`, { cause });
    this.endpoint = endpoint;
    this.syscode = systemCode(cause);
  }
}

export class ConnectTimeoutError extends SockpoolError<"ERR_SOCKPOOL_CONNECT_TIMEOUT"> {
  static readonly CODE = "ERR_SOCKPOOL_CONNECT_TIMEOUT";
  readonly endpoint: string;
  readonly timeout: number;
  constructor(endpoint: string, timeout: number) {
    super(ConnectTimeoutError.CODE, `connect to ${endpoint} timed out after ${timeout} ms`);
    this.endpoint = endpoint;
    this.timeout = timeout;
  }
}

/** The pool is failing fast for an endpoint that keeps refusing; `cause` is the last dial error. */
export class EndpointUnavailableError extends SockpoolError<"ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE"> {
  static readonly CODE = "ERR_SOCKPOOL_ENDPOINT_UNAVAILABLE";
  readonly endpoint: string;
  readonly retryAfter: number;
  constructor(endpoint: string, retryAfter: number, cause: unknown) {
    super(
      EndpointUnavailableError.CODE,
      `${endpoint} is unavailable after repeated connect failures; retry in ${retryAfter} ms`,
      { cause },
    );
    this.endpoint = endpoint;
    this.retryAfter = retryAfter;
  }
}

/** One replica's part in a {@link ServiceUnavailableError}. */
export interface ReplicaFailure {
  /** The replica's endpoint key. */
  readonly endpoint: string;
  /** `active`, `ejected` or `draining`, when the acquire gave up. */
  readonly state: string;
  /** Its last error (this acquire's, else an earlier one); undefined if it never failed. */
  readonly error: unknown;
}

/**
 * No replica of a service could lend a socket: each one tried failed to connect (or is
 * failing fast), or the service has no replica (its name resolved to nothing, or never
 * resolved). `replicas` names each replica with its state and last error; `cause` is the
 * last error seen (a resolution error when there is no replica). `retryAfter`: ms until a
 * replica may be tried again (0 when unknown).
 */
export class ServiceUnavailableError extends SockpoolError<"ERR_SOCKPOOL_SERVICE_UNAVAILABLE"> {
  static readonly CODE = "ERR_SOCKPOOL_SERVICE_UNAVAILABLE";
  readonly service: string;
  readonly replicas: readonly ReplicaFailure[];
  readonly retryAfter: number;
  constructor(service: string, replicas: readonly ReplicaFailure[], retryAfter: number, cause?: unknown) {
    const each = replicas.map((r) => `${r.endpoint} (${r.state}): ${describeError(r.error)}`);
    const detail =
      each.length > 0
        ? `every replica failed: ${each.join("; ")}`
        : `it has no replica${cause === undefined ? "" : ` (${describeError(cause)})`}`;
    super(ServiceUnavailableError.CODE, `${service} is unavailable: ${detail}`, { cause });
    this.service = service;
    this.replicas = replicas;
    this.retryAfter = retryAfter;
  }
}

export class AcquireTimeoutError extends SockpoolError<"ERR_SOCKPOOL_ACQUIRE_TIMEOUT"> {
  static readonly CODE = "ERR_SOCKPOOL_ACQUIRE_TIMEOUT";
  readonly endpoint: string;
  readonly timeout: number;
  constructor(endpoint: string, timeout: number, detail: string, cause?: unknown) {
    super(AcquireTimeoutError.CODE, `acquire timed out after ${timeout} ms for ${endpoint} (${detail})`, { cause });
    this.endpoint = endpoint;
    this.timeout = timeout;
  }
}

/** `maxWaiting` acquires are already queued; this one is rejected at once. */
export class QueueFullError extends SockpoolError<"ERR_SOCKPOOL_QUEUE_FULL"> {
  static readonly CODE = "ERR_SOCKPOOL_QUEUE_FULL";
  readonly endpoint: string;
  readonly limit: number;
  constructor(endpoint: string, limit: number) {
    super(QueueFullError.CODE, `acquire queue for ${endpoint} is full (maxWaiting ${limit})`);
    this.endpoint = endpoint;
    this.limit = limit;
  }
}

/** A read got no (sufficient) data within its timeout; `peer` names the other side. */
export class ReadTimeoutError extends SockpoolError<"ERR_SOCKPOOL_READ_TIMEOUT"> {
  static readonly CODE = "ERR_SOCKPOOL_READ_TIMEOUT";
  readonly timeout: number;
  readonly peer: string;
  constructor(operation: string, timeout: number, peer: string) {
    super(ReadTimeoutError.CODE, `${operation} timed out after ${timeout} ms on ${peer}`);
    this.timeout = timeout;
    this.peer = peer;
  }
}

export class WriteTimeoutError extends SockpoolError<"ERR_SOCKPOOL_WRITE_TIMEOUT"> {
  static readonly CODE = "ERR_SOCKPOOL_WRITE_TIMEOUT";
  readonly timeout: number;
  readonly peer: string;
  constructor(timeout: number, peer: string) {
    super(WriteTimeoutError.CODE, `write timed out after ${timeout} ms on ${peer}`);
    this.timeout = timeout;
    this.peer = peer;
  }
}

/** A whole request (RPC or pooled use) ran past its deadline. */
export class RequestTimeoutError extends SockpoolError<"ERR_SOCKPOOL_REQUEST_TIMEOUT"> {
  static readonly CODE = "ERR_SOCKPOOL_REQUEST_TIMEOUT";
  readonly timeout: number;
  readonly peer: string | undefined;
  constructor(what: string, timeout: number, peer?: string) {
    super(RequestTimeoutError.CODE, `${what} timed out after ${timeout} ms`);
    this.timeout = timeout;
    this.peer = peer;
  }
}

/** An AbortSignal fired. `cause` is the signal's reason. */
export class AbortError extends SockpoolError<"ERR_SOCKPOOL_ABORTED"> {
  static readonly CODE = "ERR_SOCKPOOL_ABORTED";
  constructor(operation: string, reason?: unknown) {
    super(AbortError.CODE, `${operation} was aborted`, { cause: reason });
  }
}

/** EOF came before `expected` bytes (or a separator) arrived; `partial` holds what did. */
export class IncompleteReadError extends SockpoolError<"ERR_SOCKPOOL_INCOMPLETE_READ"> {
  static readonly CODE = "ERR_SOCKPOOL_INCOMPLETE_READ";
  readonly partial: Buffer;
  /** Bytes wanted, or `undefined` when waiting for a separator. */
  readonly expected: number | undefined;
  readonly peer: string | undefined;
  constructor(partial: Buffer, expected: number | undefined, peer?: string) {
    const want = expected === undefined ? "a separator" : `${expected} bytes`;
    const from = peer === undefined ? "" : ` from ${peer}`;
    super(IncompleteReadError.CODE, `connection${from} ended after ${partial.length} bytes while waiting for ${want}`);
    this.partial = partial;
    this.expected = expected;
    this.peer = peer;
  }
}

/** A line, frame or buffer grew past its maximum; nothing past the limit was kept. */
export class LimitExceededError extends SockpoolError<"ERR_SOCKPOOL_LIMIT_EXCEEDED"> {
  static readonly CODE = "ERR_SOCKPOOL_LIMIT_EXCEEDED";
  readonly limit: number;
  readonly consumed: number;
  /** The other side, when the input came from one. */
  readonly peer: string | undefined;
  constructor(what: string, limit: number, consumed: number, peer?: string) {
    super(LimitExceededError.CODE, `${what} exceeds the limit of ${limit} bytes (${consumed} seen)`);
    this.limit = limit;
    this.consumed = consumed;
    this.peer = peer;
  }
}

/** Bytes that cannot be a frame: a bad header, kind or field. */
export class BadFrameError extends SockpoolError<"ERR_SOCKPOOL_BAD_FRAME"> {
  static readonly CODE = "ERR_SOCKPOOL_BAD_FRAME";
  constructor(detail: string) {
    super(BadFrameError.CODE, `bad frame: ${detail}`);
  }
}

/** The connection is closed (by us or the peer) and the operation cannot proceed. */
export class ConnectionClosedError extends SockpoolError<"ERR_SOCKPOOL_CONNECTION_CLOSED"> {
  static readonly CODE = "ERR_SOCKPOOL_CONNECTION_CLOSED";
  readonly operation: string;
  readonly peer: string;
  constructor(operation: string, peer: string, cause?: unknown) {
    super(ConnectionClosedError.CODE, `${operation} failed: connection to ${peer} is closed`, { cause });
    this.operation = operation;
    this.peer = peer;
  }
}

/** The peer reset the connection (ECONNRESET, EPIPE). */
export class ConnectionResetError extends SockpoolError<"ERR_SOCKPOOL_CONNECTION_RESET"> {
  static readonly CODE = "ERR_SOCKPOOL_CONNECTION_RESET";
  readonly peer: string;
  constructor(peer: string, cause: unknown) {
    super(ConnectionResetError.CODE, `connection to ${peer} was reset by the peer`, { cause });
    this.peer = peer;
  }
}

/** Any other socket-level system error; `cause` is Node's error. */
export class SocketError extends SockpoolError<"ERR_SOCKPOOL_SOCKET"> {
  static readonly CODE = "ERR_SOCKPOOL_SOCKET";
  readonly syscode: string | undefined;
  readonly peer: string;
  constructor(peer: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(SocketError.CODE, `socket error on ${peer}: ${detail}`, { cause });
    this.syscode = systemCode(cause);
    this.peer = peer;
  }
}

export class PoolClosedError extends SockpoolError<"ERR_SOCKPOOL_POOL_CLOSED"> {
  static readonly CODE = "ERR_SOCKPOOL_POOL_CLOSED";
  constructor(operation: string) {
    super(PoolClosedError.CODE, `${operation} failed: the pool is closed`);
  }
}

export class ServerClosedError extends SockpoolError<"ERR_SOCKPOOL_SERVER_CLOSED"> {
  static readonly CODE = "ERR_SOCKPOOL_SERVER_CLOSED";
  constructor(operation: string) {
    super(ServerClosedError.CODE, `${operation} failed: the server is closed`);
  }
}

/** A second read was started while one is pending on the same connection. */
export class ReadInProgressError extends SockpoolError<"ERR_SOCKPOOL_READ_IN_PROGRESS"> {
  static readonly CODE = "ERR_SOCKPOOL_READ_IN_PROGRESS";
  constructor(operation: string, pending: string) {
    super(ReadInProgressError.CODE, `${operation} called while ${pending} is pending`);
  }
}

/** A connection was released or destroyed through a pool that does not lend it now. */
export class NotBorrowedError extends SockpoolError<"ERR_SOCKPOOL_NOT_BORROWED"> {
  static readonly CODE = "ERR_SOCKPOOL_NOT_BORROWED";
  readonly peer: string;
  constructor(operation: string, peer: string) {
    super(NotBorrowedError.CODE, `${operation}: connection to ${peer} is not borrowed from this pool`);
    this.peer = peer;
  }
}

/** The remote side answered a request with an error reply. */
export class RemoteError extends SockpoolError<"ERR_SOCKPOOL_REMOTE"> {
  static readonly CODE = "ERR_SOCKPOOL_REMOTE";
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super(RemoteError.CODE, `remote error ${remoteCode}: ${message}`);
    this.remoteCode = remoteCode;
  }
}

/**
 * An optional feature needs a package that is not installed (`sockpool/redis` needs `redis`).
 * `dependency` is the package; the message says how to install it; `cause` is the import error.
 */
export class MissingDependencyError extends SockpoolError<"ERR_SOCKPOOL_MISSING_DEPENDENCY"> {
  static readonly CODE = "ERR_SOCKPOOL_MISSING_DEPENDENCY";
  readonly dependency: string;
  constructor(feature: string, dependency: string, cause?: unknown) {
    super(
      MissingDependencyError.CODE,
      `${feature} needs the ${quote(dependency)} package, which is not installed: npm install ${dependency}`,
      { cause },
    );
    this.dependency = dependency;
  }
}

/** Why a server with `proxyProtocol` closed a connection before serving it. */
export type ProxyRefusal = "untrusted" | "missing" | "malformed" | "timeout";

const PROXY_REFUSALS: Record<ProxyRefusal, string> = {
  untrusted: "is not on the trust list",
  missing: "sent no PROXY protocol header",
  malformed: "sent a malformed PROXY protocol header",
  timeout: "did not send its PROXY protocol header within",
};

/**
 * A server with `proxyProtocol` closed a connection before serving it: `reason` says why,
 * `peer` is the socket's own address (the balancer, or whoever connected), `cause` the
 * parser's error for a malformed header.
 */
export class ProxyProtocolError extends SockpoolError<"ERR_SOCKPOOL_PROXY_PROTOCOL"> {
  static readonly CODE = "ERR_SOCKPOOL_PROXY_PROTOCOL";
  readonly reason: ProxyRefusal;
  readonly peer: string;
  constructor(reason: ProxyRefusal, peer: string, detail: string, cause?: unknown) {
    super(ProxyProtocolError.CODE, `PROXY protocol: ${peer} ${PROXY_REFUSALS[reason]}${detail}`, { cause });
    this.reason = reason;
    this.peer = peer;
  }
}

/** A broken invariant: a bug in sockpool. */
export class InternalError extends SockpoolError<"ERR_SOCKPOOL_INTERNAL"> {
  static readonly CODE = "ERR_SOCKPOOL_INTERNAL";
  constructor(message: string) {
    super(InternalError.CODE, `internal error (a sockpool bug): ${message}`);
  }
}

/** An error as `CODE: message` (or its message alone), for messages that cite another error. */
export function describeError(err: unknown): string {
  if (err === undefined) return "no error recorded";
  if (!(err instanceof Error)) return String(err);
  const code = systemCode(err);
  return code === undefined ? err.message : `${code}: ${err.message}`;
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
