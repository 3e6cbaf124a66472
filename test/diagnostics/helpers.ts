import dc from "node:diagnostics_channel";
import type { TestContext } from "node:test";

/** One message seen on a channel: the channel's name and a copy of the message. */
export type Seen = [name: string, message: Record<string, unknown>];

/**
 * Subscribes to the plain channels `names` for the rest of the test; `seen` lists their
 * messages in publish order (shallow copies, as they were when published).
 */
export function watchChannels(t: TestContext, names: readonly string[]): Seen[] {
  const seen: Seen[] = [];
  for (const name of names) {
    const fn = (message: unknown) => seen.push([name, { ...(message as object) }]);
    dc.subscribe(name, fn);
    t.after(() => dc.unsubscribe(name, fn));
  }
  return seen;
}

/** A tracing channel's events in order: the phase and a copy of the context at that moment. */
export type Traced = [phase: "start" | "end" | "asyncStart" | "asyncEnd" | "error", context: Record<string, unknown>];

/** Subscribes to the tracing channel `name` for the rest of the test. */
export function watchTrace(t: TestContext, name: string): Traced[] {
  const seen: Traced[] = [];
  const at = (phase: Traced[0]) => (context: unknown) => seen.push([phase, { ...(context as object) }]);
  const handlers = {
    start: at("start"),
    end: at("end"),
    asyncStart: at("asyncStart"),
    asyncEnd: at("asyncEnd"),
    error: at("error"),
  };
  const channel = dc.tracingChannel(name);
  channel.subscribe(handlers);
  t.after(() => channel.unsubscribe(handlers));
  return seen;
}

/** The phases of `traced`, in order. */
export function phases(traced: readonly Traced[]): string[] {
  return traced.map(([phase]) => phase);
}
