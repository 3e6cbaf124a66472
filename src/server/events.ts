import type { AddressInfo } from "node:net";
import type { Connection } from "../connection/connection.js";
import type { Transport } from "./transport.js";

/**
 * Why the server closed a client or refused it (a `drop` event):
 * - `max-connections`, `max-connections-per-address`: refused at accept, over the limit;
 * - `idle-timeout`, `line-timeout`, `line-too-long`: closed by a per-connection limit;
 * - `slow-client`: closed for not reading its broadcasts (`slowClientPolicy: "disconnect"`);
 * - `close-timeout`: still open when `close()`'s deadline passed, destroyed;
 * - `proxy-protocol`: refused for its PROXY header (untrusted, missing, malformed or late:
 *   the event's `error` is the ProxyProtocolError, and `remote` is the balancer's socket).
 */
export type ServerDropReason =
  | "max-connections"
  | "max-connections-per-address"
  | "idle-timeout"
  | "line-timeout"
  | "line-too-long"
  | "slow-client"
  | "close-timeout"
  | "proxy-protocol";

/** What a server's `drop` event carries. */
export interface ServerDropEvent {
  reason: ServerDropReason;
  /** The client, `address:port` (`[v6]:port`), or `unix client`. */
  remote: string;
  /** The client's Connection or Transport; undefined when it was refused at accept. */
  handle: Connection | Transport | undefined;
  /**
   * What its handler sees (a ReadTimeoutError, LimitExceededError…), or the ProxyProtocolError
   * it was refused for; undefined when refused at accept for a limit.
   */
  error: Error | undefined;
}

/**
 * A Server's events and their listener arguments, all emitted synchronously:
 * - `listening (address)`: `listen()` bound its socket (the `address()` it resolves with);
 * - `connection (handle)`: a client was accepted and its handler started: its Connection
 *   (stream handler) or Transport (protocol callbacks);
 * - `drop (event)`: a client refused by a limit or closed by the server (see {@link ServerDropReason});
 * - `close ()`: `close()` finished: the listener and every client socket are closed;
 * - `error (err, handle)`: a handler or protocol callback threw `err` (any value a handler
 *   throws, hence `unknown`), or the listening socket failed; `handle` is the client's
 *   Connection or Transport, undefined when no client is involved.
 */
export interface ServerEvents {
  listening: [address: AddressInfo | string];
  connection: [handle: Connection | Transport];
  drop: [event: ServerDropEvent];
  close: [];
  error: [err: unknown, handle: Connection | Transport | undefined];
}
