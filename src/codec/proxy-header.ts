/**
 * The PROXY protocol header as sockpool sees it, both versions in one shape, and the wire
 * constants. See proxy-protocol.ts for the parser and the encoder.
 */

/** `"proxy"`: relayed for a client (use the addresses). `"local"`: the balancer's own connection (health check). */
export type ProxyCommand = "proxy" | "local";

/**
 * The address family. v1 `TCP4`/`TCP6` and v2 `AF_INET`/`AF_INET6` are `"tcp4"`/`"tcp6"`
 * (check {@link ProxyHeader.transport}: over v2 it may be `"dgram"`, UDP); v2 `AF_UNIX` is
 * `"unix"`; v1 `UNKNOWN` and v2 `AF_UNSPEC` are `"unspec"`.
 */
export type ProxyFamily = "tcp4" | "tcp6" | "unix" | "unspec";

/** v2's transport nibble; v1 `TCP4`/`TCP6` is `"stream"` and `UNKNOWN` is `"unspec"`. */
export type ProxyTransport = "stream" | "dgram" | "unspec";

/** An IPv4 or IPv6 endpoint. `address` is printed the way Node prints `remoteAddress`. */
export interface ProxyInetAddress {
  readonly address: string;
  readonly port: number;
}

/**
 * A UNIX socket address. An abstract (Linux) name starts with `"\0"`; an unnamed socket has
 * the path `""`. Decoding stops at the first NUL after the name.
 */
export interface ProxyUnixAddress {
  readonly path: string;
}

export type ProxyAddress = ProxyInetAddress | ProxyUnixAddress;

/** One TLV as it was on the wire. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** The `PP2_TYPE_SSL` TLV: how the client reached the balancer over TLS. */
export interface ProxySslInfo {
  /** The raw `client` bit field (u8); the three booleans below are its known bits. */
  readonly client: number;
  /** `PP2_CLIENT_SSL` (0x01): the client connected over TLS. */
  readonly ssl: boolean;
  /** `PP2_CLIENT_CERT_CONN` (0x02): the client sent a certificate on this connection. */
  readonly certConn: boolean;
  /** `PP2_CLIENT_CERT_SESS` (0x04): the client sent a certificate at least once in this TLS session. */
  readonly certSess: boolean;
  /** The `verify` field (u32): 0 when the client's certificate was verified, anything else when not. */
  readonly verify: number;
  /** TLS version, such as `"TLSv1.3"` (0x21). */
  readonly version?: string;
  /** Common Name of the client certificate's subject (0x22). */
  readonly cn?: string;
  /** Cipher name, such as `"ECDHE-RSA-AES128-GCM-SHA256"` (0x23). */
  readonly cipher?: string;
  /** Algorithm that signed the balancer's certificate, such as `"RSA-SHA256"` (0x24). */
  readonly sigAlg?: string;
  /** Key algorithm of the balancer's certificate, such as `"RSA2048"` (0x25). */
  readonly keyAlg?: string;
  /** Key exchange group, such as `"secp256r1"` (0x26). */
  readonly group?: string;
  /** Signature scheme of the handshake, such as `"rsa_pss_rsae_sha256"` (0x27). */
  readonly sigScheme?: string;
  /** The client certificate, DER (0x28). */
  readonly clientCert?: Buffer;
  /** Every sub-TLV in wire order, unknown sub-types included. */
  readonly raw: readonly ProxyTlv[];
}

/**
 * The TLVs of a v2 header (a v1 header has none: every field absent, `raw` empty). Each named
 * type may appear once; a repeat is a bad frame.
 */
export interface ProxyTlvs {
  /** `PP2_TYPE_ALPN` (0x01): the protocol the client negotiated, such as `h2`. */
  readonly alpn?: Buffer;
  /** `PP2_TYPE_AUTHORITY` (0x02): the host name the client asked for (TLS SNI). */
  readonly authority?: string;
  /** `PP2_TYPE_CRC32C` (0x03): the checksum, already verified against the header. */
  readonly crc32c?: number;
  /** `PP2_TYPE_UNIQUE_ID` (0x05): the balancer's opaque id for the connection, at most 128 bytes. */
  readonly uniqueId?: Buffer;
  /** `PP2_TYPE_SSL` (0x20) with its sub-TLVs. */
  readonly ssl?: ProxySslInfo;
  /** `PP2_TYPE_NETNS` (0x30): the network namespace's name. */
  readonly netns?: string;
  /**
   * Every TLV in wire order, exactly as sent: the named ones above, `PP2_TYPE_NOOP` (0x04)
   * padding and unknown or custom types (such as 0xE0-0xEF) alike. Read custom TLVs here.
   */
  readonly raw: readonly ProxyTlv[];
}

/**
 * A parsed PROXY protocol header. `source` is the client and `destination` the address it
 * connected to on the balancer. Both are `undefined` when the header carries no addresses to
 * use: the `"local"` command (whatever the family says, as the spec asks), family
 * `"unspec"` (v1 `UNKNOWN`, v2 `AF_UNSPEC`). A receiver then uses the socket's own addresses.
 */
