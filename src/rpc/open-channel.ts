import { connect } from "../connection/connect.js";
import type { Endpoint, EndpointInput } from "../endpoint.js";
import type { WaitOptions } from "../internal/cancel.js";
import { Channel } from "./channel.js";
import { type ChannelOptions, resolveChannelOptions } from "./options.js";

export interface OpenChannelOptions extends ChannelOptions, WaitOptions {
  /** Connect timeout in ms (TLS handshake included); overrides `connect.timeout`. Default 10 000. */
  timeout?: number | undefined;
  /** Cancels the connect. Once open, the channel no longer watches it. */
  signal?: AbortSignal | undefined;
}

/**
 * Connects to `endpoint` and returns a multiplexed channel over that one socket. Resolves
 * once connected. Rejects with InvalidArgumentError/InvalidEndpointError before any I/O,
 * ConnectError, ConnectTimeoutError or AbortError (from `connect()`).
 */
export async function openChannel(
  endpoint: EndpointInput | Endpoint,
  options: OpenChannelOptions = {},
): Promise<Channel> {
  const { signal, timeout, ...channelOptions } = options;
  resolveChannelOptions(channelOptions); // fail on bad options before dialing
  const conn = await connect(endpoint, {
    ...channelOptions.connect,
    ...(timeout !== undefined && { timeout }),
    ...(signal !== undefined && { signal }),
  });
  return new Channel(conn, channelOptions);
}
