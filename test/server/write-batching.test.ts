/**
 * Writes a protocol makes in one `dataReceived` leave as one batch (docs/architecture.md,
 * Server, "Writes in batches"): held while the callback runs, sent in order when it returns.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Protocol, Server, Transport } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { collect, dial, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("Writes in batches", () => {
  for (const fastRead of [true, false]) {
    const path = fastRead ? "onread" : "data";

    it(`holds the writes of one dataReceived until it returns, then sends them in order (${path})`, opts, async (t) => {
      const unsentDuring: number[] = [];
      const unsentAfter: number[] = [];
      const pieces: Protocol = {
        borrowsChunks: true,
        dataReceived(data: Buffer, transport: Transport) {
          transport.write("<");
          transport.write(data);
          transport.write(">\n");
          unsentDuring.push(transport.writableLength);
          setImmediate(() => unsentAfter.push(transport.writableLength));
        },
      };
      const { port } = await serve(t, { protocol: () => pieces }, { fastRead });
      const s = await dial(t, port);
      const got = collect(s);
      s.write("abc");
      await until(() => got.text() === "<abc>\n", "the reply");
      await until(() => unsentAfter.length === 1, "the check after the callback");
      assert.deepEqual(unsentDuring, [6], "nothing left while dataReceived ran");
      assert.deepEqual(unsentAfter, [0], "all of it left once it returned");
    });

    it(`keeps a broadcast in its place among the batched writes (${path})`, opts, async (t) => {
      let server: Server | undefined;
      const relay: Protocol = {
        dataReceived(data: Buffer, transport: Transport) {
          transport.write("1");
          server?.broadcast(data);
          transport.write("3\n");
        },
      };
      const served = await serve(t, { protocol: () => relay }, { fastRead });
      server = served.server;
      const s = await dial(t, served.port);
      const got = collect(s);
      s.write("2");
      await until(() => got.text() === "123\n", "the writes and the broadcast, in order");
    });
  }
});
