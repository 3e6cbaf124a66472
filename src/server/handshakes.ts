import net from "node:net";
import type tls from "node:tls";
import { InternalError } from "../errors.js";
import { armsTimer, startTimer } from "../internal/timer.js";

/**
 * The sockets a TLS listener accepted that have not finished their handshake.
 *
 * Node's `tls.Server` never closes such a socket itself: its `handshakeTimeout` is an idle
 * timer on the TLS socket that only emits `tlsClientError`, so a client that connects and
 * stays silent, or half-closes, would hold a socket forever and `server.close()` would wait
 * for it. Here every accepted socket gets a hard deadline from accept (`startTimer`: a timeout
 * past 2^31-1 ms means never); a handshake that fails is destroyed at once and counted once;
 * `close()` destroys every socket still mid-handshake. Until the handshake completes a socket
 * is not half-open, so a peer's FIN (a TCP health check, a client that rejects our
 * certificate) closes it at once; a session is made half-open like a plain TCP client.
 *
 * State:
 * - `#pending`: accepted socket → its deadline timer (undefined when the timeout means
 *   never). A socket leaves when its handshake completes (`secured`) or when it closes.
 * - `#closing`: `close()` ran: failures are ours, not counted; `#emptied` resolves `close()`
 *   once `#pending` is empty.
 */
export class Handshakes {
  readonly #timeout: number;
  readonly #failed: () => void;
  readonly #report: (err: Error) => void;
  readonly #pending = new Map<net.Socket, NodeJS.Timeout | undefined>();
  #closing = false;
  #emptied: (() => void) | undefined;

  /**
   * Watches `listener`: `failed` runs once per handshake that fails or times out; `report`
   * gets a broken invariant (a secured socket this object never saw accepted).
   */
  constructor(listener: tls.Server, timeout: number, failed: () => void, report: (err: Error) => void) {
    this.#timeout = timeout;
    this.#failed = failed;
    this.#report = report;
    // Node's own listener has wrapped the socket in a TLSSocket by the time this one runs;
    // destroying the accepted socket destroys that TLSSocket too.
    listener.on("connection", (raw: net.Socket) => this.#accepted(raw));
    listener.on("tlsClientError", (err: Error & { code?: string }, socket: tls.TLSSocket) => {
      // Node's idle timer (given the longest delay, see tlsServerOptions) can only expire
      // when our deadline means never: it is not ours to act on.
      if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT" && !armsTimer(this.#timeout)) return;
      if (!this.#closing) this.#failed();
      socket.destroy(); // Node leaves a socket whose handshake failed or timed out open
    });
  }

  /** Sockets accepted and not yet through their handshake. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * The handshake of `secure` completed: it is a session now, no longer on a deadline.
   * Returns the accepted socket under it.
   */
  secured(secure: net.Socket): net.Socket | undefined {
    const raw = rawOf(this.#pending, secure);
    if (raw === undefined) {
      this.#report(new InternalError("a TLS session's accepted socket is unknown: its handshake deadline stays armed"));
      return undefined;
    }
    clearTimeout(this.#pending.get(raw));
    this.#pending.delete(raw);
    secure.allowHalfOpen = true; // a session half-closes like a plain TCP client (Duplex allows the change before 'end')
    return raw;
  }

  /** Destroys every socket still mid-handshake; resolves once all of them have closed. */
  close(): Promise<void> {
    this.#closing = true;
    const emptied = new Promise<void>((resolve) => {
      this.#emptied = resolve;
    });
    for (const raw of this.#pending.keys()) raw.destroy();
    this.#checkEmptied();
    return emptied;
  }

  #accepted(raw: net.Socket): void {
    if (this.#closing) {
      raw.destroy();
      return;
    }
    this.#pending.set(
      raw,
      startTimer(() => raw.destroy(), this.#timeout),
    );
    raw.once("close", () => {
      clearTimeout(this.#pending.get(raw));
      this.#pending.delete(raw);
      this.#checkEmptied();
    });
  }

  #checkEmptied(): void {
    if (this.#pending.size === 0) this.#emptied?.();
  }
}

/**
 * The accepted socket under a TLS socket. Node links them as `_parent` (every release since
 * 0.x, though not public); failing that, the pending socket with the same addresses.
 */
function rawOf(pending: Map<net.Socket, unknown>, secure: net.Socket): net.Socket | undefined {
  const parent = (secure as { _parent?: unknown })._parent;
  if (parent instanceof net.Socket && pending.has(parent)) return parent;
  if (secure.remotePort === undefined) return undefined;
  for (const raw of pending.keys()) {
    const same =
      raw.remotePort === secure.remotePort &&
      raw.remoteAddress === secure.remoteAddress &&
      raw.localAddress === secure.localAddress;
    if (same) return raw;
  }
  return undefined;
}
