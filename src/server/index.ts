export { type AckServerOptions, createAckServer } from "./builtins/ack.js";
export { type ChatServerOptions, createChatServer } from "./builtins/chat.js";
export { createEchoServer, type EchoServerOptions } from "./builtins/echo.js";
export { createPrintServer, type PrintServerOptions } from "./builtins/print.js";
export type { Bus, BusEvents, BusOutage, BusRecovery, BusState, BusStats } from "./bus.js";
export { type ClusterHandle, type ClusterOptions, runCluster } from "./cluster.js";
export type { RelayStats } from "./cluster-bus.js";
export type { ServerDropEvent, ServerDropReason, ServerEvents } from "./events.js";
export type { BroadcastResult, SlowClientPolicy } from "./hub.js";
export {
  createServer,
  type ListenOptions,
  type ProxyProtocolOptions,
  Server,
  type ServerCloseMessage,
  type ServerConnectionMessage,
  type ServerDropMessage,
  type ServerHandler,
  type ServerOptions,
  type ServerState,
  type ServerStats,
} from "./server.js";
export type { StreamHandler } from "./stream-runner.js";
export { type Protocol, type ProtocolFactory, Transport, type TransportState } from "./transport.js";
