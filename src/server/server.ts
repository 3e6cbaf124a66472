import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";
import type { Connection, ConnectionOptions } from "../connection/connection.js";
import { InvalidArgumentError, quote, ServerClosedError, SocketError } from "../errors.js";
import { deferred } from "../internal/deferred.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { startTimer } from "../internal/timer.js";
import { validateOptions } from "../internal/validate.js";
import type { Client, ClientHost, PolicyStat } from "./client.js";
import { type ResolvedHandler, resolveHandler, type ServerHandler } from "./handler.js";
import { type BroadcastResult, Hub } from "./hub.js";
import {
  checkListenTarget,
  type ListenOptions,
  listenOptionsSchema,
  type ServerOptions,
  type ServerState,
  type ServerStats,
  serverOptionsSchema,
  tlsServerOptions,
} from "./options.js";
import { Transport } from "./protocol.js";
import { StreamClient } from "./stream-client.js";

export type { ServerHandler } from "./handler.js";
export type { ListenOptions, ServerOptions, ServerState, ServerStats } from "./options.js";

const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;

/**
 * A Server's events and their listener arguments. `error (err, handle)`: a handler or protocol
 * callback threw `err` (any value a handler throws, hence `unknown`), or the listening socket
 * failed; `handle` is the client's `Connection` (stream handler) or `Transport` (protocol),
 * undefined when no client is involved.
 */
export interface ServerEvents {
  error: [err: unknown, handle: object | undefined];
}

/**
 * An async server: every client on one event loop, with limits, broadcast and graceful close.
 * Emits `error` (err, handle?) for handler and protocol errors; without a listener they are
 * printed to stderr, never thrown.
 *
 * State:
 * - `#state`: see {@link ServerState}. `#listener`: the net/tls server once `listen()` ran.
 * - `#sessions`: every client whose socket has not closed; `#perAddress`: their count by
 *   remote address, kept only with `maxConnectionsPerAddress` (entries at zero are deleted).
 *   `stats.current === #sessions.size`.
 * - `#closedBytesIn/Out`: bytes of sessions already closed (live ones are summed on demand).
 * - `#drained`: resolves when `#sessions` empties while closing.
 */
