import { BadFrameError, InvalidArgumentError } from "../errors.js";
import { crc32c } from "../internal/crc32c.js";
import {
  hex,
  MAX_UNIQUE_ID_LENGTH,
  type ProxySslInfo,
  type ProxySslInit,
  type ProxyTlv,
  type ProxyTlvs,
  type ProxyTlvsInit,
  SSL_CLIENT,
  SSL_TLV,
  showBytes,
  TLV,
} from "./proxy-header.js";

/**
 * Decoding of the v2 TLV area: `type (u8) | length (u16 BE) | value`, repeated to the end of
 * the header, and the second level inside `PP2_TYPE_SSL`. Values are views into the header's
 * own copy of its bytes (never into the caller's chunks), so keeping a TLV keeps at most one
 * header alive.
 */

const TLV_HEAD = 3;
const SSL_FIXED = 5; // client (u8) + verify (u32)

/** Names for messages. */
const NAMES: Record<number, string> = {
  [TLV.alpn]: "ALPN",
  [TLV.authority]: "authority",
  [TLV.crc32c]: "CRC32C",
  [TLV.uniqueId]: "unique id",
  [TLV.ssl]: "SSL",
  [TLV.netns]: "netns",
};
const SSL_NAMES = Object.fromEntries(Object.entries(SSL_TLV).map(([k, v]) => [v, k])) as Record<number, string>;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Walks `header[start, end)` as TLVs, calling `visit` with each value's absolute offset. */
function walk(header: Buffer, start: number, end: number, what: string, visit: (tlv: ProxyTlv, at: number) => void) {
  let offset = start;
  while (offset < end) {
    if (end - offset < TLV_HEAD) {
      throw new BadFrameError(
        `PROXY v2 ${what} at offset ${offset} is cut short: ${end - offset} bytes left, one needs 3`,
      );
    }
    const type = header[offset]!;
    const length = header.readUInt16BE(offset + 1);
    const at = offset + TLV_HEAD;
    if (length > end - at) {
      throw new BadFrameError(
        `PROXY v2 ${what} ${hex(type)} at offset ${offset} declares ${length} bytes but only ${end - at} remain`,
      );
    }
    visit({ type, value: header.subarray(at, at + length) }, at);
    offset = at + length;
  }
}

function text(value: Buffer, what: string): string {
  try {
    return utf8.decode(value);
  } catch {
    throw new BadFrameError(`PROXY v2 ${what} TLV is not valid UTF-8: ${showBytes(value)}`);
  }
}

/** Refuses a second TLV of a named type. */
function once(seen: Set<number>, type: number, name: string): void {
  if (seen.has(type)) throw new BadFrameError(`PROXY v2 ${name} TLV ${hex(type)} appears more than once`);
  seen.add(type);
}

/**
 * Parses the TLVs in `header[start, header.length)` and verifies the CRC32C when one is present.
 * @throws BadFrameError for a TLV that overruns the header, a repeated named type, a unique id
 * over 128 bytes, a CRC32C TLV not 4 bytes long or not matching, a malformed SSL TLV, or a
 * string that is not UTF-8.
 */
export function parseTlvs(header: Buffer, start: number): ProxyTlvs {
  const out: { -readonly [K in keyof ProxyTlvs]?: ProxyTlvs[K] } = {};
  const raw: ProxyTlv[] = [];
  const seen = new Set<number>();
  let crcAt = -1;
  walk(header, start, header.length, "TLV", (tlv, at) => {
    raw.push(tlv);
    const name = NAMES[tlv.type];
    if (name === undefined) return;
    once(seen, tlv.type, name);
    const { value } = tlv;
    if (tlv.type === TLV.alpn) out.alpn = value;
    else if (tlv.type === TLV.authority) out.authority = text(value, name);
    else if (tlv.type === TLV.netns) out.netns = text(value, name);
    else if (tlv.type === TLV.ssl) out.ssl = parseSsl(header, at, value.length);
    else if (tlv.type === TLV.uniqueId) out.uniqueId = uniqueId(value);
    else if (tlv.type === TLV.crc32c) {
      if (value.length !== 4) throw new BadFrameError(`PROXY v2 CRC32C TLV has ${value.length} bytes, not 4`);
      crcAt = at;
      out.crc32c = value.readUInt32BE(0);
    }
  });
  if (crcAt >= 0) verifyCrc(header, crcAt);
  return { ...out, raw };
}

function uniqueId(value: Buffer): Buffer {
  if (value.length <= MAX_UNIQUE_ID_LENGTH) return value;
  throw new BadFrameError(`PROXY v2 unique id TLV has ${value.length} bytes, more than ${MAX_UNIQUE_ID_LENGTH}`);
}

