import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { after, describe, it } from "node:test";
import {
  DIAGNOSTICS_CHANNELS as CH,
  Connection,
  ReadTimeoutError,
  type ServerDropEvent,
  type ServerEvents,
  Transport,
} from "sockpool";
import { Server } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { dial, finOrReset, serve } from "../server/helpers.js";
import { watchChannels } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** A stream handler that echoes until EOF. */
async function echo(conn: Connection): Promise<void> {
  for await (const chunk of conn) await conn.write(chunk);
}

const local = (s: net.Socket) => `127.0.0.1:${s.localPort}`;

describe("server events and diagnostics channels", () => {
  it("emits listening, connection and close, and publishes connection and close", opts, async (t) => {
    const server = new Server(echo);
    const events: [keyof ServerEvents, unknown[]][] = [];
    for (const name of ["listening", "connection", "close"] as const) {
      server.on(name, (...args: unknown[]) => events.push([name, args]));
    }
    const seen = watchChannels(t, [CH.serverConnection, CH.serverClose]);
    const { port } = await serve(t, server);
    assert.deepEqual(events, [["listening", [server.address()]]]);
    const connected = once(server, "connection");
    const client = await dial(t, port);
    const [handle] = (await connected) as [Connection];
    assert.ok(handle instanceof Connection);
    assert.deepEqual(seen, [["sockpool:server:connection", { server, handle, remote: local(client) }]]);
    client.end();
    await server.close();
    assert.deepEqual(
      events.map(([name]) => name),
      ["listening", "connection", "close"],
    );
    assert.deepEqual(seen[1], ["sockpool:server:close", { server }]);
  });

  it("gives a protocol server's Transport to connection listeners", opts, async (t) => {
    const server = new Server({ protocol: () => ({}) });
    const { port } = await serve(t, server);
    const connected = once(server, "connection");
    await dial(t, port);
    const [handle] = await connected;
    assert.ok(handle instanceof Transport);
  });

  it("refuses a client over maxConnections with a drop event and message", opts, async (t) => {
    const { server, port } = await serve(t, echo, { maxConnections: 1 });
    const drops: ServerDropEvent[] = [];
    server.on("drop", (e) => drops.push(e));
    const seen = watchChannels(t, [CH.serverDrop]);
    const connected = once(server, "connection");
    await dial(t, port);
    await connected;
    const second = await dial(t, port);
    await finOrReset(second); // the drop came first: the server refuses by closing
    const event = { reason: "max-connections", remote: local(second), handle: undefined, error: undefined };
    assert.deepEqual(drops, [event]);
    assert.deepEqual(seen, [["sockpool:server:drop", { ...event, server }]]);
    assert.equal(server.stats().rejected, 1);
  });

  it(
    "a connection or drop listener that throws is reported as an error; the refused socket still closes",
    opts,
    async (t) => {
      const { server, port } = await serve(t, echo, { maxConnections: 1 });
      const boom = new Error("listener failed");
      server.on("connection", () => {
        throw boom;
      });
      server.on("drop", () => {
        throw boom;
      });
      const errors: unknown[] = [];
      server.on("error", (err) => errors.push(err));
      const first = await dial(t, port);
      const second = await dial(t, port);
      await finOrReset(second); // refused and closed, though the drop listener threw
      first.write("still served\n");
      const [echoed] = await once(first, "data");
      assert.equal(String(echoed), "still served\n");
      assert.deepEqual(errors, [boom, boom]);
      assert.deepEqual([server.stats().current, server.stats().rejected], [1, 1]);
    },
  );

  it(
    "closes an idle client with a drop event: idle-timeout, its Connection and the ReadTimeoutError",
    opts,
    async (t) => {
      const { server, port } = await serve(t, echo, { idleTimeout: 50 });
      const connected = once(server, "connection");
      const client = await dial(t, port);
      const [handle] = await connected;
      const [event] = (await once(server, "drop")) as [ServerDropEvent];
      assert.equal(event.reason, "idle-timeout");
      assert.equal(event.remote, local(client));
      assert.equal(event.handle, handle);
      assert.ok(event.error instanceof ReadTimeoutError);
      assert.equal(server.stats().idleTimeouts, 1);
    },
  );

  it("drops a client still open at close()'s deadline with close-timeout", opts, async (t) => {
    const held = new Promise<void>(() => {}); // a handler that never finishes on its own
    const { server, port } = await serve(t, async (conn: Connection) => {
      await Promise.race([held, conn.closed]);
    });
    const connected = once(server, "connection");
    const client = await dial(t, port);
    await connected;
    const drops: ServerDropEvent[] = [];
    server.on("drop", (e) => drops.push(e));
    await server.close({ timeout: 10 });
    assert.deepEqual(
      drops.map((d) => [d.reason, d.remote]),
      [["close-timeout", local(client)]],
    );
  });
});
