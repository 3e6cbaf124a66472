import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";
import type { Connection, ProxiedPeer } from "../connection/connection.js";
import { channels, debug, debugging } from "../diagnostics.js";
import { InvalidArgumentError, type ProxyProtocolError, quote, ServerClosedError, SocketError } from "../errors.js";
import { deferred } from "../internal/deferred.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { startTimer } from "../internal/timer.js";
import { validateOptions } from "../internal/validate.js";
import { type Bus, takeOfferedBus, toBytes } from "./bus.js";
import type { ServerDropEvent, ServerDropReason, ServerEvents } from "./events.js";
import {
  adoptSocket,
  copyOf,
  isBorrowed,
  type OnreadKeys,
  probeRunningNode,
  type ReadPath,
  rerouteSocket,
} from "./fast-read.js";
import { type ResolvedHandler, resolveHandler, type ServerHandler } from "./handler.js";
import { Handshakes } from "./handshakes.js";
import { type BroadcastResult, Hub } from "./hub.js";
import {
  checkListenTarget,
  type ListenOptions,
  listenOptionsSchema,
  resolveServerOptions,
  type ServerOptions,
  type ServerSettings,
  type ServerState,
  type ServerStats,
  tlsServerOptions,
} from "./options.js";
import { ProxyHeaders } from "./proxy-headers.js";
import { type PolicyStat, peerOf, Session, type SessionHost, sessionRead } from "./session.js";
import { StreamRunner } from "./stream-runner.js";
import { protocolRunner, type Transport } from "./transport.js";

export type { ServerDropEvent, ServerDropReason, ServerEvents } from "./events.js";
export type { ServerHandler } from "./handler.js";
export type { ListenOptions, ProxyProtocolOptions, ServerOptions, ServerState, ServerStats } from "./options.js";

/** `sockpool:server:connection`: a client was accepted and its handler started. */
export interface ServerConnectionMessage {
  server: Server;
  handle: Connection | Transport;
  remote: string;
}

/** `sockpool:server:drop`: a client refused by a limit or closed by the server (a `drop` event). */
export interface ServerDropMessage extends ServerDropEvent {
  server: Server;
}

/** `sockpool:server:close`: `close()` finished. */
export interface ServerCloseMessage {
  server: Server;
}

const DROPPED_FOR: Record<PolicyStat, ServerDropReason> = {
  idleTimeouts: "idle-timeout",
  lineTimeouts: "line-timeout",
  linesTooLong: "line-too-long",
  slowDisconnects: "slow-client",
};

type Counts = Omit<ServerStats, "state" | "current" | "handshaking" | "bytesIn" | "bytesOut" | "readPath">;

/** How a socket's PROXY header was read: on the fast read path (`onread`), the public one, or none read. */
type HeaderPath = ReadPath | undefined;

/**
 * An async server: every client on one event loop, with limits, broadcast and graceful close.
 * Emits `error` (err, handle?) for handler and protocol errors; without a listener they are
 * printed to stderr, never thrown. See {@link ServerEvents} for `listening`, `connection`,
 * `drop` and `close`.
 *
 * State:
 * - `#state`: see {@link ServerState}. `#listener`: the net/tls server once `listen()` ran.
 * - `#handshakes`: TLS listeners only: accepted sockets not yet through their handshake
 *   (not clients yet: they count toward no limit and are not in `#sessions`).
 * - `#sessions`: every client whose socket has not closed; `#perAddress`: their count by
 *   remote address, kept only with `maxConnectionsPerAddress` (entries at zero are deleted).
 *   `stats.current === #sessions.size`.
 * - `#host`: what sessions see of the server (settings, report, count, ended): a private
 *   object, so none of it is on the public surface.
 * - `#closedBytesIn/Out`: bytes of sessions already closed (live ones are summed on demand).
 * - `#drained`: resolves when `#sessions` empties while closing.
 * - `#bus`: the room shared with other processes, if any; `#joined`: its join, started by
 *   the first `listen()`. Messages from the bus go to every client (`#deliver`), gathered
 *   in `#inbox` (arrival order) until the end of the current turn.
 * - `#headers`: with `proxyProtocol`, accepted sockets whose PROXY header is being read (not
 *   clients yet, like `#handshakes`). With TLS too, the listener is a plain `net.Server`:
 *   a socket whose header is read goes to `#secure` (the TLS server, which never listens)
 *   as a new connection, and `#peers` keeps the client its header named until its
 *   handshake completes.
 * - `#onread`: the keys of the fast read path (fast-read.ts) while new clients take it: set
 *   when Node is as tested and `fastRead` is on; cleared for a TLS listener, and for good at
 *   the first accepted socket that is not as tested. `#pausesOnConnect`: the listener pauses
 *   what it accepts, so a socket not adopted is resumed.
 */
