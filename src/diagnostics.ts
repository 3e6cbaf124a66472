import dc from "node:diagnostics_channel";
import { debuglog } from "node:util";

/**
 * The names of sockpool's `diagnostics_channel` channels (docs/diagnostics.md gives each
 * message's shape). The pool, server and RPC layers publish on them; nothing is built or
 * published while a channel has no subscriber.
 *
 * `poolAcquire`, `poolConnect` and `rpcRequest` are tracing channels: subscribe with
 * `diagnostics_channel.tracingChannel(name)` to get `start`, `end`, `asyncStart`,
 * `asyncEnd` and `error` for each operation. `poolAcquire` is also a plain channel,
 * published when a socket is handed out.
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  poolCreate: "sockpool:pool:create",
  poolAcquire: "sockpool:pool:acquire",
  poolRelease: "sockpool:pool:release",
  poolDestroy: "sockpool:pool:destroy",
  poolConnectError: "sockpool:pool:connectError",
  poolAcquireTimeout: "sockpool:pool:acquireTimeout",
  poolConnect: "sockpool:pool:connect",
  serverConnection: "sockpool:server:connection",
  serverClose: "sockpool:server:close",
  serverDrop: "sockpool:server:drop",
  rpcRequest: "sockpool:rpc:request",
} as const);

const names = DIAGNOSTICS_CHANNELS;

/** The channel objects, made once: publishing looks nothing up. Internal. */
export const channels = {
  poolCreate: dc.channel(names.poolCreate),
  poolAcquire: dc.channel(names.poolAcquire),
  poolRelease: dc.channel(names.poolRelease),
  poolDestroy: dc.channel(names.poolDestroy),
  poolConnectError: dc.channel(names.poolConnectError),
  poolAcquireTimeout: dc.channel(names.poolAcquireTimeout),
  serverConnection: dc.channel(names.serverConnection),
  serverClose: dc.channel(names.serverClose),
  serverDrop: dc.channel(names.serverDrop),
};

/** The tracing channels. Internal. */
export const traces = {
  poolAcquire: dc.tracingChannel(names.poolAcquire),
  poolConnect: dc.tracingChannel(names.poolConnect),
  rpcRequest: dc.tracingChannel(names.rpcRequest),
};

/**
 * The `NODE_DEBUG=sockpool` trace (lines on stderr prefixed `SOCKPOOL <pid>:`). Callers
 * test `debugging` first, so a trace that is off builds no arguments.
 */
export const debug = debuglog("sockpool");

/** `debug.enabled`, read once: Node reads NODE_DEBUG once, at startup. For the hot paths. */
export const debugging = debug.enabled;
