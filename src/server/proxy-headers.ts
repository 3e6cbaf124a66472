import type { Socket } from "node:net";
import type { ProxyHeader } from "../codec/proxy-header.js";
import { ProxyHeaderParser } from "../codec/proxy-parser.js";
import type { ProxiedPeer } from "../connection/connection.js";
import { ProxyProtocolError, type ProxyRefusal } from "../errors.js";
import type { TrustList } from "../internal/cidr.js";
import { armsTimer, startTimer } from "../internal/timer.js";
import { adoptSocket, copyOf, type OnreadKeys } from "./fast-read.js";

/** `proxyProtocol` after defaults (see ServerOptions.proxyProtocol). */
export interface ProxySettings {
  readonly trust: TrustList;
  readonly required: boolean;
  readonly timeout: number;
}

/** What the server does with a socket once its header is read (see {@link ProxyHeaders}). */
export interface ProxyHeaderHost {
  /**
   * The header was read (`peer`), or the stream has none and may go on without (`undefined`).
   * `rest`: bytes after the header still to deliver, on the fast read path only; on the
   * public path they are back in the socket (`unshift`), which is paused.
   */
  read(socket: Socket, peer: ProxiedPeer | undefined, rest: Buffer | undefined): void;
  /** The socket was closed for `err` (counted and reported by the host). */
  refused(err: ProxyProtocolError): void;
  /**
   * A peer that reset before its address could be read sent a whole header: closed, counted
   * (`local`: a LOCAL header, a health check), never served nor believed.
   */
  gone(local: boolean): void;
}

/** One socket's header in progress. */
interface Reading {
  readonly owner: ProxyHeaders;
  readonly parser: ProxyHeaderParser;
  readonly trusted: boolean;
  /** A TCP peer that reset before its accept was handled: no address left to check. */
  readonly vanished: boolean;
  readonly fast: boolean;
  /** `performance.now()` past which the header is late. */
  readonly deadline: number;
  received: number;
}

/**
 * Every socket whose header is being read, in any server, for the shared listeners. A Map,
 * not a WeakMap (cheaper per accept): each entry leaves when its header is read, the socket
 * is refused, or it closes.
 */
const readings = new Map<Socket, Reading>();
/** Trust answers kept per reader: a balancer's few addresses are asked about again and again. */
const TRUST_CACHE_SIZE = 256;
let onData: (this: Socket, chunk: Buffer) => void;
let onRead: (this: Socket, nread: number, buffer: Buffer) => void;
let onEnd: (this: Socket) => void;
let onClose: (this: Socket) => void;

/**
 * The PROXY protocol headers a server reads from the sockets it accepts, before they are
 * clients (docs/proxy-protocol.md): like TLS handshakes, they count toward no limit until
 * done, each has its own deadline, and `close()` destroys those still in progress.
 *
 * A peer on the trust list must send a header when it is `required`; its header is believed.
 * A peer not on it is refused at once when a header is required (only the balancer may
 * connect); otherwise its stream is read until it shows no header, and a header from it is
 * refused, never believed. A Unix socket peer is trusted (the path's permissions decide who
 * connects). On the fast read path the socket reads into the shared buffer from the start
 * (each chunk copied for the parser, which keeps views); on the public path through
 * `'data'`, then paused, with the bytes after the header unshifted back into it.
 *
 * Deadlines: every header has the same timeout, so deadlines come in accept order. One
 * timer, for the oldest, serves them all (a timer per socket costs as much as the parse).
 *
 * State: `#pending`: this reader's sockets, oldest first, each also in `readings` (from
 * `start()` until its header is read, it is refused, or it closes). `#timer`: armed for the
 * oldest deadline while `#pending` is not empty and the timeout means anything.
 * `#trusted`: address → on the trust list, at most 256 entries (cleared when full).
 * `#closing`: `close()` ran; `#emptied` resolves it once `#pending` is empty.
 */
export class ProxyHeaders {
  readonly #settings: ProxySettings;
  readonly #host: ProxyHeaderHost;
  readonly #pending = new Set<Socket>();
  readonly #trusted = new Map<string, boolean>();
  readonly #unix: boolean;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #emptied: (() => void) | undefined;

