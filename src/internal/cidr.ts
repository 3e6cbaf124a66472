import { InvalidArgumentError, quote } from "../errors.js";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "./ip.js";

/** One parsed entry: the network's bytes (host bits zero) and its prefix length. */
interface Network {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * A list of trusted IPv4 and IPv6 addresses and CIDR blocks, such as the peers allowed to
 * send a PROXY protocol header: `new TrustList(["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])`.
 *
 * An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as Node reports a dual-stack peer) is the
 * IPv4 address it carries, both in the list (`::ffff:10.0.0.0/104` is `10.0.0.0/8`) and in
 * {@link has}, so either spelling matches either kind of entry. Matching is a linear scan:
 * lists are short, and `has` runs once per accepted connection.
 *
 * State: `#v4` and `#v6` hold the entries by family, in the order given; immutable after
 * construction.
 */
export class TrustList {
  readonly #v4: Network[] = [];
  readonly #v6: Network[] = [];

  /**
   * @throws InvalidArgumentError naming the entry when one is not an address or a CIDR, has a
   * prefix out of range, or has host bits set past its prefix (`10.1.0.0/8`: a typo for
   * `10.0.0.0/8` or for `10.1.0.0/16`, so it is refused rather than guessed).
   */
  constructor(entries: readonly string[]) {
    if (!Array.isArray(entries)) {
      throw new InvalidArgumentError(`trust list must be an array of addresses and CIDRs, got ${quote(entries)}`);
    }
    for (const entry of entries) {
      const network = parseEntry(entry);
      (network.bytes.length === 4 ? this.#v4 : this.#v6).push(network);
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.#v4.length + this.#v6.length;
  }

  /**
   * True when `address` (as a socket reports it; a zone id such as `%eth0` is ignored) lies
   * in one of the entries. Anything that is not an IP address, `undefined` included (the
   * `remoteAddress` of a socket already closed), is not trusted.
   */
  has(address: string | undefined): boolean {
    if (typeof address !== "string") return false;
    const bytes = addressBytes(stripZone(address));
    if (bytes === undefined) return false;
    const list = bytes.length === 4 ? this.#v4 : this.#v6;
    return list.some((network) => contains(network, bytes));
  }

  /** The entries in canonical form, IPv4 first: `["10.0.0.0/8", "::1/128"]`. */
  toJSON(): string[] {
    const v4 = this.#v4.map((n) => `${formatIPv4(n.bytes)}/${n.prefix}`);
    return [...v4, ...this.#v6.map((n) => `${formatIPv6(n.bytes)}/${n.prefix}`)];
  }
}

function parseEntry(entry: unknown): Network {
  const bad = (why: string) => new InvalidArgumentError(`trust list entry ${quote(entry)} ${why}`);
  if (typeof entry !== "string") throw bad("is not a string");
  const slash = entry.indexOf("/");
  const text = slash < 0 ? entry : entry.slice(0, slash);
  const raw = parseIPv4(text) ?? parseIPv6(text);
  if (raw === undefined) throw bad("is not an IPv4 or IPv6 address or CIDR");
  const max = raw.length * 8;
  const prefix = slash < 0 ? max : parsePrefix(entry.slice(slash + 1));
  if (prefix === undefined || prefix > max) throw bad(`has a prefix length out of range 0-${max}`);
  const network = unmap({ bytes: raw, prefix });
  if (!hostBitsZero(network)) throw bad(`has bits set past its /${prefix} prefix`);
  return network;
}

function parsePrefix(text: string): number | undefined {
  return /^(0|[1-9][0-9]{0,2})$/.test(text) ? Number(text) : undefined;
}

/** An entry inside `::ffff:0:0/96` becomes the IPv4 network it covers. */
function unmap(network: Network): Network {
  if (network.prefix < 96 || !isMapped(network.bytes)) return network;
  return { bytes: network.bytes.slice(12), prefix: network.prefix - 96 };
}

function addressBytes(address: string): Uint8Array | undefined {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return v4;
  const v6 = parseIPv6(address);
  if (v6 === undefined) return undefined;
  return isMapped(v6) ? v6.slice(12) : v6;
}

function stripZone(address: string): string {
  const percent = address.indexOf("%");
  return percent < 0 ? address : address.slice(0, percent);
}

/** True for `::ffff:a.b.c.d`: ten zero bytes, then two 0xff. */
function isMapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16 || bytes[10] !== 0xff || bytes[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return true;
}

function hostBitsZero(network: Network): boolean {
  return network.bytes.every((b, i) => (b & ~maskByte(network.prefix, i)) === 0);
}

/** The prefix mask's byte at `index`. */
function maskByte(prefix: number, index: number): number {
  const bits = Math.min(8, Math.max(0, prefix - 8 * index));
  return (0xff << (8 - bits)) & 0xff;
}

function contains(network: Network, bytes: Uint8Array): boolean {
  const full = network.prefix >>> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== network.bytes[i]) return false;
  const rest = network.prefix & 7;
  if (rest === 0) return true;
  const mask = maskByte(network.prefix, full);
  return (bytes[full]! & mask) === network.bytes[full];
}
