import assert from "node:assert/strict";
import { once } from "node:events";
import type net from "node:net";
import { after, describe, it, type TestContext } from "node:test";
import { type Connection, LimitExceededError } from "sockpool";
import { createChatServer, createServer, type Server, type SlowClientPolicy } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { collect, dial, received, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const HWM = 64 * 1024;
const PAD = "x".repeat(1000);

/** A chat room that records why each member's handler ended. */
function chatRoom(policy: SlowClientPolicy, ended: unknown[], highWaterMark = HWM): Server {
  const server: Server = createServer(
    async (conn: Connection) => {
      try {
        for (let line = await conn.readLine(); line !== null; line = await conn.readLine()) {
          server.broadcast(`${line}\n`, { except: conn });
        }
      } catch (err) {
        ended.push(err);
      }
    },
    { highWaterMark, slowClientPolicy: policy, maxLineLength: 4096 },
  );
  return server;
}

/** Counts lines `seq N ...` arriving on a socket and checks they come in order, none missing. */
function inOrder(s: net.Socket): { count(): number; sawEnd: Promise<void> } {
  let next = 0;
  let carry = "";
  let resolveEnd: () => void;
  const sawEnd = new Promise<void>((r) => {
    resolveEnd = r;
  });
  s.setEncoding("utf8");
  s.on("data", (text: string) => {
    const lines = (carry + text).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "END") return resolveEnd();
      assert.equal(line.slice(0, line.indexOf(" ", 4)), `seq ${next}`, "lines arrive in order, none missing");
      next++;
    }
  });
  return { count: () => next, sawEnd };
}

/** Sends numbered 1 KiB lines in 1 MiB batches until `stop()` holds, then END. */
async function talk(s: net.Socket, stop: () => boolean, maxBatches = 200): Promise<number> {
  let seq = 0;
  for (let batch = 0; batch < maxBatches && !stop(); batch++) {
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) lines.push(`seq ${seq++} ${PAD}\n`);
    if (!s.write(lines.join(""))) await once(s, "drain");
  }
  s.write("END\n");
  return seq;
}

async function room(t: TestContext, policy: SlowClientPolicy) {
  const ended: unknown[] = [];
  const { server, port } = await serve(t, chatRoom(policy, ended));
  const sender = await dial(t, port);
  const readers = [await dial(t, port), await dial(t, port)];
  const slow = await dial(t, port);
  slow.pause(); // a member that stops reading
  await until(() => server.stats().current === 4, "all four members");
  return { server, ended, sender, readers, slow };
}

describe("Broadcast to a slow member (scenario 16)", () => {
  it(
    "disconnects a member that stops reading, with a reason, while the others get every line in order",
    opts,
    async (t) => {
      const { server, ended, sender, readers, slow } = await room(t, "disconnect");
      const counters = readers.map(inOrder);
      const slowGone = collect(slow).ended;
      const sent = await talk(sender, () => server.stats().slowDisconnects > 0);
      await Promise.all(counters.map((c) => c.sawEnd));
      for (const c of counters) assert.equal(c.count(), sent);
      assert.equal(server.stats().slowDisconnects, 1);
      slow.resume(); // read what it was sent before the cut, then the server's FIN
      await slowGone;
      await until(() => ended.length === 1, "the slow member's handler to end");
      const reason = ended[0] as LimitExceededError;
      assert.ok(reason instanceof LimitExceededError, String(reason));
      assert.equal(reason.code, "ERR_SOCKPOOL_LIMIT_EXCEEDED");
      assert.match(reason.message, new RegExp(`slow client 127\\.0\\.0\\.1:${slow.localPort}.*limit of ${HWM} bytes`));
      assert.equal(server.stats().handlerErrors, 0, "a policy close is not a handler error");
    },
  );

  it("drops messages for a slow member under the drop policy, keeping its queue capped", opts, async (t) => {
    const { server, sender, readers, slow } = await room(t, "drop");
    const counters = readers.map(inOrder);
    let worst = 0;
    const sent = await talk(sender, () => {
      for (const c of server.clients()) worst = Math.max(worst, (c as Connection).socket.writableLength);
      return server.stats().dropped > 2000;
    });
    await Promise.all(counters.map((c) => c.sawEnd));
    for (const c of counters) assert.equal(c.count(), sent);
    assert.ok(server.stats().dropped > 2000);
    assert.equal(server.stats().slowDisconnects, 0);
    assert.ok(worst <= HWM + 64 * 1024, `a member's queue reached ${worst} bytes`);
    assert.equal(slow.destroyed, false, "the slow member stays connected");
    assert.equal(server.stats().current, 4);
  });

  it("broadcasts a string once to everyone but the sender in the built-in chat", opts, async (t) => {
    const { port } = await serve(t, createChatServer());
    const [a, b, c] = [await dial(t, port), await dial(t, port), await dial(t, port)];
    const gotA = collect(a);
    a.write("hi all\n");
    assert.equal((await received(b, 7)).toString(), "hi all\n");
    assert.equal((await received(c, 7)).toString(), "hi all\n");
    b.write("hi a\n");
    await until(() => gotA.text() === "hi a\n", "a to hear b");
  });
});

describe("A member resets mid-write (scenario 18)", () => {
  it("drops the reset member from the hub; the process lives and the others get all their data", opts, async (t) => {
    const ended: unknown[] = [];
    // A mark no reader can reach: on a busy machine the healthy reader may fall behind the
    // sender, and this test is about the reset, not the slow-reader policy.
    const { server, port } = await serve(t, chatRoom("disconnect", ended, 64 * 1024 * 1024));
    server.on("error", (err) => assert.fail(`no error event expected, got ${err}`));
    const sender = await dial(t, port);
    const reader = await dial(t, port);
    const victim = await dial(t, port);
    await until(() => server.stats().current === 3, "three members");
    const counter = inOrder(reader);
    let victimBytes = 0;
    victim.on("data", (c: Buffer) => {
      victimBytes += c.length;
      if (victimBytes > 256 * 1024 && !victim.destroyed) victim.resetAndDestroy();
    });
    const sent = await talk(sender, () => false, 8);
    await counter.sawEnd;
    assert.equal(counter.count(), sent);
    await until(() => server.stats().current === 2, "the reset member to leave");
    assert.equal(server.stats().handlerErrors, 0);
    assert.equal(server.clients().length, 2);
  });
});
