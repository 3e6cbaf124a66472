import { InvalidArgumentError, quote } from "../errors.js";
import { parseIPv4, parseIPv6 } from "../internal/ip.js";
import { validateOptions } from "../internal/validate.js";
import {
  MAX_UNIQUE_ID_LENGTH,
  type ProxyAddress,
  type ProxyFamily,
  type ProxyHeaderInit,
  type ProxyInetAddress,
  type ProxySslInit,
  type ProxyTlvsInit,
  SSL_TLV,
  TLV,
  UNIX_PATH_LENGTH,
} from "./proxy-header.js";
import { encodeV1 } from "./proxy-v1.js";
import { encodeV2 } from "./proxy-v2.js";

const WHAT = "encodeProxyHeader";

/**
 * Encodes a PROXY protocol header for a client to send first on a connection.
 *
 * The family follows from the addresses: two IPv4 endpoints give `TCP4` / `AF_INET`, two
 * IPv6 ones `TCP6` / `AF_INET6` (an IPv4-mapped address such as `::ffff:10.0.0.1` counts as
 * IPv6), two UNIX paths `AF_UNIX` (v2 only), and none at all v1 `UNKNOWN` / v2 `AF_UNSPEC`.
 * v1 sends only the PROXY command, TCP, and no TLVs. For v2, `command: "local"` says the
 * connection is the sender's own (a health check); it may still carry addresses, which a
 * receiver ignores. With `tlvs.crc32c` the checksum is computed over the finished header.
 *
 * ```ts
 * encodeProxyHeader({ version: 1, source: { address: "192.0.2.1", port: 56324 },
 *   destination: { address: "198.51.100.1", port: 443 } });
 * // "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"
 * ```
 *
 * `ProxyHeaderParser` reads back what this writes (for `"local"`, without the addresses).
 * @throws InvalidArgumentError naming the field and value: an unknown key, a bad address or
 * port, endpoints of two families or only one of them, an option the version does not have,
 * a unique id over 128 bytes, a registered type among `custom`, or a header past 65551 bytes.
 */
export function encodeProxyHeader(init: ProxyHeaderInit): Buffer {
  validateOptions(WHAT, init, {
    version: "count",
    command: { oneOf: ["proxy", "local"] },
    transport: { oneOf: ["stream", "dgram", "unspec"] },
    source: "object",
    destination: "object",
    tlvs: "object",
  });
  const { version, command = "proxy", source, destination, tlvs } = init;
  const family = familyOf(source, destination);
  if (tlvs !== undefined) validateTlvs(tlvs);
  if (version === 2) {
    const transport = init.transport ?? (family === "unspec" ? "unspec" : "stream");
    return encodeV2({ command, family, transport, source, destination, tlvs });
  }
  if (version !== 1) throw new InvalidArgumentError(`${WHAT}: version must be 1 or 2, got ${quote(version)}`);
  if (command !== "proxy")
    throw new InvalidArgumentError(`${WHAT}: v1 has no command ${quote(command)}; use version 2`);
  if (family === "unix") throw new InvalidArgumentError(`${WHAT}: v1 cannot carry UNIX paths; use version 2`);
  if (init.transport === "dgram") throw new InvalidArgumentError(`${WHAT}: v1 carries TCP only, got transport "dgram"`);
  if (tlvs !== undefined) throw new InvalidArgumentError(`${WHAT}: v1 has no TLVs; use version 2`);
  return encodeV1(source as ProxyInetAddress | undefined, destination as ProxyInetAddress | undefined);
}

function familyOf(source: ProxyAddress | undefined, destination: ProxyAddress | undefined): ProxyFamily {
  if (source === undefined && destination === undefined) return "unspec";
  if (source === undefined || destination === undefined) {
    throw new InvalidArgumentError(
      `${WHAT}: source and destination go together, got source ${quote(source)} and destination ${quote(destination)}`,
    );
  }
  const a = addressFamily("source", source);
  const b = addressFamily("destination", destination);
  if (a !== b) {
    throw new InvalidArgumentError(
      `${WHAT}: source ${quote(source)} (${a}) and destination ${quote(destination)} (${b}) are of different families`,
    );
  }
  return a;
}

