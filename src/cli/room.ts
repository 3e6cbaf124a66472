import type { Bus, BusStats } from "../index.js";
import type { CliIo } from "./command.js";
import { formatMs } from "./format.js";

/** What `serve chat --redis URL [--room NAME]` asked for. */
export interface RoomSettings {
  url: string;
  room: string;
}

/**
 * The Redis bus of `serve chat --redis`: `sockpool/redis` is loaded only when asked for (it
 * loads the optional `redis` package in turn, when the server joins). Each outage is one line
 * on stderr when it begins and one when it ends, never a line per message.
 */
export async function openRoom(room: RoomSettings, io: CliIo): Promise<Bus> {
  const { redisBus } = await import("../redis/index.js");
  const bus = redisBus({ url: room.url, room: room.room });
  bus.on("outage", ({ cause, queued }) => {
    io.stderr.write(`redis bus: outage (${cause.message}); queuing broadcasts (${queued} queued)\n`);
  });
  bus.on("recovered", ({ downtime, queued, dropped }) => {
    const lost = dropped > 0 ? `, ${dropped} dropped past the outbox bound` : "";
    io.stderr.write(`redis bus: recovered after ${formatMs(downtime)}; sending ${queued} queued${lost}\n`);
  });
  return bus;
}

/** One line of a bus's totals, printed at close. */
export function formatBusStats(s: BusStats): string {
  return `relayed ${s.relayed}, received ${s.received}, dropped ${s.dropped}, outages ${s.outages}`;
}
