import type { Channel } from "node:diagnostics_channel";
import type { EventEmitter } from "node:events";
import { channels, debug, debugging } from "../diagnostics.js";
import type {
  LeakReport,
  PoolAcquireMessage,
  PoolAcquireTimeoutMessage,
  PoolConnectErrorMessage,
  PoolCreateMessage,
  PoolDestroyMessage,
  PoolReleaseMessage,
  SocketPoolEvent,
  SocketPoolEvents,
} from "./events.js";

/** How a pool tells the world about one of its events, besides its listeners. */
export interface Notifier {
  emit<E extends SocketPoolEvent>(event: E, ...args: SocketPoolEvents[E]): void;
  /** Whether anyone (listener, channel subscriber, NODE_DEBUG) wants `event`: the hot paths build nothing for nobody. */
  listens(event: SocketPoolEvent): boolean;
}

type Published = "create" | "acquire" | "release" | "destroy" | "connectError" | "acquireTimeout";

/** The channel of each event that has one, and its message. */
const PUBLISH: { [E in Published]: [Channel, (...args: SocketPoolEvents[E]) => object] } = {
  create: [channels.poolCreate, (connection, endpoint) => ({ connection, endpoint }) satisfies PoolCreateMessage],
  acquire: [
    channels.poolAcquire,
    (connection, endpoint, reused) => ({ connection, endpoint, reused }) satisfies PoolAcquireMessage,
  ],
  release: [channels.poolRelease, (connection, endpoint) => ({ connection, endpoint }) satisfies PoolReleaseMessage],
  destroy: [
    channels.poolDestroy,
    (connection, endpoint, reason, error) => ({ connection, endpoint, reason, error }) satisfies PoolDestroyMessage,
  ],
  connectError: [
    channels.poolConnectError,
    (error, endpoint) => ({ endpoint, error }) satisfies PoolConnectErrorMessage,
  ],
  acquireTimeout: [
    channels.poolAcquireTimeout,
    (error, endpoint) => ({ endpoint, error }) satisfies PoolAcquireTimeoutMessage,
  ],
};

/**
 * Whether `event`'s channel has subscribers. A switch over the channel constants, because
 * `listens` runs twice per borrow: a lookup in a table by event name measured about 10% of an
 * acquire + release (bench/ab-pool.ts), this about nothing.
 */
function watched(event: SocketPoolEvent): boolean {
  switch (event) {
    case "acquire":
      return channels.poolAcquire.hasSubscribers;
    case "release":
      return channels.poolRelease.hasSubscribers;
    case "create":
      return channels.poolCreate.hasSubscribers;
    case "destroy":
      return channels.poolDestroy.hasSubscribers;
    case "connectError":
      return channels.poolConnectError.hasSubscribers;
    case "acquireTimeout":
      return channels.poolAcquireTimeout.hasSubscribers;
    default:
      return false;
  }
}

/**
 * The pool's one way out for events: its listeners, the event's diagnostics channel (only
 * while subscribed), the `NODE_DEBUG=sockpool` trace, and for a leak nobody listens to, a
 * process warning.
 */
export function notifier(pool: EventEmitter<SocketPoolEvents>): Notifier {
  const emitter = pool as EventEmitter; // the map's generic lookup is not narrowed through EventEmitter's types
  return {
    emit(event, ...args) {
      const publish = PUBLISH[event as Published] as [Channel, (...a: unknown[]) => object] | undefined;
      if (publish?.[0].hasSubscribers) publish[0].publish(publish[1](...args));
      if (debugging) debug("pool %s", describe(event, args));
      if (event === "leak" && emitter.listenerCount("leak") === 0) warnLeak(args[0] as LeakReport);
      else emitter.emit(event, ...args);
    },
    listens(event) {
      return emitter.listenerCount(event) > 0 || debugging || watched(event);
    },
  };
}

/** A leak nobody listens to: a named process warning, as HikariCP logs one. */
function warnLeak(report: LeakReport): void {
  const what = report.collected
    ? `was garbage-collected after ${report.heldMs} ms without being released (its slot is recovered)`
    : `has been borrowed for ${report.heldMs} ms without being released`;
  process.emitWarning(`a socket to ${report.endpoint} ${what}`, {
    type: "SockpoolLeakWarning",
    code: "SOCKPOOL_LEAK",
    detail: report.stack ?? "set leakWarningAfter to capture where it was acquired",
  });
}

/** One trace line: "ENDPOINT: EVENT (details)". */
function describe(event: SocketPoolEvent, args: readonly unknown[]): string {
  const [a, b, c, d] = args as [unknown, unknown, unknown, unknown];
  const port = (conn: unknown) => (conn as { localPort?: number } | undefined)?.localPort ?? "-";
  switch (event) {
    case "create":
    case "release":
      return `${b}: ${event} (local port ${port(a)})`;
    case "acquire":
      return `${b}: acquire (local port ${port(a)}, ${c ? "reused" : "new"})`;
    case "destroy":
      return `${b}: destroy (local port ${port(a)}, reason ${c}${d === undefined ? "" : `: ${message(d)}`})`;
    case "connectError":
    case "acquireTimeout":
      return `${b}: ${event}: ${message(a)}`;
    case "leak": {
      const r = a as LeakReport;
      return `${r.endpoint}: leak (held ${r.heldMs} ms${r.collected ? ", collected" : ""})`;
    }
    case "resolve-error": {
      const e = a as SocketPoolEvents["resolve-error"][0];
      return `${e.service}: resolve-error: ${message(e.error)}`;
    }
    default: {
      const e = a as SocketPoolEvents["join"][0];
      return `${e.service}: ${event} ${e.endpoint} (${e.state})`;
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