function addressFamily(side: string, address: ProxyAddress): ProxyFamily {
  if ("path" in address) {
    validateOptions(`${WHAT} ${side}`, address, { path: "string" });
    const size = Buffer.byteLength(address.path);
    if (size > UNIX_PATH_LENGTH) {
      throw new InvalidArgumentError(`${WHAT}: ${side}.path ${quote(address.path)} has ${size} bytes, more than 108`);
    }
    return "unix";
  }
  validateOptions(`${WHAT} ${side}`, address, { address: "string", port: "count0" });
  const { address: ip, port } = address as Partial<ProxyInetAddress>;
  if (port === undefined || port > 0xffff) {
    throw new InvalidArgumentError(`${WHAT}: ${side}.port must be an integer from 0 to 65535, got ${quote(port)}`);
  }
  if (typeof ip === "string" && parseIPv4(ip) !== undefined) return "tcp4";
  if (typeof ip === "string" && parseIPv6(ip) !== undefined) return "tcp6";
  throw new InvalidArgumentError(`${WHAT}: ${side}.address must be an IPv4 or IPv6 address, got ${quote(ip)}`);
}

const REGISTERED = new Set<number>(Object.values(TLV));

function validateTlvs(tlvs: ProxyTlvsInit): void {
  const what = `${WHAT} tlvs`;
  // alpn, uniqueId and custom.value take a Uint8Array or a string: checked by hand below.
  const { alpn, uniqueId, custom, ...rest } = tlvs;
  validateOptions(what, rest, {
    authority: "string",
    crc32c: "boolean",
    ssl: "object",
    netns: "string",
    noop: "count0",
  });
  bytesOrString(`${what}.alpn`, alpn);
  const id = bytesOrString(`${what}.uniqueId`, uniqueId);
  if (id > MAX_UNIQUE_ID_LENGTH) {
    throw new InvalidArgumentError(`${what}.uniqueId has ${id} bytes, more than ${MAX_UNIQUE_ID_LENGTH}`);
  }
  if (tlvs.noop !== undefined && tlvs.noop > 0xffff) {
    throw new InvalidArgumentError(`${what}.noop must be at most 65535, got ${tlvs.noop}`);
  }
  if (tlvs.ssl !== undefined) validateSsl(tlvs.ssl);
  if (custom !== undefined) validateCustom(custom);
}

/** Byte length of a `Uint8Array | string` value (0 when absent). */
function bytesOrString(what: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === "string") return Buffer.byteLength(value);
  if (value instanceof Uint8Array) return value.length;
  throw new InvalidArgumentError(`${what} must be a Uint8Array or a string, got ${quote(value)}`);
}

function validateCustom(custom: NonNullable<ProxyTlvsInit["custom"]>): void {
  if (!Array.isArray(custom)) {
    throw new InvalidArgumentError(`${WHAT} tlvs.custom must be an array of { type, value }, got ${quote(custom)}`);
  }
  custom.forEach((tlv: unknown, i) => {
    const what = `${WHAT} tlvs.custom[${i}]`;
    if (typeof tlv !== "object" || tlv === null)
      throw new InvalidArgumentError(`${what} must be an object, got ${quote(tlv)}`);
    const { type, value, ...extra } = tlv as { type?: unknown; value?: unknown };
    validateOptions(what, extra, {});
    if (typeof type !== "number" || !Number.isInteger(type) || type < 0 || type > 0xff || REGISTERED.has(type)) {
      throw new InvalidArgumentError(`${what}.type must be an unregistered type from 0 to 255, got ${quote(type)}`);
    }
    if (value === undefined) throw new InvalidArgumentError(`${what}.value is missing`);
    bytesOrString(`${what}.value`, value);
  });
}

function validateSsl(ssl: ProxySslInit): void {
  const what = `${WHAT} tlvs.ssl`;
  const strings = Object.fromEntries(Object.keys(SSL_TLV).map((k) => [k, "string" as const]));
  validateOptions(what, ssl, {
    ...strings,
    ssl: "boolean",
    certConn: "boolean",
    certSess: "boolean",
    clientBits: "count0",
    verify: "count0",
    clientCert: "object",
  });
  bytesOrString(`${what}.clientCert`, ssl.clientCert);
  if (ssl.clientBits !== undefined && ssl.clientBits > 0xff) {
    throw new InvalidArgumentError(`${what}.clientBits must be at most 255, got ${ssl.clientBits}`);
  }
  if (ssl.verify !== undefined && ssl.verify > 0xffffffff) {
    throw new InvalidArgumentError(`${what}.verify must be a u32, got ${ssl.verify}`);
  }
}