export class Server extends EventEmitter<ServerEvents> implements AsyncDisposable {
  readonly #settings: ServerSettings;
  readonly #handler: ResolvedHandler;
  readonly #hub: Hub;
  readonly #bus: Bus | undefined;
  #joined: Promise<void> | undefined;
  #inbox: Buffer[] = [];
  readonly #host: SessionHost;
  #state: ServerState = "idle";
  #listener: net.Server | undefined;
  #handshakes: Handshakes | undefined;
  #headers: ProxyHeaders | undefined;
  #secure: tls.Server | undefined;
  readonly #peers = new WeakMap<net.Socket, ProxiedPeer>();
  readonly #sessions = new Set<Session>();
  readonly #perAddress = new Map<string, number>();
  readonly #counts: Counts = {
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
    proxyRefused: 0,
    proxyLocal: 0,
    proxyVanished: 0,
  };
  #closedBytesIn = 0;
  #closedBytesOut = 0;
  #closing: Promise<void> | undefined;
  readonly #drained = deferred<void>();
  #onread: OnreadKeys | undefined;
  /** The fast path's keys as probed at construction (`#onread` may be cleared later). */
  readonly #keys: OnreadKeys | undefined;
  #pausesOnConnect = false;
  /** The bound address, for trace lines; set once listening. */
  #name = "(not listening)";

  /** Throws InvalidArgumentError naming the option and value when a handler or option is bad. */
  constructor(handler: ServerHandler, options: ServerOptions = {}) {
    super();
    this.#handler = resolveHandler(handler);
    this.#settings = resolveServerOptions(options);
    const node = this.#settings.fastRead ? probeRunningNode() : "fastRead is false";
    if (typeof node !== "string") this.#onread = node;
    this.#keys = this.#onread;
    this.#hub = new Hub(this.#settings.highWaterMark, this.#settings.slowClientPolicy);
    const bus = this.#settings.bus;
    this.#bus = bus === undefined ? takeOfferedBus() : (bus ?? undefined);
    this.#host = {
      settings: this.#settings,
      report: (err, handle) => this.#report(err, handle as Connection | Transport | undefined),
      count: (stat) => {
        this.#counts[stat]++;
      },
      expired: (session, stat, reason) => {
        this.#counts[stat]++;
        this.#dropped(DROPPED_FOR[stat], session.where, session.handle as Connection | Transport | undefined, reason);
      },
      ended: (session) => this.#ended(session),
    };
  }

  get state(): ServerState {
    return this.#state;
  }

  /**
   * Starts listening. Resolves once the socket is bound; rejects with InvalidArgumentError on
   * bad options or a second call, ServerClosedError after close, SocketError when binding
   * fails (EADDRINUSE…). Without `host` or `path` binds 127.0.0.1; `host: "::"` is dual stack.
   * With a `bus`, joins it first and rejects with its error if it cannot start.
   */
  async listen(options: ListenOptions = {}): Promise<void> {
    validateOptions("listen options", options, listenOptionsSchema);
    if (this.#state === "closing" || this.#state === "closed") throw new ServerClosedError("listen");
    if (this.#listener || this.#joined) throw new InvalidArgumentError("listen() was already called on this server");
    await this.#joinBus();
    const { host, port = 0, path, backlog, ipv6Only, tls: tlsOptions } = options;
    checkListenTarget(port, path);
    const onSocket = (socket: net.Socket) => this.#accept(socket);
    const proxy = this.#settings.proxy;
    if (proxy) {
      const read = (socket: net.Socket, peer: ProxiedPeer | undefined, rest: Buffer | undefined) =>
        this.#headerRead(socket, peer, rest);
      const gone = (local: boolean) => (local ? this.#counts.proxyLocal++ : this.#counts.proxyVanished++);
      this.#headers = new ProxyHeaders(proxy, { read, refused: (err) => this.#refused(err), gone }, path !== undefined);
    }
    const onRaw = proxy ? (socket: net.Socket) => this.#readHeader(socket) : onSocket;
    let listener: net.Server;
    if (tlsOptions) {
      const secure = tls.createServer(tlsServerOptions(tlsOptions), onSocket);
      const report = (err: Error) => this.#report(err, undefined);
      const failed = () => this.#counts.tlsErrors++;
      this.#handshakes = new Handshakes(secure, this.#settings.handshakeTimeout, failed, report);
      this.#onread = undefined; // TLS reads through its own socket, on the public path
      if (proxy) {
        this.#secure = secure; // the header comes before the handshake: read on the raw socket
        listener = net.createServer({ allowHalfOpen: false }, onRaw);
      } else listener = secure;
    } else {
      this.#pausesOnConnect = this.#onread !== undefined;
      listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: this.#pausesOnConnect }, onRaw);
    }
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
    listener.on("error", (err) => this.#report(new SocketError(`server on ${where}`, err), undefined));
    if (this.#state !== "idle") return void listener.close(); // close() ran while binding
    const bound = listener.address() as net.AddressInfo | string;
    this.#state = "listening";
    this.#name =
      typeof bound === "string"
        ? bound
        : `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`;
    if (debugging) debug("server %s: listening", this.#name);
    this.emit("listening", bound);
  }

  /** The bound address (`port` tells the port when listening on 0), the Unix path, or null. */
  address(): net.AddressInfo | string | null {
    return this.#listener?.address() ?? null;
  }

  /**
   * Sends `data` to every client but `except` (a Connection or Transport), without waiting,
   * and publishes it on the bus (if any), whose other members send it to all of their
   * clients. A client with more than `highWaterMark` unsent bytes gets the slow-client
   * policy. The result counts this process's clients.
   */
  broadcast(data: string | Uint8Array, options?: { except?: Connection | Transport | undefined }): BroadcastResult {
    // Bytes borrowed from the shared read buffer are copied once: writes and the bus keep them.
    const bytes = isBorrowed(data) ? copyOf(data) : toBytes(data);
    const result = this.#hub.broadcast(this.#sessions, bytes, options?.except);
    this.#counts.dropped += result.dropped;
    this.#bus?.publish(bytes);
    return result;
  }

  /** The connected clients' handles (Connection or Transport), in accept order. */
  clients(): (Connection | Transport)[] {
    const out: (Connection | Transport)[] = [];
    for (const s of this.#sessions) if (s.handle) out.push(s.handle as Connection | Transport);
    return out;
  }

  stats(): ServerStats {
    let bytesIn = this.#closedBytesIn;
    let bytesOut = this.#closedBytesOut;
    for (const s of this.#sessions) {
      bytesIn += s.socket.bytesRead;
      bytesOut += s.socket.bytesWritten;
    }
    const handshaking = (this.#handshakes?.size ?? 0) + (this.#headers?.size ?? 0);
    const readPath: ReadPath = this.#onread ? "onread" : "data";
    const stats: ServerStats = {
      state: this.#state,
      current: this.#sessions.size,
      ...this.#counts,
      handshaking,
      bytesIn,
      bytesOut,
      readPath,
    };
    if (this.#bus) stats.bus = this.#bus.stats();
    return stats;
  }

  /**
   * Graceful close: stops accepting at once; ends every client's input (what was received is
   * still delivered, then handlers see EOF, finish, and their connections close with a FIN);
   * after `timeout` ms (default `closeTimeout`, 10 000) destroys what remains. Resolves when
   * the listener and every client socket are closed. Idempotent: callers share one promise,
   * which never rejects.
   */
  close(options?: { timeout?: number | undefined }): Promise<void> {
    validateOptions("close options", options, { timeout: "ms?" });
    if (this.#closing) return this.#closing;
    this.#state = "closing";
    this.#closing = this.#shutdown(options?.timeout ?? this.#settings.closeTimeout);
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

  /** Joins the bus once; a failed join leaves the server idle (listen() rejected). */
  async #joinBus(): Promise<void> {
    if (!this.#bus) return;
    this.#joined = this.#bus.join((message) => this.#deliver(message));
    try {
      await this.#joined;
    } catch (err) {
      this.#joined = undefined;
      throw err;
    }
    if (this.#state !== "idle") throw new ServerClosedError("listen"); // close() ran while joining
  }

  /**
   * A message from another member of the bus: to every client. What a bus delivers in one
   * turn (an XREAD batch, the IPC messages of one read) goes out together, in order, at the
   * end of the turn (a microtask), so each client gets one write per batch, not per message.
   */
  #deliver(message: Buffer): void {
    this.#inbox.push(message);
    if (this.#inbox.length === 1) queueMicrotask(this.#flushInbox);
  }

  readonly #flushInbox = () => {
    const messages = this.#inbox;
    this.#inbox = [];
    const result =
      messages.length === 1
        ? this.#hub.broadcast(this.#sessions, messages[0] as Buffer, undefined)
        : this.#hub.broadcastMany(this.#sessions, messages);
    this.#counts.dropped += result.dropped;
  };

  /** A handler or protocol error: the `error` event, or stderr when nobody listens. */
  #report(err: unknown, handle: Connection | Transport | undefined): void {
    this.#counts.handlerErrors++;
    if (this.listenerCount("error") > 0) this.emit("error", err, handle);
    else console.error(`sockpool server: ${err instanceof Error ? (err.stack ?? err.message) : quote(err)}`);
  }

  /** A client socket closed. */
  #ended(session: Session): void {
    if (!this.#sessions.delete(session)) return;
    this.#closedBytesIn += session.socket.bytesRead;
    this.#closedBytesOut += session.socket.bytesWritten;
    if (session.address !== undefined) {
      const n = (this.#perAddress.get(session.address) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(session.address, n);
      else this.#perAddress.delete(session.address);
    }
    if (this.#sessions.size === 0 && this.#state === "closing") this.#drained.resolve();
    if (checkingInvariants) this.#checkInvariants();
  }

  /** A socket accepted by a `proxyProtocol` server: its header first. */
  #readHeader(socket: net.Socket): void {
    if (this.#state !== "listening") return void socket.destroy();
    const headers = this.#headers as ProxyHeaders;
    if (!headers.start(socket, this.#onread)) this.#onread = undefined; // not as tested: the public path from now on
  }

  /**
   * A socket's PROXY header is read (`peer`; undefined: none, and none needed). `rest`: the
   * bytes after it, when it was read on the fast path; else they are back in the socket.
   */
  #headerRead(socket: net.Socket, peer: ProxiedPeer | undefined, rest: Buffer | undefined): void {
    if (peer?.proxiedBy.header.command === "local") this.#counts.proxyLocal++;
    if (this.#secure === undefined) {
      this.#accept(socket, peer, rest === undefined ? "data" : "onread", rest);
      return;
    }
    if (peer) this.#peers.set(socket, peer);
    this.#secure.emit("connection", socket); // Node's TLS server wraps it, reading what was unshifted first
  }

  /** A connection refused for the PROXY protocol: counted, a `drop`, and emitted to `error` listeners only. */
  #refused(err: ProxyProtocolError): void {
    this.#counts.proxyRefused++;
    this.#dropped("proxy-protocol", err.peer, undefined, err);
    if (this.listenerCount("error") > 0) this.emit("error", err, undefined);
  }

  /**
   * A new client: a socket accepted (or TLS secured) and, with `proxyProtocol`, its header
   * read on `headerPath` (`rest`: bytes after it still to deliver, on the fast path).
   */
  #accept(accepted: net.Socket, peer?: ProxiedPeer, headerPath?: HeaderPath, rest?: Buffer): void {
    const raw = this.#handshakes?.secured(accepted);
    if (raw !== undefined && this.#secure) peer = this.#peers.get(raw);
    if (this.#state !== "listening") return void accepted.destroy();
    const s = this.#settings;
    let address: string | undefined;
    if (s.maxConnectionsPerAddress !== undefined) {
      address = normalizeAddress((peer ?? accepted).remoteAddress);
      if ((this.#perAddress.get(address) ?? 0) >= s.maxConnectionsPerAddress) {
        return void this.#reject(accepted, "max-connections-per-address", peer);
      }
    }
    if (this.#sessions.size >= s.maxConnections) return void this.#reject(accepted, "max-connections", peer);
    const socket = accepted;
    if (s.noDelay) socket.setNoDelay(true);
    if (s.keepAlive) socket.setKeepAlive(true, 30_000);
    const session = new Session(this.#host, socket, address, this.#adopt(socket, headerPath), peer);
    const h = this.#handler;
    let runner: StreamRunner | ReturnType<typeof protocolRunner>;
    if (h.kind === "stream") runner = new StreamRunner(session, h.run);
    else {
      try {
        runner = protocolRunner(session, h.make());
      } catch (err) {
        this.#report(err, undefined); // the protocol factory threw: this client only
        socket.on("error", noop);
        socket.destroy();
        return;
      }
    }
    this.#sessions.add(session);
    if (address !== undefined) this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    this.#counts.total++;
    session.start(runner);
    this.#connected(session);
    if (rest !== undefined && rest.length > 0) sessionRead.call(socket, rest.length, rest); // as if just read
    if (checkingInvariants) this.#checkInvariants();
  }

  /** A client's handler started: the `connection` event, channel and trace, for whoever watches. */
  #connected(session: Session): void {
    const watched = channels.serverConnection.hasSubscribers;
    if (!watched && !debugging && this.listenerCount("connection") === 0) return;
    const handle = session.handle as Connection | Transport;
    if (watched) {
      channels.serverConnection.publish({
        server: this,
        handle,
        remote: session.where,
      } satisfies ServerConnectionMessage);
    }
    if (debugging) debug("server %s: connection from %s", this.#name, session.where);
    this.#notify("connection", handle, handle);
  }

  /** A client refused or closed by the server: the `drop` event, channel and trace. */
  #dropped(reason: ServerDropReason, remote: string, handle: Connection | Transport | undefined, error?: Error): void {
    const event: ServerDropEvent = { reason, remote, handle, error };
    if (channels.serverDrop.hasSubscribers)
      channels.serverDrop.publish({ ...event, server: this } satisfies ServerDropMessage);
    if (debugging) debug("server %s: drop %s (%s)", this.#name, remote, reason);
    this.#notify("drop", handle, event);
  }

  /**
   * Emits `connection` or `drop` from inside the accept path or a timer: a listener that
   * throws is reported like a handler's error, so it cannot leave a socket open, a session
   * undestroyed or a header's bytes undelivered.
   */
  #notify<E extends "connection" | "drop">(
    event: E,
    handle: Connection | Transport | undefined,
    ...args: ServerEvents[E]
  ): void {
    try {
      (this.emit as (event: E, ...args: ServerEvents[E]) => boolean)(event, ...args);
    } catch (err) {
      this.#report(err, handle);
    }
  }

  /**
   * Puts `socket` on the fast read path if it can take it; else on the public one (resumed).
   * A socket whose PROXY header was read stays on the path it was read on.
   */
  #adopt(socket: net.Socket, headerPath: HeaderPath): ReadPath {
    if (headerPath === "onread") {
      rerouteSocket(socket, this.#keys as OnreadKeys, sessionRead);
      return "onread";
    }
    if (headerPath === "data") {
      socket.resume(); // paused by the header reader
      return "data";
    }
    if (this.#onread) {
      if (adoptSocket(socket, this.#onread, sessionRead)) return "onread";
      this.#onread = undefined; // not as tested: the public path from now on
    }
    if (this.#pausesOnConnect) socket.resume(); // its data flows from the next tick, once listened to
    return "data";
  }

  #reject(socket: net.Socket, reason: ServerDropReason, peer?: ProxiedPeer): void {
    this.#counts.rejected++;
    const remote = peerOf(peer ?? socket); // before destroy(), which forgets the address
    socket.on("error", noop);
    socket.destroy();
    this.#dropped(reason, remote, undefined);
  }

  #checkInvariants(): void {
    const n = this.#sessions.size;
    invariant(n <= this.#settings.maxConnections, `${n} clients over maxConnections`);
    if (this.#settings.maxConnectionsPerAddress !== undefined) {
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
    const handshakesClosed = this.#handshakes?.close(); // not clients yet: closed at once
    const headersClosed = this.#headers?.close();
    if (this.#sessions.size === 0) this.#drained.resolve();
    for (const s of this.#sessions) s.endInput();
    const timer = startTimer(() => {
      for (const s of this.#sessions) {
        const err = new ServerClosedError("serving this client");
        this.#dropped("close-timeout", s.where, s.handle as Connection | Transport | undefined, err);
        s.destroy(err);
      }
    }, timeout);
    await this.#drained.promise;
    clearTimeout(timer);
    await handshakesClosed;
    await headersClosed;
    await listenerClosed;
    await this.#bus?.close(); // after the clients: handlers may broadcast while they finish
    this.#state = "closed";
    if (channels.serverClose.hasSubscribers)
      channels.serverClose.publish({ server: this } satisfies ServerCloseMessage);
    if (debugging) debug("server %s: closed", this.#name);
    this.emit("close");
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
