import { BadFrameError, InvalidArgumentError, LimitExceededError } from "../errors.js";
import { crc32c } from "../internal/crc32c.js";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "../internal/ip.js";
import {
  hex,
  type ProxyAddress,
  type ProxyCommand,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyTlvsInit,
  type ProxyTransport,
  showBytes,
  UNIX_PATH_LENGTH,
  V2_ADDRESS_LENGTH,
  V2_MAX_LENGTH,
  V2_PREAMBLE_LENGTH,
  V2_SIGNATURE,
} from "./proxy-header.js";
import { encodeTlvs, parseTlvs } from "./proxy-tlvs.js";

/**
 * The v2 (binary) header: 12-byte signature, version/command byte, family/transport byte,
 * u16 BE length of the rest, then the address block (sized by the family) and TLVs.
 */

const COMMANDS: readonly ProxyCommand[] = ["local", "proxy"];
const FAMILIES: readonly ProxyFamily[] = ["unspec", "tcp4", "tcp6", "unix"];
const TRANSPORTS: readonly ProxyTransport[] = ["unspec", "stream", "dgram"];

/** What the fixed 16 bytes say; `total` is the whole header's length. */
export interface V2Preamble {
  readonly command: ProxyCommand;
  readonly family: ProxyFamily;
  readonly transport: ProxyTransport;
  readonly total: number;
}

/**
 * Checks the 16-byte preamble (signature already matched) before any of the body is
 * buffered: version 2, a known command, family and transport, a length within `max`, and,
 * for PROXY, room for the family's address block. LOCAL may carry any address block, even a
 * short or empty one, since the receiver ignores it.
 * @throws BadFrameError naming the field and value; LimitExceededError when the declared
 * length passes `max`.
 */
export function readV2Preamble(preamble: Buffer, max: number): V2Preamble {
  const version = preamble[12]! >> 4;
  if (version !== 2) throw new BadFrameError(`PROXY v2 version ${hex(version)} is not 0x02`);
  const command = COMMANDS[preamble[12]! & 0x0f];
  if (command === undefined) {
    throw new BadFrameError(`PROXY v2 command ${hex(preamble[12]! & 0x0f)} is not LOCAL (0x00) or PROXY (0x01)`);
  }
  const family = FAMILIES[preamble[13]! >> 4];
  if (family === undefined) {
    throw new BadFrameError(`PROXY v2 address family ${hex(preamble[13]! >> 4)} is not one of 0x00-0x03`);
  }
  const transport = TRANSPORTS[preamble[13]! & 0x0f];
  if (transport === undefined) {
    throw new BadFrameError(`PROXY v2 transport ${hex(preamble[13]! & 0x0f)} is not one of 0x00-0x02`);
  }
  const length = preamble.readUInt16BE(14);
  const total = V2_PREAMBLE_LENGTH + length;
  if (total > max) {
    throw new LimitExceededError(`PROXY v2 header (declared ${total} bytes)`, max, V2_PREAMBLE_LENGTH);
  }
  const needed = V2_ADDRESS_LENGTH[family];
  if (command === "proxy" && length < needed) {
    throw new BadFrameError(`PROXY v2 length ${length} is too short for the ${family} address block (${needed} bytes)`);
  }
  return { command, family, transport, total };
}

/**
 * Decodes a complete header (`header.length === preamble.total`): the addresses for PROXY,
 * then the TLVs after the address block. LOCAL skips the family's address block when the
 * header has room for it and otherwise treats everything as an ignored address block.
 */
export function parseV2(header: Buffer, preamble: V2Preamble): ProxyHeader {
  const { command, family, transport } = preamble;
  // Only LOCAL can be shorter than its address block (readV2Preamble): then no TLVs follow.
  const block = Math.min(V2_ADDRESS_LENGTH[family], header.length - V2_PREAMBLE_LENGTH);
  const addresses = command === "proxy" ? readAddresses(header, family) : undefined;
  const tlvs = parseTlvs(header, V2_PREAMBLE_LENGTH + block);
  return {
    version: 2,
    command,
    family,
    transport,
    source: addresses?.[0],
    destination: addresses?.[1],
    tlvs,
    length: header.length,
  };
}

