import { isIP } from "node:net";
import { InvalidEndpointError } from "./errors.js";

/**
 * Where a socket goes. Strings are `host:port`, `[v6addr]:port`, `tls://host:port`,
 * `tcp://host:port` or `unix:/path`; objects are `{ host, port, tls? }` or `{ path }`.
 */
export type EndpointInput = string | { host: string; port: number; tls?: boolean } | { path: string };

export type Endpoint =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number; readonly tls: boolean; readonly key: string }
  | { readonly kind: "unix"; readonly path: string; readonly tls: false; readonly key: string };

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_UNIX_PATH_BYTES = 107;

/**
 * Parses and normalises an endpoint. The result's `key` is stable: equal endpoints written
 * differently (`LOCALHOST:80`, `{ host: "localhost", port: 80 }`) get the same key.
 * Throws {@link InvalidEndpointError} quoting the input when it cannot be parsed, the port is
 * not an integer in 1–65535, the host is empty, the scheme is unknown, or a Unix path is
 * longer than 107 bytes. Does no I/O (no DNS).
 */
export function parseEndpoint(input: EndpointInput | Endpoint): Endpoint {
  if (typeof input === "string") return parseString(input);
  if (typeof input !== "object" || input === null) {
    throw new InvalidEndpointError(input, "expected a string or an object");
  }
  if ("key" in input && "kind" in input) return input as Endpoint;
  if ("path" in input) return unixEndpoint(input, input.path);
  if ("host" in input) {
    const tls = (input as { tls?: unknown }).tls ?? false;
    if (typeof tls !== "boolean") throw new InvalidEndpointError(input, "tls must be a boolean");
    return tcpEndpoint(input, input.host, input.port, tls);
  }
  throw new InvalidEndpointError(input, "expected { host, port } or { path }");
}

/** The stable key of an endpoint (what the pool maps by). */
export function endpointKey(input: EndpointInput | Endpoint): string {
  return parseEndpoint(input).key;
}

function parseString(input: string): Endpoint {
  const text = input.trim();
  if (text.startsWith("unix:")) {
    return unixEndpoint(input, text.slice(text.startsWith("unix://") ? 7 : 5));
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  let tls = false;
  let rest = text;
  if (scheme) {
    const name = scheme[1]?.toLowerCase();
    if (name === "tls") tls = true;
    else if (name !== "tcp") throw new InvalidEndpointError(input, `unknown scheme "${scheme[1]}://"`);
    rest = text.slice(scheme[0].length);
  }
  let host: string;
  let portText: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) throw new InvalidEndpointError(input, "missing ']' after an IPv6 address");
    host = rest.slice(1, close);
    if (rest[close + 1] !== ":") throw new InvalidEndpointError(input, "missing ':port'");
    portText = rest.slice(close + 2);
    if (isIP(host) !== 6) throw new InvalidEndpointError(input, `"${host}" is not an IPv6 address`);
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon < 0) throw new InvalidEndpointError(input, "missing ':port'");
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(":")) {
      throw new InvalidEndpointError(input, "write IPv6 addresses in brackets: [addr]:port");
    }
  }
  if (!/^\d{1,5}$/.test(portText)) {
    throw new InvalidEndpointError(input, `port "${portText}" is not a number from 1 to 65535`);
  }
  return tcpEndpoint(input, host, Number(portText), tls);
}

function tcpEndpoint(input: unknown, host: unknown, port: unknown, tls: boolean): Endpoint {
  if (typeof host !== "string" || host.trim() === "") throw new InvalidEndpointError(input, "empty host");
  if (/[\s/@?#]/.test(host.trim())) throw new InvalidEndpointError(input, `bad host "${host}"`);
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidEndpointError(input, `port ${String(port)} is out of range 1–65535`);
  }
  const name = host.trim().toLowerCase();
  const shown = isIP(name) === 6 ? `[${name}]` : name;
  return { kind: "tcp", host: name, port, tls, key: `${tls ? "tls://" : ""}${shown}:${port}` };
}

function unixEndpoint(input: unknown, path: unknown): Endpoint {
  if (typeof path !== "string" || path === "") throw new InvalidEndpointError(input, "empty Unix socket path");
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new InvalidEndpointError(
      input,
      `Unix socket path is ${bytes} bytes, over the limit of ${MAX_UNIX_PATH_BYTES}`,
    );
  }
  return { kind: "unix", path, tls: false, key: `unix:${path}` };
}
