import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { after, describe, it } from "node:test";
import {
  type Bus,
  type BusEvents,
  type BusStats,
  createChatServer,
  createServer,
  InvalidArgumentError,
} from "sockpool";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { join, type Member, settle } from "../helpers/room.js";
import { serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/**
 * Another engine, in memory: what a NATS or Kafka bus would plug in the same way. Each
 * message goes to every other member of the room on a later turn, as a network would.
 */
class MemoryBus extends EventEmitter<BusEvents> implements Bus {
  readonly log: string[] = [];
  readonly #room: Set<MemoryBus>;
  #deliver: ((message: Buffer) => void) | undefined;
  #stats: BusStats = { state: "idle", relayed: 0, received: 0, queued: 0, dropped: 0, outages: 0 };
  failJoin: Error | undefined;

  constructor(room: Set<MemoryBus>) {
    super();
    this.#room = room;
  }

  async join(deliver: (message: Buffer) => void): Promise<void> {
    this.log.push("join");
    if (this.failJoin) throw this.failJoin;
    this.#deliver = deliver;
    this.#room.add(this);
    this.#stats.state = "up";
  }

  publish(message: Uint8Array): void {
    this.#stats.relayed++;
    for (const other of this.#room) {
      if (other !== this) setImmediate(() => other.#receive(Buffer.from(message)));
    }
  }

  async close(): Promise<void> {
    this.log.push("close");
    this.#room.delete(this);
    this.#stats.state = "closed";
  }

  stats(): BusStats {
    return { ...this.#stats };
  }

  #receive(message: Buffer): void {
    this.#stats.received++;
    this.#deliver?.(message);
  }
}

describe("Server and its bus", () => {
  it("a line reaches every member of every server on the bus once, never its sender", opts, async (t) => {
    const room = new Set<MemoryBus>();
    const buses = [new MemoryBus(room), new MemoryBus(room)];
    const ports = [];
    for (const bus of buses) ports.push((await serve(t, createChatServer({ bus }))).port);
    const a = [await join(t, "a0", ports[0] as number), await join(t, "a1", ports[0] as number)];
    const b = [await join(t, "b0", ports[1] as number), await join(t, "b1", ports[1] as number)];
    await settle([
      { last: a[1] as Member, others: [a[0] as Member] },
      { last: b[1] as Member, others: [b[0] as Member] },
    ]);
    await (a[0] as Member).conn.write("one\ntwo\n");
    await Promise.all([a[1], ...b].map((m) => (m as Member).heard("two")));
    for (const m of [a[1], ...b] as Member[]) assert.deepEqual(m.lines.slice(-2), ["one", "two"], m.name);
    assert.deepEqual(
      (a[0] as Member).lines.filter((l) => l === "one" || l === "two"),
      [],
      "the sender never hears itself",
    );
    assert.deepEqual(
      b.map((m) => (m as Member).lines.filter((l) => l === "one").length),
      [1, 1],
      "each once",
    );
    assert.equal(buses[0]?.stats().relayed, 3, "hello a1, one, two");
  });

  it("broadcast() counts this process's clients, publishes once, and stats() shows the bus", opts, async (t) => {
    const room = new Set<MemoryBus>();
    const [mine, theirs] = [new MemoryBus(room), new MemoryBus(room)];
    const got: string[] = [];
    await theirs.join((m) => got.push(m.toString()));
    const { server } = await serve(
      t,
      createServer(async () => {}, { bus: mine }),
    );
    const result = server.broadcast("hi\n");
    assert.deepEqual(result, { sent: 0, dropped: 0, disconnected: 0 });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, ["hi\n"]);
    assert.deepEqual(server.stats().bus, { ...mine.stats(), state: "up", relayed: 1 });
    assert.equal(createServer(async () => {}).stats().bus, undefined, "no bus, no bus stats");
  });

  it("listen() rejects with the bus's error and binds nothing; close() still closes the bus", opts, async () => {
    const bus = new MemoryBus(new Set());
    bus.failJoin = Object.assign(new Error("no room today"), { code: "ENOROOM" });
    const server = createServer(async () => {}, { bus });
    await assert.rejects(server.listen(), /no room today/);
    assert.deepEqual([server.state, server.address()], ["idle", null]);
    await server.close();
    assert.deepEqual(bus.log, ["join", "close"]);
  });

  it("closes the bus after its clients are gone, so a handler finishing can still broadcast", opts, async (t) => {
    const bus = new MemoryBus(new Set());
    const server = createServer(
      async (conn) => {
        while ((await conn.readLine()) !== null);
        server.broadcast("gone\n"); // on the way out, at close
      },
      { bus },
    );
    const { port } = await serve(t, server);
    await join(t, "m", port);
    await until(() => server.stats().current === 1, "the member");
    await server.close();
    assert.deepEqual(bus.log, ["join", "close"]);
    assert.equal(bus.stats().relayed, 1, "published before the bus closed");
  });

  it("refuses a bus that is not one, and takes null for none", opts, () => {
    assert.throws(
      () => createServer(async () => {}, { bus: "redis://x" as never }),
      (err: Error) =>
        err instanceof InvalidArgumentError && /options\.bus must be an object, got "redis:\/\/x"/.test(err.message),
    );
    assert.equal(createServer(async () => {}, { bus: null }).stats().bus, undefined);
  });
});
