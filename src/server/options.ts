import type tls from "node:tls";
import { InvalidArgumentError, quote } from "../errors.js";
import type { Schema } from "../internal/validate.js";

/** Where and how to listen. */
export interface ListenOptions {
  /** Default 127.0.0.1 (never every interface by accident). `"::"` accepts IPv4 and IPv6. */
  host?: string | undefined;
  /** Default 0: any free port; `server.address().port` tells which. */
  port?: number | undefined;
  /** A Unix socket path instead of host and port. */
  path?: string | undefined;
  /** Serve TLS: certificates and settings for `tls.createServer`. TLS 1.2 is the minimum. */
  tls?: (tls.TlsOptions & tls.SecureContextOptions) | undefined;
  /** Length of the kernel's queue of unaccepted connections. */
  backlog?: number | undefined;
  /** With `host: "::"`, accept IPv6 only. Default false (dual stack). */
  ipv6Only?: boolean | undefined;
}

export const serverOptionsSchema: Schema = {
  maxConnections: "count?",
  maxConnectionsPerAddress: "count?",
  idleTimeout: "ms?",
  maxLineLength: "bytes",
  lineTimeout: "ms?",
  highWaterMark: "bytes",
  slowClientPolicy: { oneOf: ["drop", "disconnect"] },
  connection: "object",
  handshakeTimeout: "ms",
  closeTimeout: "ms?",
  noDelay: "boolean",
  keepAlive: "boolean",
};

export const listenOptionsSchema: Schema = {
  host: "string",
  port: "count0",
  path: "string",
  tls: "object",
  backlog: "count",
  ipv6Only: "boolean",
};

const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"];

/** TLS defaults: 1.2 minimum (lower is refused) and a 5 s handshake timeout. */
export function tlsServerOptions(options: tls.TlsOptions, handshakeTimeout: number | undefined): tls.TlsOptions {
  const minVersion = options.minVersion ?? "TLSv1.2";
  if (!TLS_VERSIONS.includes(minVersion)) {
    throw new InvalidArgumentError(
      `listen options.tls.minVersion must be TLSv1.2 or TLSv1.3, got ${quote(minVersion)}`,
    );
  }
  return { allowHalfOpen: true, ...options, minVersion, handshakeTimeout: handshakeTimeout ?? 5000 };
}
