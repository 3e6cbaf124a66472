export { Agent, type AgentOptions, type AgentStats, type PooledChannel } from "./agent.js";
export { Channel, type ChannelState, type ChannelStats, type RpcRequestContext } from "./channel.js";
export { ChannelPool, type ChannelPoolOptions, type ChannelPoolStats } from "./channel-pool.js";
export { RpcContext, type RpcHandler, type RpcReply } from "./context.js";
export {
  DEFAULT_MAX_FRAME_SIZE,
  decodeErrorPayload,
  encodeErrorPayload,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameKind,
  UNDECODABLE_ERROR_CODE,
} from "./frame.js";
export { type OpenChannelOptions, openChannel } from "./open-channel.js";
export type { ChannelOptions } from "./options.js";
export {
  createRpcEchoServer,
  createRpcServer,
  type RpcEchoServerOptions,
  RpcServer,
  type RpcServerOptions,
  type RpcServerStats,
} from "./rpc-server.js";
export { HANDLER_ERROR_CODE, type ServeRpcOptions, serveRpc } from "./serve.js";
