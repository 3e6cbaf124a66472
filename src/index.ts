/**
 * sockpool: an asynchronous TCP toolkit for Node.js. Public surface only.
 */

export type { Codec, Decoder } from "./codec/codec.js";
export { type LengthPrefixedOptions, lengthPrefixedCodec } from "./codec/length-prefixed.js";
export { type LineCodecOptions, lineCodec } from "./codec/lines.js";
export type {
  ProxyAddress,
  ProxyCommand,
  ProxyFamily,
  ProxyHeader,
  ProxyHeaderInit,
  ProxySslInfo,
  ProxyTlv,
  ProxyTlvs,
  ProxyTransport,
} from "./codec/proxy-protocol.js";
export { rawCodec } from "./codec/raw.js";
export { type ConnectOptions, connect } from "./connection/connect.js";
export {
  Connection,
  type ConnectionOptions,
  type ConnectionState,
  type ProxiedBy,
  type ProxiedPeer,
  type ReadUntilOptions,
} from "./connection/connection.js";
export { DIAGNOSTICS_CHANNELS } from "./diagnostics.js";
export { type Endpoint, type EndpointInput, endpointKey, parseEndpoint } from "./endpoint.js";
export {
  AbortError,
  AcquireTimeoutError,
  BadFrameError,
  ConnectError,
  ConnectionClosedError,
  ConnectionResetError,
  ConnectTimeoutError,
  EndpointUnavailableError,
  type ErrorCode,
  IncompleteReadError,
  InternalError,
  InvalidArgumentError,
  InvalidEndpointError,
  LimitExceededError,
  MissingDependencyError,
  NotBorrowedError,
  PoolClosedError,
  ProxyProtocolError,
  type ProxyRefusal,
  QueueFullError,
  ReadInProgressError,
  ReadTimeoutError,
  RemoteError,
  type ReplicaFailure,
  RequestTimeoutError,
  ServerClosedError,
  ServiceUnavailableError,
  SocketError,
  SockpoolError,
  WriteTimeoutError,
} from "./errors.js";
export type { WaitOptions } from "./internal/cancel.js";
export { TrustList } from "./internal/cidr.js";
export type { Clock, TimerHandle } from "./internal/clock.js";
export * from "./pool/index.js";
export * from "./rpc/index.js";
export * from "./server/index.js";
