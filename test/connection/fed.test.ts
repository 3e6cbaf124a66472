import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import type { Connection } from "sockpool";
import { connectionFedFromOutside, feedConnection } from "../../src/connection/connection.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/**
 * A connection fed by hand, as a server's fast read path feeds one: its socket has no handle
 * and reads nothing, so the test decides exactly when each chunk arrives.
 */
function fedConnection(): Connection {
  return connectionFedFromOutside(new net.Socket(), "test peer", {});
}

/** Feeds `parts` one by one, each on its own turn, until `read` settles; then ends the input. */
async function whileFeeding<T>(conn: Connection, parts: Buffer[], read: Promise<T>): Promise<T> {
  let settled = false;
  const done = read.finally(() => {
    settled = true;
  });
  while (!settled) {
    const part = parts.shift();
    if (part === undefined) conn.endInput();
    else feedConnection(conn, part);
    await new Promise(setImmediate);
  }
  return done;
}

describe("A connection fed from outside (the server's fast read path)", () => {
  it("hands a chunk to a waiting for-await step as it is, and buffers those no step waits for", opts, async () => {
    const conn = fedConnection();
    const steps = conn[Symbol.asyncIterator]();
    const waiting = steps.next();
    const first = Buffer.from("first");
    feedConnection(conn, first);
    assert.equal((await waiting).value, first, "the very chunk, not a copy");
    feedConnection(conn, Buffer.from("second"));
    feedConnection(conn, Buffer.from("third"));
    assert.equal(conn.bufferedLength, 11, "no step waited: both chunks are buffered");
    assert.equal((await steps.next()).value?.toString(), "second");
    assert.equal((await steps.next()).value?.toString(), "third");
    const last = steps.next();
    conn.endInput();
    assert.deepEqual(await last, { done: true, value: undefined });
    conn.destroy();
  });

  it("gives a waiting read(max) only a chunk that fits, and buffers the rest of a larger one", opts, async () => {
    const conn = fedConnection();
    const small = Buffer.from("ab");
    const fits = conn.read(4);
    feedConnection(conn, small);
    assert.equal(await fits, small);
    const part = conn.read(3);
    feedConnection(conn, Buffer.from("cdefg"));
    assert.equal((await part).toString(), "cde");
    assert.equal((await conn.read()).toString(), "fg");
    conn.destroy();
  });

  it("keeps every byte in order at any split, across readLine, readExactly, read and for-await", opts, async () => {
    const input = Buffer.from("hello world\nABCDEFGH the rest");
    for (let i = 1; i < input.length; i++) {
      for (let j = i; j < input.length; j++) {
        const parts = [input.subarray(0, i), input.subarray(i, j), input.subarray(j)].filter((p) => p.length > 0);
        const conn = fedConnection();
        const where = `split at ${i}, ${j}`;
        assert.equal(await whileFeeding(conn, parts, conn.readLine()), "hello world", where);
        assert.equal((await whileFeeding(conn, parts, conn.readExactly(4))).toString(), "ABCD", where);
        const some = await whileFeeding(conn, parts, conn.read(2));
        assert.ok(some.length >= 1 && some.length <= 2, where);
        const rest = [some.toString()];
        const steps = conn[Symbol.asyncIterator]();
        for (let step = await whileFeeding(conn, parts, steps.next()); !step.done; ) {
          rest.push(step.value.toString());
          step = await whileFeeding(conn, parts, steps.next());
        }
        assert.equal(rest.join(""), "EFGH the rest", where);
        conn.destroy();
      }
    }
  });

  it("ends a waiting step at EOF and rejects one on a socket error, without a chunk", opts, async () => {
    const conn = fedConnection();
    const steps = conn[Symbol.asyncIterator]();
    const waiting = steps.next();
    conn.endInput();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    feedConnection(conn, Buffer.from("late"));
    assert.equal(conn.bufferedLength, 0, "bytes after EOF are dropped");
    conn.destroy();

    const failing = fedConnection();
    const step = failing[Symbol.asyncIterator]().next();
    failing.destroy(new Error("boom"));
    await assert.rejects(step, /boom/);
  });
});
