import net from "node:net";
import tls from "node:tls";
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
 */
export async function connect(endpoint: EndpointInput | Endpoint, options: ConnectOptions = {}): Promise<Connection> {
  const ep = parseEndpoint(endpoint);
  validateConnectOptions("connect options", options);
  throwIfAborted(`connect to ${ep.key}`, options.signal);
  const socket = dial(ep, options);
  await new Promise<void>((resolve, reject) => {
    const ready = ep.tls ? "secureConnect" : "connect";
    const cleanup = () => {
      disarm();
      socket.off(ready, onReady);
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
    socket.once(ready, onReady);
    socket.once("error", onError);
    const disarm = armCancel(
      `connect to ${ep.key}`,
      { signal: options.signal, timeout: options.timeout ?? DEFAULT_CONNECT_TIMEOUT },
      (ms) => new ConnectTimeoutError(ep.key, ms),
      (err) => {
        cleanup();
        socket.on("error", () => {}); // a late error from the destroyed socket is moot
        socket.destroy();
        reject(err);
      },
    );
  });
  return new Connection(socket, ep.key, options);
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

/** The checks the schema cannot express: localAddress is an IP, family is 0, 4 or 6. */
export function checkAddressOptions(
  what: string,
  options: Pick<ConnectOptions, "localAddress" | "family"> | undefined,
): void {
  const local = options?.localAddress;
  if (local !== undefined && net.isIP(local) === 0) {
    throw new InvalidArgumentError(`${what}.localAddress must be an IP address, got ${quote(local)}`);
  }
  const family = options?.family;
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) {
    throw new InvalidArgumentError(`${what}.family must be 0, 4 or 6, got ${quote(family)}`);
  }
}

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
  if (!ep.tls) return net.connect({ ...common, ...where });
  const servername = net.isIP(ep.host) === 0 ? ep.host : undefined;
  // tls.connect passes allowHalfOpen on to its TLSSocket, though @types/node leaves it out.
  const tlsOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    allowHalfOpen: true,
    ...where,
    ...(servername !== undefined && { servername }),
    ...options.tls,
  };
  const socket = tls.connect(tlsOptions);
  socket.setNoDelay(common.noDelay);
  socket.setKeepAlive(common.keepAlive, common.keepAliveInitialDelay);
  return socket;
}