  /** `unix`: the listener is a Unix socket, whose peers are trusted (see the class comment). */
  constructor(settings: ProxySettings, host: ProxyHeaderHost, unix: boolean) {
    this.#settings = settings;
    this.#host = host;
    this.#unix = unix;
  }

  /** Sockets whose header is still being read. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Starts reading `socket`'s header: on the fast read path with `keys` (a `pauseOnConnect`
   * socket), else on the public one. Returns false when `keys` were given but the socket is
   * not as the fast path was tested: it is then read on the public path.
   */
  start(socket: Socket, keys: OnreadKeys | undefined): boolean {
    // Trust follows the listener, never a missing address: a TCP peer that reset before its
    // accept was handled has no remoteAddress either, and its queued bytes still arrive. Its
    // header is read all the same, to count it (HAProxy's health checks reset at once, and a
    // LOCAL header says one was), then it is closed: never believed, never served.
    const address = socket.remoteAddress;
    const vanished = !this.#unix && address === undefined;
    const trusted = this.#unix || (address !== undefined && this.#isTrusted(address));
    if (this.#closing) {
      socket.destroy();
      return true;
    }
    if (!trusted && !vanished && this.#settings.required) {
      this.#refuse(socket, "untrusted", ": only it may connect, and every client must come through it");
      return true;
    }
    const fast = keys !== undefined && adoptSocket(socket, keys, onRead);
    const parser = new ProxyHeaderParser();
    const deadline = performance.now() + this.#settings.timeout;
    readings.set(socket, { owner: this, parser, trusted, vanished, fast, deadline, received: 0 });
    this.#pending.add(socket);
    if (this.#timer === undefined) this.#arm();
    socket.on("error", noop); // a reset mid-header: 'close' follows
    socket.on("end", onEnd);
    socket.on("close", onClose);
    if (!fast) {
      socket.on("data", onData);
      socket.resume();
    }
    return fast || keys === undefined;
  }

  /** Destroys every socket whose header is still being read; resolves once all have closed. */
  close(): Promise<void> {
    this.#closing = true;
    const emptied = new Promise<void>((resolve) => {
      this.#emptied = resolve;
    });
    for (const socket of this.#pending) socket.destroy();
    if (this.#pending.size === 0) this.#emptied?.();
    return emptied;
  }

  #push(socket: Socket, chunk: Buffer): void {
    const reading = readings.get(socket);
    if (reading === undefined) return;
    reading.received += chunk.length;
    let result: ReturnType<ProxyHeaderParser["push"]>;
    try {
      result = reading.parser.push(chunk);
    } catch (err) {
      this.#refuse(socket, "malformed", `: ${(err as Error).message}`, err);
      return;
    }
    if (result === undefined) return;
    const { header, rest } = result;
    if (reading.vanished) {
      this.#gone(socket, header?.command === "local");
      return;
    }
    if (header === null) {
      if (reading.trusted && this.#settings.required) this.#refuse(socket, "missing", "");
      else this.#done(socket, undefined, rest);
    } else if (!reading.trusted) {
      this.#refuse(socket, "untrusted", ": its header is not believed");
    } else this.#done(socket, peerOf(header, socket), rest);
  }

  /** A peer already gone (see `start`): closed, counted, never served nor believed. */
  #gone(socket: Socket, local: boolean): void {
    this.#forget(socket);
    socket.destroy();
    this.#host.gone(local);
  }

  /** The header is read (or the stream goes on without): hands the socket to the host. */
  #done(socket: Socket, peer: ProxiedPeer | undefined, rest: Buffer): void {
    const reading = this.#forget(socket);
    if (reading === undefined) return;
    if (reading.fast) {
      this.#host.read(socket, peer, rest);
      return;
    }
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    this.#host.read(socket, peer, undefined);
  }

  #isTrusted(address: string): boolean {
    let trusted = this.#trusted.get(address);
    if (trusted === undefined) {
      trusted = this.#settings.trust.has(address);
      if (this.#trusted.size >= TRUST_CACHE_SIZE) this.#trusted.clear();
      this.#trusted.set(address, trusted);
    }
    return trusted;
  }

  /** Arms the timer for the oldest deadline, if there is one and the timeout means anything. */
  #arm(): void {
    const oldest = this.#pending.values().next();
    if (oldest.done || !armsTimer(this.#settings.timeout)) return;
    const reading = readings.get(oldest.value) as Reading;
    this.#timer = startTimer(this.#sweep, Math.max(0, reading.deadline - performance.now()));
  }

  /** The oldest deadline passed: expires every late header, then waits for the next. */
  readonly #sweep = () => {
    this.#timer = undefined;
    const now = performance.now();
    for (const socket of this.#pending) {
      if ((readings.get(socket) as Reading).deadline > now) break;
      this.#expired(socket);
    }
    this.#arm();
  };

  #expired(socket: Socket): void {
    const reading = readings.get(socket);
    if (reading === undefined) return;
    if (reading.received === 0 && !(reading.trusted && this.#settings.required)) {
      this.#done(socket, undefined, Buffer.alloc(0)); // a silent peer that needs no header
      return;
    }
    this.#refuse(socket, "timeout", ` ${this.#settings.timeout} ms (${reading.received} bytes received)`);
  }

  #ended(socket: Socket): void {
    const reading = readings.get(socket);
    if (reading === undefined) return;
    const n = reading.received;
    if (n === 0) this.#refuse(socket, "missing", " (it closed without sending a byte)");
    else this.#refuse(socket, "malformed", `: the stream ended after ${n} bytes, before the header was complete`);
  }

