/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer sends before
 * the first byte of a relayed connection to say who the client really is. Pure Buffer code,
 * no sockets: the server feeds a {@link ProxyHeaderParser} and the client side sends what
 * {@link encodeProxyHeader} returns. Spec: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
 *
 * Files: proxy-header.ts (types and wire constants), proxy-parser.ts (the incremental
 * parser), proxy-v1.ts (text line), proxy-v2.ts (binary preamble and addresses),
 * proxy-tlvs.ts (v2 TLVs and SSL sub-TLVs, CRC32C check), proxy-encode.ts (the encoder and
 * its input validation).
 */

export { encodeProxyHeader } from "./proxy-encode.js";
export {
  DEFAULT_MAX_HEADER_SIZE,
  type ProxyAddress,
  type ProxyCommand,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyHeaderInit,
  type ProxyInetAddress,
  type ProxySslInfo,
  type ProxySslInit,
  type ProxyTlv,
  type ProxyTlvs,
  type ProxyTlvsInit,
  type ProxyTransport,
  type ProxyUnixAddress,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH,
} from "./proxy-header.js";
export { ProxyHeaderParser, type ProxyHeaderParserOptions, type ProxyParseResult } from "./proxy-parser.js";
