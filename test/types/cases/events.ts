// Typed events: a wrong name or a wrong listener does not compile; listeners get typed arguments.
import {
  type Connection,
  createServer,
  type DestroyReason,
  type LeakReport,
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
pool.off("leak", () => {});
expectTrue<
  Equal<
    SocketPoolEvent,
    | "create"
    | "acquire"
    | "release"
    | "destroy"
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

const server = createServer(async () => {});
server.on("error", (err, handle) => {
  expectTrue<Equal<typeof err, unknown>>(); // a handler may throw anything
  expectTrue<Equal<typeof handle, Connection | Transport | undefined>>(); // the client's handle, if any
});
expectTrue<Equal<keyof ServerEvents, "error">>();
// @ts-expect-error: no such server event
server.on("connection", () => {});
// @ts-expect-error: err is unknown until narrowed; a listener cannot claim it is an Error
server.on("error", (_err: Error) => {});
