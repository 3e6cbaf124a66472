import net from "node:net";
import tls from "node:tls";
import { encodeProxyHeader } from "../codec/proxy-encode.js";
import type { ProxyHeaderInit } from "../codec/proxy-header.js";
import { type Endpoint, type EndpointInput, parseEndpoint } from "../endpoint.js";
import { ConnectError, ConnectTimeoutError, InvalidArgumentError, quote } from "../errors.js";
import { armCancel, throwIfAborted, type WaitOptions } from "../internal/cancel.js";
import { type Schema, validateOptions } from "../internal/validate.js";
import { Connection, type ConnectionOptions } from "./connection.js";

export interface ConnectOptions extends ConnectionOptions, WaitOptions {
  /** Connect timeout in ms (TLS handshake included). Default 10 000. */
  timeout?: number | undefined;
  /** Disable Nagle's algorithm. Default true. */
  noDelay?: boolean | undefined;
  /** TCP keep-alive probes. Default true, first probe after `keepAliveInitialDelay`. */
  keepAlive?: boolean | undefined;
  /** Default 30 000 ms. */
  keepAliveInitialDelay?: number | undefined;
  /** Local address to dial from (e.g. "127.0.0.2"). */
  localAddress?: string | undefined;
  /** 4 or 6 to force an address family when resolving a name. */
  family?: number | undefined;
  /**
   * TLS settings for `tls://` endpoints, passed to `tls.connect` (ca, cert, key,
   * servername…). Certificates are verified and SNI is sent unless these say otherwise.
   */
  tls?: tls.ConnectionOptions | undefined;
  /**
   * Sends a PROXY protocol header (v1 or v2, see `encodeProxyHeader`) first on the
   * connection, before any byte of yours and, for `tls://`, before the TLS handshake, so a
   * server behind a load balancer's protocol sees `source` as the client. `destination`
   * defaults to the address dialed. Checked before any I/O.
   */
  proxyHeader?: ProxyHeaderInit | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT = 10_000;

export const connectOptionsSchema: Schema = {
  timeout: "ms?",
  signal: "signal",
  noDelay: "boolean",
  keepAlive: "boolean",
  keepAliveInitialDelay: "ms",
  localAddress: "string",
  family: "count0",
  tls: "object",
  proxyHeader: "object",
  readTimeout: "ms?",
  writeTimeout: "ms?",
  limit: "bytes",
  closeTimeout: "ms",
  connectTimeout: { renamed: "timeout" },
};

/**
 * Opens a connection. Resolves once connected (and, for `tls://`, once the handshake is
 * done). Rejects with InvalidEndpointError or InvalidArgumentError before any I/O; with
 * ConnectError (cause: the system error) when the dial fails; ConnectTimeoutError after
 * `timeout`; AbortError when `signal` aborts. A socket that did not connect is destroyed.
 * With `proxyHeader`, the header goes out first, before the TLS handshake for `tls://`.
 */
export async function connect(endpoint: EndpointInput | Endpoint, options: ConnectOptions = {}): Promise<Connection> {
  const ep = parseEndpoint(endpoint);
  validateConnectOptions("connect options", options);
  throwIfAborted(`connect to ${ep.key}`, options.signal);
  const phase: { socket: net.Socket } = { socket: dial(ep, options) };
  let cancelled: ((err: Error) => void) | undefined;
  const disarm = armCancel(
    `connect to ${ep.key}`,
    { signal: options.signal, timeout: options.timeout ?? DEFAULT_CONNECT_TIMEOUT },
    (ms) => new ConnectTimeoutError(ep.key, ms),
    (err) => {
      phase.socket.on("error", () => {}); // a late error from the destroyed socket is moot
      phase.socket.destroy();
      cancelled?.(err);
    },
  );
  try {
    const header = options.proxyHeader;
    if (header === undefined) {
      await ready(phase.socket, ep.tls ? "secureConnect" : "connect", ep, (c) => (cancelled = c));
    } else {
      await ready(phase.socket, "connect", ep, (c) => (cancelled = c));
      phase.socket.write(encodeForSocket(header, phase.socket));
      if (ep.tls) {
        phase.socket = secure(ep, options, phase.socket);
        await ready(phase.socket, "secureConnect", ep, (c) => (cancelled = c));
      }
    }
  } catch (err) {
    phase.socket.destroy(); // a socket that did not connect, or whose header could not be made
    throw err;
  } finally {
    disarm();
  }
  return new Connection(phase.socket, ep.key, options);
}

/**
 * Resolves when `socket` emits `event`; rejects with ConnectError on its error, or with what
 * `onCancel`'s callback is given (the connect's timeout or abort).
 */
function ready(
  socket: net.Socket,
  event: "connect" | "secureConnect",
  ep: Endpoint,
  onCancel: (cancel: (err: Error) => void) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      socket.off(event, onReady);
      socket.off("error", onError);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(new ConnectError(ep.key, err));
    };
    socket.once(event, onReady);
    socket.once("error", onError);
    onCancel((err) => {
      cleanup();
      reject(err);
    });
  });
}