function readAddresses(header: Buffer, family: ProxyFamily): [ProxyAddress, ProxyAddress] | undefined {
  const at = V2_PREAMBLE_LENGTH;
  switch (family) {
    case "unspec":
      return undefined;
    case "tcp4":
      return [
        { address: formatIPv4(header, at), port: header.readUInt16BE(at + 8) },
        { address: formatIPv4(header, at + 4), port: header.readUInt16BE(at + 10) },
      ];
    case "tcp6":
      return [
        { address: formatIPv6(header, at), port: header.readUInt16BE(at + 32) },
        { address: formatIPv6(header, at + 16), port: header.readUInt16BE(at + 34) },
      ];
    case "unix":
      return [
        { path: unixPath(header, at, "source") },
        { path: unixPath(header, at + UNIX_PATH_LENGTH, "destination") },
      ];
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A `sun_path`: the name up to its NUL; an abstract name (leading NUL) keeps its `"\0"`. */
function unixPath(header: Buffer, at: number, side: string): string {
  const field = header.subarray(at, at + UNIX_PATH_LENGTH);
  const from = field[0] === 0 ? 1 : 0;
  const nul = field.indexOf(0, from);
  const name = field.subarray(from, nul < 0 ? field.length : nul);
  if (from === 1 && name.length === 0) return "";
  try {
    return (from === 1 ? "\0" : "") + utf8.decode(name);
  } catch {
    throw new BadFrameError(`PROXY v2 ${side} UNIX path is not valid UTF-8: ${showBytes(name)}`);
  }
}

/** A validated request to encode: the family follows from the addresses. */
export interface V2Init {
  readonly command: ProxyCommand;
  readonly family: ProxyFamily;
  readonly transport: ProxyTransport;
  readonly source: ProxyAddress | undefined;
  readonly destination: ProxyAddress | undefined;
  readonly tlvs: ProxyTlvsInit | undefined;
}

/**
 * Encodes a validated request.
 * @throws InvalidArgumentError when the address block and TLVs pass the u16 length field.
 */
export function encodeV2(init: V2Init): Buffer {
  const block = encodeAddresses(init);
  const tlvs = init.tlvs === undefined ? { bytes: Buffer.alloc(0), crcAt: -1 } : encodeTlvs(init.tlvs);
  const total = V2_PREAMBLE_LENGTH + block.length + tlvs.bytes.length;
  if (total > V2_MAX_LENGTH) {
    throw new InvalidArgumentError(
      `PROXY v2 header would be ${total} bytes; the format allows at most ${V2_MAX_LENGTH}`,
    );
  }
  const header = Buffer.concat([V2_SIGNATURE, Buffer.alloc(4), block, tlvs.bytes]);
  header[12] = 0x20 | COMMANDS.indexOf(init.command);
  header[13] = (FAMILIES.indexOf(init.family) << 4) | TRANSPORTS.indexOf(init.transport);
  header.writeUInt16BE(header.length - V2_PREAMBLE_LENGTH, 14);
  if (tlvs.crcAt >= 0) {
    header.writeUInt32BE(crc32c(header), V2_PREAMBLE_LENGTH + block.length + tlvs.crcAt);
  }
  return header;
}

function encodeAddresses(init: V2Init): Buffer {
  const block = Buffer.alloc(V2_ADDRESS_LENGTH[init.family]);
  const { source, destination } = init;
  if (source === undefined || destination === undefined) return block;
  if ("path" in source && "path" in destination) {
    block.write(source.path, 0, UNIX_PATH_LENGTH, "utf8");
    block.write(destination.path, UNIX_PATH_LENGTH, UNIX_PATH_LENGTH, "utf8");
    return block;
  }
  if (!("port" in source) || !("port" in destination)) return block;
  const v4 = init.family === "tcp4";
  const size = v4 ? 4 : 16;
  const parse = v4 ? parseIPv4 : parseIPv6;
  block.set(parse(source.address)!, 0);
  block.set(parse(destination.address)!, size);
  block.writeUInt16BE(source.port, 2 * size);
  block.writeUInt16BE(destination.port, 2 * size + 2);
  return block;
}