export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly command: ProxyCommand;
  readonly family: ProxyFamily;
  readonly transport: ProxyTransport;
  readonly source: ProxyAddress | undefined;
  readonly destination: ProxyAddress | undefined;
  readonly tlvs: ProxyTlvs;
  /** Bytes the header took on the wire (a v1 line with its CRLF; a v2 header is 16 + its length field). */
  readonly length: number;
}

/** `"PROXY "`: the start of every v1 line. */
export const V1_SIGNATURE = Buffer.from("PROXY ", "latin1");
/** The 12 bytes that open every v2 header. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports). */
export const V1_MAX_LENGTH = 107;
/** Fixed part of a v2 header: signature, version/command, family/transport, u16 length. */
export const V2_PREAMBLE_LENGTH = 16;
/** Largest v2 header the format allows: the preamble plus a u16 length. */
export const V2_MAX_LENGTH = V2_PREAMBLE_LENGTH + 0xffff;
/** Default bound on a v2 header: room for every TLV a balancer usually sends, client certificate aside. */
export const DEFAULT_MAX_HEADER_SIZE = 4096;
/** Length of the v2 address block for each family (addresses, then ports for INET/INET6). */
export const V2_ADDRESS_LENGTH: Readonly<Record<ProxyFamily, number>> = { unspec: 0, tcp4: 12, tcp6: 36, unix: 216 };
/** Length of one `sun_path` in the v2 UNIX address block. */
export const UNIX_PATH_LENGTH = 108;
/** Longest `PP2_TYPE_UNIQUE_ID` value. */
export const MAX_UNIQUE_ID_LENGTH = 128;

/** Registered TLV types. */
export const TLV = {
  alpn: 0x01,
  authority: 0x02,
  crc32c: 0x03,
  noop: 0x04,
  uniqueId: 0x05,
  ssl: 0x20,
  netns: 0x30,
} as const;

/** Registered sub-types inside `PP2_TYPE_SSL`. */
export const SSL_TLV = {
  version: 0x21,
  cn: 0x22,
  cipher: 0x23,
  sigAlg: 0x24,
  keyAlg: 0x25,
  group: 0x26,
  sigScheme: 0x27,
  clientCert: 0x28,
} as const;

/** Bits of the SSL TLV's `client` field. */
export const SSL_CLIENT = { ssl: 0x01, certConn: 0x02, certSess: 0x04 } as const;

/** Bytes in hex for messages, the first 32 only. */
export function showBytes(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 32)).toString("hex");
  return bytes.length > 32 ? `${shown}… (${bytes.length} bytes)` : shown;
}

/** `0x1f` → `"0x1F"`, for messages. */
export function hex(n: number): string {
  return `0x${n.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** What {@link encodeProxyHeader} sends. Addresses pick the family; see its doc comment. */
export interface ProxyHeaderInit {
  readonly version: 1 | 2;
  /** Default `"proxy"`. `"local"` (v2 only) is a connection of the sender's own, such as a health check. */
  readonly command?: ProxyCommand;
  /** v2 only. Default `"stream"` with addresses, `"unspec"` without. v1 accepts only `"stream"` (TCP). */
  readonly transport?: ProxyTransport;
  /** Both or neither: two IP endpoints of one family, two UNIX paths (v2), or none (v1 `UNKNOWN`, v2 `AF_UNSPEC`). */
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
  /** v2 only. */
  readonly tlvs?: ProxyTlvsInit;
}

/** TLVs to send, written in type order, then `custom` in the order given, then the NOOP padding. */
export interface ProxyTlvsInit {
  readonly alpn?: Uint8Array | string;
  readonly authority?: string;
  /** Add a `PP2_TYPE_CRC32C` TLV holding the checksum of the whole header. */
  readonly crc32c?: boolean;
  /** At most 128 bytes. */
  readonly uniqueId?: Uint8Array | string;
  readonly ssl?: ProxySslInit;
  readonly netns?: string;
  /** Unregistered types (such as 0xE0-0xEF); a registered one must use its own field. */
  readonly custom?: readonly { readonly type: number; readonly value: Uint8Array | string }[];
  /** Add one `PP2_TYPE_NOOP` TLV with this many zero bytes of value (its size is 3 more). */
  readonly noop?: number;
}

/** The `PP2_TYPE_SSL` TLV to send; `client` is built from the booleans, ORed with `clientBits`. */
export interface ProxySslInit {
  readonly ssl?: boolean;
  readonly certConn?: boolean;
  readonly certSess?: boolean;
  /** Extra bits for the `client` field (u8), for flags newer than this code. */
  readonly clientBits?: number;
  /** Default 0 (verified). */
  readonly verify?: number;
  readonly version?: string;
  readonly cn?: string;
  readonly cipher?: string;
  readonly sigAlg?: string;
  readonly keyAlg?: string;
  readonly group?: string;
  readonly sigScheme?: string;
  readonly clientCert?: Uint8Array;
}
