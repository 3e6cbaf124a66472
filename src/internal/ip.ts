import net from "node:net";

/**
 * IP addresses as bytes and back, for the PROXY protocol codec and the trust list. Parsing is
 * strict (Node's `net.isIP` decides what is valid: no leading zeros in IPv4, no zone id);
 * formatting matches what Node reports as `remoteAddress` (libuv's `inet_ntop`), so an
 * address read from a header compares equal to the same address read from a socket.
 */

/** The 4 bytes of a dotted-quad IPv4 address, or `undefined` when `text` is not one. */
export function parseIPv4(text: string): Uint8Array | undefined {
  if (!net.isIPv4(text)) return undefined;
  const out = new Uint8Array(4);
  let octet = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) octet++;
    else out[octet] = out[octet]! * 10 + (c - 0x30);
  }
  return out;
}

/**
 * The 16 bytes of an IPv6 address (with an optional `::` and a trailing dotted quad), or
 * `undefined` when `text` is not one. A zone id (`fe80::1%eth0`) is refused: it has no bytes.
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (!net.isIPv6(text) || text.includes("%")) return undefined;
  const out = new Uint8Array(16);
  const gap = text.indexOf("::");
  if (gap < 0) {
    putWords(out, text, 0);
  } else {
    putWords(out, text.slice(0, gap), 0);
    const tail = text.slice(gap + 2);
    putWords(out, tail, 16 - 2 * wordCount(tail));
  }
  return out;
}

/** Number of 16-bit words in a colon-separated run; a dotted quad counts two. */
function wordCount(run: string): number {
  if (run === "") return 0;
  const parts = run.split(":");
  return parts.length + (parts[parts.length - 1]!.includes(".") ? 1 : 0);
}

/** Writes the words of a colon-separated run (already validated) into `out` from `offset`. */
function putWords(out: Uint8Array, run: string, offset: number): void {
  if (run === "") return;
  let at = offset;
  for (const part of run.split(":")) {
    if (part.includes(".")) {
      out.set(parseIPv4(part)!, at);
      return;
    }
    const word = Number.parseInt(part, 16);
    out[at++] = word >>> 8;
    out[at++] = word & 0xff;
  }
}

/** Dotted quad of the 4 bytes at `offset`. */
export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/**
 * The 16 bytes at `offset` in the form libuv (and so Node) prints: lower-case hex, the
 * longest run of two or more zero words (the first, on a tie) shortened to `::`, and a dotted
 * quad for IPv4-mapped (`::ffff:1.2.3.4`) and IPv4-compatible (`::1.2.3.4`) addresses.
 */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  const run = longestZeroRun(w);
  if (run.start === 0 && run.length === 6) return `::${formatIPv4(bytes, offset + 12)}`;
  if (run.start === 0 && run.length === 5 && w[5] === 0xffff) return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === run.start) {
      out += i === 0 ? "::" : ":";
      i += run.length - 1;
      continue;
    }
    out += w[i]!.toString(16) + (i < 7 ? ":" : "");
  }
  return out;
}

function longestZeroRun(w: readonly number[]): { start: number; length: number } {
  let best = { start: -1, length: 0 };
  let start = -1;
  for (let i = 0; i <= w.length; i++) {
    if (i < w.length && w[i] === 0) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start > best.length) best = { start, length: i - start };
    start = -1;
  }
  return best.length >= 2 ? best : { start: -1, length: 0 };
}