/**
 * The header for a connected socket: `destination` defaults to the address it dialed, written
 * in the source's family (an IPv4 address dialed for an IPv6 source is IPv4-mapped, as
 * HAProxy does).
 */
function encodeForSocket(init: ProxyHeaderInit, socket: net.Socket): Buffer {
  if (init.destination !== undefined || init.source === undefined) return encodeProxyHeader(init);
  if ("path" in init.source) return encodeProxyHeader({ ...init, destination: { path: "" } });
  let address = socket.remoteAddress as string;
  if (net.isIPv6(init.source.address) && net.isIPv4(address)) address = `::ffff:${address}`;
  else if (net.isIPv4(init.source.address) && address.startsWith("::ffff:")) address = address.slice(7);
  return encodeProxyHeader({ ...init, destination: { address, port: socket.remotePort as number } });
}

/** Checks a `proxyHeader` before any I/O, with a stand-in destination of the source's family. */
function checkProxyHeader(what: string, init: ProxyHeaderInit): void {
  try {
    if (init.destination !== undefined || init.source === undefined) encodeProxyHeader(init);
    else {
      const src = init.source;
      const standIn = "path" in src ? { path: "" } : { address: net.isIPv6(src.address) ? "::" : "0.0.0.0", port: 0 };
      encodeProxyHeader({ ...init, destination: standIn });
    }
  } catch (err) {
    throw new InvalidArgumentError(`${what}.proxyHeader: ${(err as Error).message}`);
  }
}

/**
 * Checks connect options once, before any I/O: unknown keys and bad values throw
 * InvalidArgumentError naming the key and value (Node would throw a plain TypeError later,
 * from inside the dial).
 */
export function validateConnectOptions(what: string, options: ConnectOptions | undefined): void {
  validateOptions(what, options, connectOptionsSchema);
  checkAddressOptions(what, options);
}

/**
 * The checks the schema cannot express: localAddress is an IP, family is 0, 4 or 6, and a
 * proxyHeader can be encoded.
 */
export function checkAddressOptions(
  what: string,
  options: Pick<ConnectOptions, "localAddress" | "family" | "proxyHeader"> | undefined,
): void {
  if (options?.proxyHeader !== undefined) checkProxyHeader(what, options.proxyHeader);
  const local = options?.localAddress;
  if (local !== undefined && net.isIP(local) === 0) {
    throw new InvalidArgumentError(`${what}.localAddress must be an IP address, got ${quote(local)}`);
  }
  const family = options?.family;
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) {
    throw new InvalidArgumentError(`${what}.family must be 0, 4 or 6, got ${quote(family)}`);
  }
}

/**
 * Starts the dial: a plain socket, or for `tls://` a TLS socket whose handshake starts at
 * once, unless a PROXY header must go out first (then the plain socket; `secure` follows).
 */
function dial(ep: Endpoint, options: ConnectOptions): net.Socket {
  const common = {
    allowHalfOpen: true,
    noDelay: options.noDelay ?? true,
    keepAlive: options.keepAlive ?? true,
    keepAliveInitialDelay: options.keepAliveInitialDelay ?? 30_000,
  };
  if (ep.kind === "unix") return net.connect({ ...common, path: ep.path });
  const where = {
    host: ep.host,
    port: ep.port,
    ...(options.localAddress !== undefined && { localAddress: options.localAddress }),
    ...(options.family !== undefined && { family: options.family }),
  };
  if (!ep.tls || options.proxyHeader !== undefined) return net.connect({ ...common, ...where });
  const socket = tls.connect(tlsConnectOptions(ep, options, where));
  socket.setNoDelay(common.noDelay);
  socket.setKeepAlive(common.keepAlive, common.keepAliveInitialDelay);
  return socket;
}

/** The TLS handshake over `raw`, a connected socket that already carried the PROXY header. */
function secure(ep: Endpoint, options: ConnectOptions, raw: net.Socket): tls.TLSSocket {
  return tls.connect(tlsConnectOptions(ep, options, { socket: raw, host: ep.kind === "tcp" ? ep.host : undefined }));
}

/** Certificates are verified and SNI is sent (for names, not IP literals) unless `options.tls` says otherwise. */
function tlsConnectOptions(ep: Endpoint, options: ConnectOptions, where: object): tls.ConnectionOptions {
  const host = ep.kind === "tcp" ? ep.host : "";
  const servername = net.isIP(host) === 0 ? host : undefined;
  // tls.connect passes allowHalfOpen on to its TLSSocket, though @types/node leaves it out.
  const tlsOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    allowHalfOpen: true,
    ...where,
    ...(servername !== undefined && { servername }),
    ...options.tls,
  };
  return tlsOptions;
}
