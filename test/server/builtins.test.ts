import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect } from "sockpool";
import { createAckServer, createEchoServer, createPrintServer } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { collect, dial, pythonAckClient, received, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("Built-in servers", () => {
  it("echo keeps the connection open across many messages", opts, async (t) => {
    const { endpoint } = await serve(t, createEchoServer());
    const c = await connect(endpoint);
    t.after(() => c.destroy());
    for (let i = 0; i < 100; i++) {
      await c.write(`message ${i}\n`);
      assert.equal(await c.readLine(), `message ${i}`);
    }
  });

  it("echo with delay answers each message after the delay, in order", opts, async (t) => {
    const { endpoint } = await serve(t, createEchoServer({ delay: 100 }));
    const c = await connect(endpoint);
    t.after(() => c.destroy());
    const t0 = Date.now();
    await c.write("one\n");
    assert.equal(await c.readLine(), "one");
    assert.ok(Date.now() - t0 >= 95, `answered after ${Date.now() - t0} ms`);
    await c.write("two\n");
    assert.equal(await c.readLine(), "two");
    assert.ok(Date.now() - t0 >= 195, "the second waited its own delay");
  });

  it("echo with once answers one message, then closes (a one-shot server)", opts, async (t) => {
    const { server, port } = await serve(t, createEchoServer({ once: true }));
    const s = await dial(t, port);
    const got = collect(s);
    s.write("only me");
    await got.ended;
    assert.equal(got.text(), "only me");
    await until(() => server.stats().current === 0, "the server to close its side");
  });

  it(
    "ack answers a Python asyncio client's 'hi' without a newline, at once (asyncio's Protocol example)",
    opts,
    async (t) => {
      const { port } = await serve(t, createAckServer());
      assert.deepEqual(await pythonAckClient(port, "hi"), { outcome: "answered", received: "Message received\n" });
    },
  );

  it("ack answers each chunk with the configured message and a newline, whatever it holds", opts, async (t) => {
    const { port } = await serve(t, createAckServer({ message: "OK" }));
    const s = await dial(t, port);
    const got = collect(s);
    for (const [i, chunk] of ["no newline", "two\nlines\n", "\n"].entries()) {
      s.write(chunk);
      await until(() => got.text() === "OK\n".repeat(i + 1), `answer ${i + 1}`);
    }
  });

  it(
    "ack with perLine answers each complete line with the configured message, or 'Message received'",
    opts,
    async (t) => {
      const plain = await serve(t, createAckServer({ perLine: true }));
      const custom = await serve(t, createAckServer({ message: "OK", perLine: true }));
      const a = await dial(t, plain.port);
      a.write("x\ny\n");
      assert.equal((await received(a, 34)).toString(), "Message received\nMessage received\n");
      const b = await dial(t, custom.port);
      b.write("z\n");
      assert.equal((await received(b, 3)).toString(), "OK\n");
    },
  );

  it("print logs each line prefixed by the client's address", opts, async (t) => {
    const log: string[] = [];
    const { port } = await serve(t, createPrintServer({ log: (l) => log.push(l) }));
    const s = await dial(t, port);
    s.end("hello\nworld\n");
    await until(() => log.length === 2, "two lines logged");
    assert.deepEqual(log, [`127.0.0.1:${s.localPort}: hello`, `127.0.0.1:${s.localPort}: world`]);
  });

  it("print escapes control characters, so a client cannot drive the operator's terminal", opts, async (t) => {
    const log: string[] = [];
    const { port } = await serve(t, createPrintServer({ log: (l) => log.push(l) }));
    const s = await dial(t, port);
    s.end("red \x1b[31mtext\x1b[0m\x07 tab\there\r\nrtl \u202egnp.exe\n");
    await until(() => log.length === 2, "two lines logged");
    const who = `127.0.0.1:${s.localPort}`;
    assert.deepEqual(log, [`${who}: red \\x1b[31mtext\\x1b[0m\\x07 tab\there`, `${who}: rtl \\u202egnp.exe`]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the output must hold none of these
    for (const line of log) assert.doesNotMatch(line, /[\x00-\x08\x1b\x7f\u202e]/);
  });

  it("print logs a last line that ends without a newline, marked as partial", opts, async (t) => {
    const log: string[] = [];
    const { port } = await serve(t, createPrintServer({ log: (l) => log.push(l) }));
    const s = await dial(t, port);
    s.end("whole\ncut sh");
    await until(() => log.length === 2, "both lines logged");
    assert.equal(log[0], `127.0.0.1:${s.localPort}: whole`);
    assert.equal(log[1], `127.0.0.1:${s.localPort}: cut sh [no newline before EOF]`);
  });
});
