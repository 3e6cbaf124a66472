import { BadFrameError, quote } from "../errors.js";
import { formatIPv6, parseIPv4, parseIPv6 } from "../internal/ip.js";
import type { ProxyFamily, ProxyHeader, ProxyInetAddress, ProxyTransport } from "./proxy-header.js";

/**
 * The v1 (text) line: `PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n`, or
 * `PROXY UNKNOWN` followed by anything up to the CRLF (the spec tells receivers to ignore it).
 */

/**
 * Parses a complete line. The caller (ProxyHeaderParser) has already checked that it starts
 * with `"PROXY "`, ends with the only CRLF in it, holds nothing but printable US-ASCII before
 * that, and is at most 107 bytes long.
 * @throws BadFrameError naming the field and its value.
 */
export function parseV1Line(line: Buffer): ProxyHeader {
  const text = line.toString("latin1", 0, line.length - 2);
  const fields = text.split(" ");
  const protocol = fields[1]!;
  if (protocol === "UNKNOWN") return v1Header("unspec", "unspec", undefined, undefined, line.length);
  if (protocol !== "TCP4" && protocol !== "TCP6") {
    throw new BadFrameError(`PROXY v1 protocol ${quote(protocol)} is not TCP4, TCP6 or UNKNOWN`);
  }
  if (fields.length !== 6) {
    throw new BadFrameError(`PROXY v1 line ${quote(text)} has ${fields.length} fields, ${protocol} needs 6`);
  }
  const source = inet("source", protocol, fields[2]!, fields[4]!);
  const destination = inet("destination", protocol, fields[3]!, fields[5]!);
  return v1Header(protocol === "TCP4" ? "tcp4" : "tcp6", "stream", source, destination, line.length);
}

function v1Header(
  family: ProxyFamily,
  transport: ProxyTransport,
  source: ProxyInetAddress | undefined,
  destination: ProxyInetAddress | undefined,
  length: number,
): ProxyHeader {
  return { version: 1, command: "proxy", family, transport, source, destination, tlvs: { raw: [] }, length };
}

function inet(side: string, protocol: "TCP4" | "TCP6", address: string, port: string): ProxyInetAddress {
  return { address: v1Address(side, protocol, address), port: v1Port(side, port) };
}

/** The address as Node would print it; IPv6 is re-printed (so `2001:DB8::1` becomes `2001:db8::1`). */
function v1Address(side: string, protocol: "TCP4" | "TCP6", text: string): string {
  if (protocol === "TCP4") {
    if (parseIPv4(text) !== undefined) return text;
    throw new BadFrameError(`PROXY v1 ${side} address ${quote(text)} is not an IPv4 address (the line says TCP4)`);
  }
  const bytes = parseIPv6(text);
  if (bytes !== undefined) return formatIPv6(bytes);
  throw new BadFrameError(`PROXY v1 ${side} address ${quote(text)} is not an IPv6 address (the line says TCP6)`);
}

function v1Port(side: string, text: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) {
    throw new BadFrameError(`PROXY v1 ${side} port ${quote(text)} is not a decimal number without leading zeros`);
  }
  const port = Number(text);
  if (port > 0xffff) throw new BadFrameError(`PROXY v1 ${side} port ${quote(text)} is out of range 0-65535`);
  return port;
}

/**
 * Encodes a v1 line from already validated addresses: `TCP4`/`TCP6` when both are given,
 * `UNKNOWN` (no addresses) when neither is.
 */
export function encodeV1(source: ProxyInetAddress | undefined, destination: ProxyInetAddress | undefined): Buffer {
  if (source === undefined || destination === undefined) return Buffer.from("PROXY UNKNOWN\r\n", "latin1");
  const v6 = source.address.includes(":");
  const show = (a: string) => (v6 ? formatIPv6(parseIPv6(a)!) : a);
  const protocol = v6 ? "TCP6" : "TCP4";
  const line = `PROXY ${protocol} ${show(source.address)} ${show(destination.address)} ${source.port} ${destination.port}\r\n`;
  return Buffer.from(line, "latin1");
}
