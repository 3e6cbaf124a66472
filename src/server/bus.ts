import { InvalidArgumentError, quote } from "../errors.js";

/**
 * A broadcast bus: what joins one server's broadcast to the other processes that share its
 * room. `server.broadcast()` delivers to the local clients itself, then hands the bytes to
 * `publish()`; the bus carries them to every other member, and calls `deliver` with every
 * message another member published, which the server then sends to all of its own clients.
 *
 * The contract an engine (cluster IPC, Redis Streams, NATS…) keeps:
 * - **Never a member's own message back**: a bus knows the origin of what it delivers and
 *   drops its own, so a local client gets each message once.
 * - **Each publisher's order**: messages from one member reach every other member in the order
 *   it published them.
 * - **Never throws, never waits** in `publish()`: a bus that cannot send now queues within a
 *   bound, and past it drops (oldest first) and counts.
 * - **Outages are events, not errors**: `outage` once when the link goes down, `recovered`
 *   once when it is back (see {@link BusEvents}); never one report per message.
 *
 * A bus belongs to one server: the server joins it in `listen()` and closes it in `close()`.
 */
export interface Bus {
  /**
   * Joins the room. From then on `deliver` gets every message another member publishes, once,
   * in each publisher's order; the bytes are the bus's to give away (the server writes them to
   * sockets and keeps no reference). Resolves once the bus relays. Rejects when the bus cannot
   * start at all (an unreachable server at startup, a missing client package: each a typed
   * error); once joined, failures are outages. Called at most once.
   */
  join(deliver: (message: Buffer) => void): Promise<void>;
  /** Sends to the other members. Never throws and never waits (see above). */
  publish(message: Uint8Array): void;
  /**
   * Leaves the room: stops delivering, sends what it still holds if it can within its own
   * deadline, and releases its connections. Idempotent; callers share one promise, which
   * never rejects.
   */
  close(): Promise<void>;
  stats(): BusStats;
  on<E extends keyof BusEvents>(event: E, listener: (...args: BusEvents[E]) => void): unknown;
  off<E extends keyof BusEvents>(event: E, listener: (...args: BusEvents[E]) => void): unknown;
}

/** Counters of one bus, since it was made. */
export interface BusStats {
  /** `up` while messages flow both ways; `down` during an outage. */
  state: BusState;
  /** Messages this process published that the bus accepted (sent on, acknowledged). */
  relayed: number;
  /** Messages from other members handed to the server. */
  received: number;
  /** Messages published here and not yet accepted by the bus (the outbox). */
  queued: number;
  /** Messages published here that were dropped: past the outbox bound, or refused. */
  dropped: number;
  /** Outages since the bus was joined. */
  outages: number;
}

/**
 * `idle → joining → up ⇄ down → closing → closed`; `idle → closed` when closed before joining,
 * `joining → closed` when joining fails or is cut short by `close()`.
 */
export type BusState = "idle" | "joining" | "up" | "down" | "closing" | "closed";

/** The events a bus emits, with their arguments. */
export interface BusEvents {
  /** The link went down: emitted once per outage, with the first error seen. */
  outage: [BusOutage];
  /** The link is back; the outbox is being flushed in order. */
  recovered: [BusRecovery];
}

export interface BusOutage {
  /** Why: the first error of the outage. */
  cause: Error;
  /** Messages waiting in the outbox when it began. */
  queued: number;
}

export interface BusRecovery {
  /** How long the outage lasted, in ms. */
  downtime: number;
  /** Messages published during the outage (or left over from before it) now being flushed. */
  queued: number;
  /** Messages dropped during the outage, past the outbox bound. */
  dropped: number;
}

const METHODS = ["join", "publish", "close", "stats", "on", "off"] as const;

/** Throws InvalidArgumentError unless `bus` has every method of {@link Bus}. */
export function checkBus(what: string, bus: unknown): asserts bus is Bus {
  const missing =
    typeof bus === "object" && bus !== null
      ? METHODS.filter((m) => typeof (bus as Record<string, unknown>)[m] !== "function")
      : METHODS;
  if (missing.length > 0) {
    throw new InvalidArgumentError(
      `${what} must be a Bus (join, publish, close, stats, on, off), missing ${missing.join(", ")}: got ${quote(bus)}`,
    );
  }
}

/** Bytes to publish: a string encoded once as UTF-8, bytes as they are. */
export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? Buffer.from(data) : data;
}

/**
 * The bus runCluster offers to the server its worker's `start()` creates (see cluster.ts):
 * the first `Server` constructed without a `bus` option while it is offered takes it.
 */
let offered: Bus | undefined;

/** Offers `bus` to the next server made without one, until {@link withdrawBus}. */
export function offerBus(bus: Bus): void {
  offered = bus;
}

/** Takes the offered bus, if any: only one server gets it. */
export function takeOfferedBus(): Bus | undefined {
  const bus = offered;
  offered = undefined;
  return bus;
}

/** Ends the offer of `bus` if no server took it. */
export function withdrawBus(bus: Bus): void {
  if (offered === bus) offered = undefined;
}