  #refuse(socket: Socket, reason: ProxyRefusal, detail: string, cause?: unknown): void {
    this.#forget(socket);
    socket.on("error", noop);
    socket.destroy();
    this.#host.refused(new ProxyProtocolError(reason, where(socket), detail, cause));
  }

  /** Stops watching `socket`; returns what it was reading, undefined if it was not. */
  #forget(socket: Socket): Reading | undefined {
    const reading = readings.get(socket);
    if (reading === undefined) return undefined;
    readings.delete(socket);
    this.#pending.delete(socket);
    if (this.#pending.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // The 'end', 'close' and 'error' listeners stay: they do nothing once the socket has left
    // `readings`, and removing them would cost every later event on the socket (a deleted
    // key turns its listener table into a slow dictionary).
    if (!reading.fast) socket.off("data", onData);
    if (this.#closing && this.#pending.size === 0) this.#emptied?.();
    return reading;
  }

  static {
    onData = function (this: Socket, chunk: Buffer) {
      const owner = readings.get(this)?.owner;
      if (owner) owner.#push(this, chunk);
    };
    onRead = function (this: Socket, nread: number, buffer: Buffer) {
      const owner = readings.get(this)?.owner;
      if (owner) owner.#push(this, copyOf(buffer, nread)); // the parser keeps views: a copy
    };
    onEnd = function (this: Socket) {
      const owner = readings.get(this)?.owner;
      if (owner) owner.#ended(this);
    };
    onClose = function (this: Socket) {
      const owner = readings.get(this)?.owner;
      if (owner) owner.#forget(this);
    };
  }
}

/**
 * Who the header says the client is. A `local` header (a health check), `unspec` (v1
 * `UNKNOWN`) and non-stream transports name no client: the socket's own peer stands. A
 * `unix` client has no address or port, as Node reports a Unix socket's peer.
 */
export function peerOf(header: ProxyHeader, socket: Socket): ProxiedPeer {
  const proxiedBy = { address: socket.remoteAddress, port: socket.remotePort, header };
  const source = header.command === "proxy" && header.transport === "stream" ? header.source : undefined;
  if (source === undefined) {
    return { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, proxiedBy };
  }
  if ("path" in source) return { remoteAddress: undefined, remotePort: undefined, proxiedBy };
  return { remoteAddress: source.address, remotePort: source.port, proxiedBy };
}

/** A socket's peer as `address:port`, for messages. */
function where(socket: Socket): string {
  const { remoteAddress: a, remotePort: p } = socket;
  if (a === undefined || p === undefined) return "a unix client";
  return a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`;
}

function noop(): void {}