/** The CRC32C of the whole header with the checksum field zeroed must equal the field. */
function verifyCrc(header: Buffer, at: number): void {
  const sent = header.readUInt32BE(at);
  const zeroed = Buffer.from(header);
  zeroed.fill(0, at, at + 4);
  const computed = crc32c(zeroed);
  if (computed !== sent) {
    throw new BadFrameError(`PROXY v2 CRC32C ${hex8(sent)} does not match the header's checksum ${hex8(computed)}`);
  }
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** `PP2_TYPE_SSL`: client (u8), verify (u32 BE), then sub-TLVs up to the TLV's end. */
function parseSsl(header: Buffer, at: number, length: number): ProxySslInfo {
  if (length < SSL_FIXED) {
    throw new BadFrameError(`PROXY v2 SSL TLV has ${length} bytes, fewer than the 5 of its client and verify fields`);
  }
  const client = header[at]!;
  const out: { -readonly [K in keyof ProxySslInfo]?: ProxySslInfo[K] } = {
    client,
    ssl: (client & SSL_CLIENT.ssl) !== 0,
    certConn: (client & SSL_CLIENT.certConn) !== 0,
    certSess: (client & SSL_CLIENT.certSess) !== 0,
    verify: header.readUInt32BE(at + 1),
  };
  const raw: ProxyTlv[] = [];
  const seen = new Set<number>();
  walk(header, at + SSL_FIXED, at + length, "SSL sub-TLV", (tlv) => {
    raw.push(tlv);
    const name = SSL_NAMES[tlv.type];
    if (name === undefined) return;
    once(seen, tlv.type, `SSL ${name}`);
    if (tlv.type === SSL_TLV.clientCert) out.clientCert = tlv.value;
    else (out as Record<string, unknown>)[name] = text(tlv.value, `SSL ${name}`);
  });
  return { ...(out as Omit<ProxySslInfo, "raw">), raw };
}

/**
 * One TLV: type, u16 BE length, value.
 * @throws InvalidArgumentError when the value passes the u16 length.
 */
function tlv(type: number, value: Uint8Array | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  if (bytes.length > 0xffff) {
    throw new InvalidArgumentError(`PROXY v2 TLV ${hex(type)} value has ${bytes.length} bytes, more than 65535`);
  }
  const out = Buffer.allocUnsafe(TLV_HEAD + bytes.length);
  out[0] = type;
  out.writeUInt16BE(bytes.length, 1);
  out.set(bytes, TLV_HEAD);
  return out;
}

/**
 * Encodes validated TLVs. `crcAt` is the offset of the CRC32C value inside the returned
 * bytes (still zero, for the caller to fill once the whole header exists), or -1.
 */
export function encodeTlvs(init: ProxyTlvsInit): { bytes: Buffer; crcAt: number } {
  const parts: Buffer[] = [];
  let size = 0;
  let crcAt = -1;
  const add = (type: number, value: Uint8Array | string | undefined) => {
    if (value === undefined) return;
    const part = tlv(type, value);
    if (type === TLV.crc32c) crcAt = size + TLV_HEAD;
    parts.push(part);
    size += part.length;
  };
  add(TLV.alpn, init.alpn);
  add(TLV.authority, init.authority);
  add(TLV.crc32c, init.crc32c ? Buffer.alloc(4) : undefined);
  add(TLV.uniqueId, init.uniqueId);
  add(TLV.ssl, init.ssl && encodeSsl(init.ssl));
  add(TLV.netns, init.netns);
  for (const custom of init.custom ?? []) add(custom.type, custom.value);
  add(TLV.noop, init.noop === undefined ? undefined : Buffer.alloc(init.noop));
  return { bytes: Buffer.concat(parts, size), crcAt };
}

/** The SSL TLV's value: client bits, verify, then the sub-TLVs in sub-type order. */
function encodeSsl(init: ProxySslInit): Buffer {
  let client = init.clientBits ?? 0;
  if (init.ssl) client |= SSL_CLIENT.ssl;
  if (init.certConn) client |= SSL_CLIENT.certConn;
  if (init.certSess) client |= SSL_CLIENT.certSess;
  const fixed = Buffer.alloc(SSL_FIXED);
  fixed[0] = client;
  fixed.writeUInt32BE(init.verify ?? 0, 1);
  const parts: Buffer[] = [fixed];
  for (const [name, type] of Object.entries(SSL_TLV)) {
    const value = init[name as keyof typeof SSL_TLV];
    if (value !== undefined) parts.push(tlv(type, value));
  }
  return Buffer.concat(parts);
}
