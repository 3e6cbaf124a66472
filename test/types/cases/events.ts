// Typed events: a wrong name or a wrong listener does not compile; listeners get typed arguments.
import type { AddressInfo } from "node:net";
import {
  type AcquireTimeoutError,
  type Connection,
  createServer,
  type DestroyReason,
  DIAGNOSTICS_CHANNELS,
  type LeakReport,
  type PoolDestroyMessage,
  type ServerDropEvent,
  type ServerDropReason,
  type ServerEvents,
  SocketPool,
  type SocketPoolEvent,
  type SocketPoolEvents,
  type Transport,
} from "sockpool";
import { type Equal, expectTrue } from "./expect.js";

const pool = new SocketPool();

// Equal, not assignability: an untyped emitter's `any` arguments must fail these.
pool.on("create", (conn, endpoint) => {
  expectTrue<Equal<typeof conn, Connection>>();
  expectTrue<Equal<typeof endpoint, string>>();
});
pool.on("acquire", (conn, endpoint, reused) => {
  expectTrue<Equal<[typeof conn, typeof endpoint, typeof reused], [Connection, string, boolean]>>();
});
pool.once("release", (conn, endpoint) => expectTrue<Equal<[typeof conn, typeof endpoint], [Connection, string]>>());
pool.on("destroy", (conn, endpoint, reason, error) => {
  expectTrue<Equal<typeof conn, Connection | undefined>>();
  expectTrue<Equal<typeof endpoint, string>>();
  expectTrue<Equal<typeof reason, DestroyReason>>();
  expectTrue<Equal<typeof error, unknown>>();
});
pool.on("leak", (report) => {
  expectTrue<Equal<typeof report, LeakReport>>();
});
pool.on("connectError", (error, endpoint) => {
  expectTrue<Equal<[typeof error, typeof endpoint], [unknown, string]>>(); // a custom dial may throw anything
});
pool.on("acquireTimeout", (error, endpoint) => {
  expectTrue<Equal<[typeof error, typeof endpoint], [AcquireTimeoutError, string]>>();
});
pool.off("leak", () => {});
expectTrue<
  Equal<
    SocketPoolEvent,
    | "create"
    | "acquire"
    | "release"
    | "destroy"
    | "connectError"
    | "acquireTimeout"
    | "leak"
    | "join"
    | "eject"
    | "return"
    | "drain"
    | "leave"
    | "resolve-error"
  >
>();
expectTrue<Equal<SocketPoolEvents["acquire"], [conn: Connection, endpoint: string, reused: boolean]>>();

// @ts-expect-error: no such event
pool.on("nonexistent", () => {});
// @ts-expect-error: 'connect' is not a pool event (the socket's own name for it)
pool.once("connect", () => {});
// @ts-expect-error: reused is a boolean, not a string
pool.on("acquire", (_conn: Connection, _endpoint: string, _reused: string) => {});
// @ts-expect-error: a leak listener gets a LeakReport, not a Connection
pool.on("leak", (_conn: Connection) => {});
// @ts-expect-error: destroy's reason is a DestroyReason literal
pool.on("destroy", (_conn, _endpoint, reason) => reason === "timeout");
// @ts-expect-error: emit checks its arguments too
pool.emit("create", "127.0.0.1:1");
// @ts-expect-error: the event is connectError (camelCase), as the channel sockpool:pool:connectError
pool.on("connect-error", () => {});
// @ts-expect-error: acquireTimeout's error comes first, the endpoint second
pool.on("acquireTimeout", (_endpoint: string, _error: AcquireTimeoutError) => {});
// @ts-expect-error: connectError's endpoint is a string
pool.on("connectError", (_error: unknown, _endpoint: number) => {});

const server = createServer(async () => {});
server.on("error", (err, handle) => {
  expectTrue<Equal<typeof err, unknown>>(); // a handler may throw anything
  expectTrue<Equal<typeof handle, Connection | Transport | undefined>>(); // the client's handle, if any
});
server.on("listening", (address) => expectTrue<Equal<typeof address, AddressInfo | string>>());
server.on("connection", (handle) => expectTrue<Equal<typeof handle, Connection | Transport>>());
server.on("close", (...args) => expectTrue<Equal<typeof args, []>>());
server.on("drop", (event) => {
  expectTrue<Equal<typeof event, ServerDropEvent>>();
  expectTrue<Equal<typeof event.reason, ServerDropReason>>();
  expectTrue<Equal<typeof event.handle, Connection | Transport | undefined>>();
});
expectTrue<Equal<keyof ServerEvents, "listening" | "connection" | "drop" | "close" | "error">>();
// @ts-expect-error: no such server event
server.on("accept", () => {});
// @ts-expect-error: a connection listener gets one argument, the handle
server.on("connection", (_handle: Connection, _remote: string) => {});
// @ts-expect-error: a drop's reason is a ServerDropReason literal
server.on("drop", (event) => event.reason === "overload");
// @ts-expect-error: 'close' carries no arguments
server.on("close", (_err: Error) => {});
// @ts-expect-error: err is unknown until narrowed; a listener cannot claim it is an Error
server.on("error", (_err: Error) => {});

// diagnostics_channel names are literal, read-only constants; messages are typed.
expectTrue<Equal<typeof DIAGNOSTICS_CHANNELS.poolAcquire, "sockpool:pool:acquire">>();
expectTrue<Equal<typeof DIAGNOSTICS_CHANNELS.rpcRequest, "sockpool:rpc:request">>();
expectTrue<Equal<PoolDestroyMessage["reason"], DestroyReason>>();
// @ts-expect-error: the channel names cannot be reassigned
DIAGNOSTICS_CHANNELS.poolAcquire = "sockpool:pool:other";
// @ts-expect-error: no such channel
void DIAGNOSTICS_CHANNELS.poolAcquired;