export class Server extends EventEmitter<ServerEvents> implements ClientHost, AsyncDisposable {
  readonly handler: ResolvedHandler;
  readonly idleTimeout: number;
  readonly maxLineLength: number;
  readonly lineTimeout: number;
  readonly highWaterMark: number;
  readonly connection: ConnectionOptions;
  readonly #options: ServerOptions;
  readonly #hub: Hub;
  #state: ServerState = "idle";
  #listener: net.Server | undefined;
  readonly #sessions = new Set<Client>();
  readonly #perAddress = new Map<string, number>();
  readonly #counts = {
    total: 0,
    rejected: 0,
    dropped: 0,
    slowDisconnects: 0,
    idleTimeouts: 0,
    lineTimeouts: 0,
    linesTooLong: 0,
    handlerErrors: 0,
    clientErrors: 0,
    tlsErrors: 0,
  };
  #closedBytesIn = 0;
  #closedBytesOut = 0;
  #closing: Promise<void> | undefined;
  readonly #drained = deferred<void>();

  constructor(handler: ServerHandler, options: ServerOptions = {}) {
    super();
    this.handler = resolveHandler(handler);
    if (options?.maxConnections === 0 || options?.maxConnectionsPerAddress === 0) {
      const key = options.maxConnections === 0 ? "maxConnections" : "maxConnectionsPerAddress";
      throw new InvalidArgumentError(`server options.${key} 0 is ambiguous: use Infinity for no limit, got 0`);
    }
    validateOptions("server options", options, serverOptionsSchema);
    this.#options = options;
    this.idleTimeout = options.idleTimeout ?? Number.POSITIVE_INFINITY;
    this.maxLineLength = options.maxLineLength ?? Number.POSITIVE_INFINITY;
    this.lineTimeout = options.lineTimeout ?? Number.POSITIVE_INFINITY;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    const limit = options.connection?.limit ?? options.maxLineLength;
    this.connection = { ...options.connection, ...(limit !== undefined && { limit }) };
    this.#hub = new Hub(this.highWaterMark, options.slowClientPolicy ?? "disconnect");
  }

  get state(): ServerState {
    return this.#state;
  }

  /**
   * Starts listening. Resolves once the socket is bound; rejects with InvalidArgumentError on
   * bad options or a second call, ServerClosedError after close, SocketError when binding
   * fails (EADDRINUSE…). Without `host` or `path` binds 127.0.0.1; `host: "::"` is dual stack.
   */
  async listen(options: ListenOptions = {}): Promise<void> {
    validateOptions("listen options", options, listenOptionsSchema);
    if (this.#state === "closing" || this.#state === "closed") throw new ServerClosedError("listen");
    if (this.#listener) throw new InvalidArgumentError("listen() was already called on this server");
    const { host, port = 0, path, backlog, ipv6Only, tls: tlsOptions } = options;
    checkListenTarget(port, path);
    const onSocket = (socket: net.Socket) => this.#accept(socket);
    const listener = tlsOptions
      ? tls.createServer(tlsServerOptions(tlsOptions, this.#options.handshakeTimeout), onSocket)
      : net.createServer({ allowHalfOpen: true }, onSocket);
    if (tlsOptions) listener.on("tlsClientError", () => this.#counts.tlsErrors++);
    this.#listener = listener;
    const where = path ?? `${host ?? "127.0.0.1"}:${port}`;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        this.#listener = undefined;
        reject(new SocketError(`listen on ${where}`, err));
      };
      listener.once("error", onError);
      const bind = path !== undefined ? { path } : { host: host ?? "127.0.0.1", port, ipv6Only: ipv6Only ?? false };
      listener.listen({ ...bind, ...(backlog !== undefined && { backlog }) }, () => {
        listener.off("error", onError);
        resolve();
      });
    });
    listener.on("error", (err) => this.report(new SocketError(`server on ${where}`, err), undefined));
    if (this.#state === "idle") this.#state = "listening";
    else listener.close(); // close() ran while binding
  }

  /** The bound address (`port` tells the port when listening on 0), the Unix path, or null. */
  address(): net.AddressInfo | string | null {
    return this.#listener?.address() ?? null;
  }

  /**
   * Sends `data` to every client but `except` (a Connection or Transport), without waiting.
   * A client with more than `highWaterMark` unsent bytes gets the slow-client policy.
   */
  broadcast(data: string | Uint8Array, options?: { except?: Connection | Transport | undefined }): BroadcastResult {
    const result = this.#hub.broadcast(this.#sessions, data, options?.except);
    this.#counts.dropped += result.dropped;
    return result;
  }

  /** The connected clients' handles (Connection or Transport), in accept order. */
  clients(): (Connection | Transport)[] {
    const out: (Connection | Transport)[] = [];
    for (const s of this.#sessions) if (s.handle) out.push(s.handle);
    return out;
  }

  stats(): ServerStats {
    let bytesIn = this.#closedBytesIn;
    let bytesOut = this.#closedBytesOut;
    for (const s of this.#sessions) {
      bytesIn += s.socket.bytesRead;
      bytesOut += s.socket.bytesWritten;
    }
    return { state: this.#state, current: this.#sessions.size, ...this.#counts, bytesIn, bytesOut };
  }

  /**
   * Graceful close: stops accepting at once; ends every client's input (buffered requests
   * are still read, then handlers see EOF, finish, and their connections close with a FIN);
   * after `timeout` ms (default `closeTimeout`, 10 000) destroys what remains. Resolves when
   * the listener and every client socket are closed. Idempotent: callers share one promise,
   * which never rejects.
   */
  close(options?: { timeout?: number | undefined }): Promise<void> {
    validateOptions("close options", options, { timeout: "ms?" });
    if (this.#closing) return this.#closing;
    const timeout = options?.timeout ?? this.#options.closeTimeout ?? 10_000;
    this.#state = "closing";
    this.#closing = this.#shutdown(timeout);
    return this.#closing;
  }

  /** Closes the listener and destroys every client at once. */
  destroy(): void {
    void this.close({ timeout: 0 });
    for (const s of this.#sessions) s.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** ClientHost: a handler or protocol error. */
  report(err: unknown, handle: object | undefined): void {
    this.#counts.handlerErrors++;
    if (this.listenerCount("error") > 0) this.emit("error", err, handle);
    else console.error(`sockpool server: ${err instanceof Error ? (err.stack ?? err.message) : quote(err)}`);
  }

  /** ClientHost: a policy close or a client-caused handler end. */
  count(stat: PolicyStat | "clientErrors"): void {
    this.#counts[stat]++;
  }

  /** ClientHost: a client socket closed. */
  ended(client: Client): void {
    if (!this.#sessions.delete(client)) return;
    this.#closedBytesIn += client.socket.bytesRead;
    this.#closedBytesOut += client.socket.bytesWritten;
    if (client.address !== undefined) {
      const n = (this.#perAddress.get(client.address) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(client.address, n);
      else this.#perAddress.delete(client.address);
    }
    if (this.#sessions.size === 0 && this.#state === "closing") this.#drained.resolve();
    if (checkingInvariants) this.#checkInvariants();
  }

  #accept(socket: net.Socket): void {
    if (this.#state !== "listening") return void socket.destroy();
    const o = this.#options;
    let address: string | undefined;
    if (o.maxConnectionsPerAddress !== undefined) {
      address = normalizeAddress(socket.remoteAddress);
      if ((this.#perAddress.get(address) ?? 0) >= o.maxConnectionsPerAddress) {
        this.#reject(socket);
        return;
      }
    }
    if (this.#sessions.size >= (o.maxConnections ?? Number.POSITIVE_INFINITY)) {
      this.#reject(socket);
      return;
    }
    if (o.noDelay ?? true) socket.setNoDelay(true);
    if (o.keepAlive ?? true) socket.setKeepAlive(true, 30_000);
    const client = this.#client(socket, address);
    if (client === undefined) return;
    this.#sessions.add(client);
    if (address !== undefined) this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    this.#counts.total++;
    client.start();
    if (checkingInvariants) this.#checkInvariants();
  }

  #client(socket: net.Socket, address: string | undefined): Client | undefined {
    const h = this.handler;
    if (h.kind === "stream") return new StreamClient(this, socket, address, h.run);
    try {
      return new Transport(this, socket, address, h.make());
    } catch (err) {
      this.report(err, undefined); // the protocol factory threw: this client only
      socket.on("error", noop);
      socket.destroy();
      return undefined;
    }
  }

  #reject(socket: net.Socket): void {
    this.#counts.rejected++;
    socket.on("error", noop);
    socket.destroy();
  }

  #checkInvariants(): void {
    const n = this.#sessions.size;
    invariant(n <= (this.#options.maxConnections ?? Number.POSITIVE_INFINITY), `${n} clients over maxConnections`);
    if (this.#options.maxConnectionsPerAddress !== undefined) {
      let sum = 0;
      for (const count of this.#perAddress.values()) sum += count;
      invariant(sum === n, `per-address counts sum to ${sum}, but ${n} clients are connected`);
    }
    invariant(this.#state !== "closed" || n === 0, `closed with ${n} clients`);
  }

  async #shutdown(timeout: number): Promise<void> {
    const listener = this.#listener;
    const listenerClosed = new Promise<void>((resolve) => {
      if (!listener?.listening) return resolve();
      listener.close(() => resolve());
    });
    if (this.#sessions.size === 0) this.#drained.resolve();
    for (const s of this.#sessions) s.endInput();
    const timer = startTimer(() => {
      for (const s of this.#sessions) s.destroy(new ServerClosedError("serving this client"));
    }, timeout);
    await this.#drained.promise;
    if (timer) clearTimeout(timer);
    await listenerClosed;
    this.#state = "closed";
  }
}

/** Creates a server running `handler` for each client; call `listen()` to start it. */
export function createServer(handler: ServerHandler, options?: ServerOptions): Server {
  return new Server(handler, options);
}

function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return "unix";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

function noop(): void {}
