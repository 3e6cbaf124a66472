import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import net from "node:net";
import { after, describe, test } from "node:test";
import { connect } from "../../src/connection/connect.js";
import type { Connection } from "../../src/connection/connection.js";
import { openChannel } from "../../src/rpc/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { collect, dial, finOrReset, needsSs, pythonAckClient, readByServer, sendOneByOne } from "../server/helpers.js";
import { interrupt, runCli, serveCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

async function client(t: { after(fn: () => unknown): void }, port: number): Promise<Connection> {
  const conn = await connect(`127.0.0.1:${port}`, { timeout: 5000, readTimeout: 10_000 });
  t.after(() => conn.destroy());
  return conn;
}

describe("sockpool serve", () => {
  test("echo answers a client, then Ctrl-C closes it gracefully with exit 0", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["echo"]);
    const conn = await client(t, port);
    await conn.write("hello\n");
    assert.equal(await conn.readLine(), "hello");
    await conn.close();
    const result = await interrupt(cli, "SIGINT");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SIGINT: closing/);
    assert.match(result.stderr, /closed after serving 1 clients/);
  });

  test("a reply in flight at SIGTERM still arrives, then the client sees EOF", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["echo", "--delay", "300ms"]);
    const conn = await client(t, port);
    // A first round trip proves the server accepted us (a connection still in the kernel's
    // accept queue at close would be refused, not served).
    await conn.write("early\n");
    assert.equal(await conn.readLine(), "early");
    // The next bytes are in the server's receive queue before the signal is sent, and epoll
    // reports them first: the server sees the request, then the shutdown.
    await conn.write("late\n");
    const closing = cli.waitFor(/closing/, "stderr");
    cli.child.kill("SIGTERM");
    await closing;
    assert.equal(await conn.readLine(), "late");
    assert.equal(await conn.readLine(), null);
    const result = await cli.exited;
    assert.equal(result.code, 0, result.stderr);
  });

  test("echo --delay: SIGINT still answers every message that arrived before it, then FIN", {
    ...opts,
    skip: needsSs,
  }, async (t) => {
    const { cli, port } = await serveCli(t, ["echo", "--delay", "200ms"]);
    const s = await dial(t, port);
    const got = collect(s);
    const fin = finOrReset(s);
    // Each message is read by the server before the next is sent: the server answers the
    // first while the others wait in its paused socket, as pipelined requests do.
    const readUpTo = (n: number) => readByServer(port, new Map([[s.localPort as number, n]]));
    await sendOneByOne(s, ["one\n", "two\n", "three\n"], readUpTo);
    cli.child.kill("SIGINT");
    assert.equal(await fin, "FIN");
    assert.equal(got.text(), "one\ntwo\nthree\n", "every message answered before the FIN");
    s.end();
    const result = await cli.exited;
    assert.equal(result.code, 0, result.stderr);
  });

  test("echo --once answers one message, then closes the connection", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["echo", "--once"]);
    const conn = await client(t, port);
    await conn.write("one\n");
    assert.equal(await conn.readLine(), "one");
    assert.equal(await conn.readLine(), null);
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("chat sends each line to every other client, tagged with its sender, not back to it", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["chat"]);
    const alice = await client(t, port);
    const bob = await client(t, port);
    // Both are members once each has been heard: a line from bob reaches alice.
    await bob.write("bob here\n");
    assert.equal(await alice.readLine(), `127.0.0.1:${bob.localPort}: bob here`);
    await alice.write("hi bob\n");
    assert.equal(await bob.readLine(), `127.0.0.1:${alice.localPort}: hi bob`);
    assert.equal(alice.bufferedLength, 0);
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("chat --no-prefix relays lines as sent", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["chat", "--no-prefix"]);
    const alice = await client(t, port);
    const bob = await client(t, port);
    await bob.write("bob here\n");
    assert.equal(await alice.readLine(), "bob here");
    await alice.write("127.0.0.1:1: not a tag\n");
    assert.equal(await bob.readLine(), "127.0.0.1:1: not a tag");
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("ack answers a Python asyncio client's 'hi' without a newline", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["ack"]);
    assert.deepEqual(await pythonAckClient(port, "hi"), { outcome: "answered", received: "Message received\n" });
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("ack --per-line answers every complete line with --message", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["ack", "--per-line", "--message", "OK"]);
    assert.deepEqual(await pythonAckClient(port, "no newline", 0.3), { outcome: "timeout", received: "" });
    const conn = await client(t, port);
    await conn.write("a\nb\n");
    assert.equal(await conn.readLine(), "OK");
    assert.equal(await conn.readLine(), "OK");
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("print logs each line on stdout with the client's address", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["print"]);
    const conn = await client(t, port);
    await conn.write("hello printer\n");
    const [line] = await cli.waitFor(/^127\.0\.0\.1:\d+: hello printer$/m);
    assert.ok(line.endsWith(`:${conn.localPort}: hello printer`), line);
    await conn.write("\x1b]0;owned\x07 and a last line");
    await conn.end();
    await cli.waitFor(/\\x1b\]0;owned\\x07 and a last line \[no newline before EOF\]$/m);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the output must hold none of these
    assert.doesNotMatch(cli.stdout(), /\x1b/, "no escape sequence reaches the terminal");
    await conn.close();
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("--max-connections closes clients beyond the limit at once", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["echo", "--max-connections", "1"]);
    const first = await client(t, port);
    await first.write("x\n");
    assert.equal(await first.readLine(), "x");
    const second = await client(t, port);
    await second.write("y\n").catch(() => {});
    assert.equal(await second.readLine().catch(() => null), null);
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("--workers 2 serves from two processes on one port and closes both on Ctrl-C", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["echo", "--workers", "2"]);
    assert.match(cli.stdout(), /with 2 workers/);
    for (let i = 0; i < 4; i++) {
      const conn = await client(t, port);
      await conn.write(`w${i}\n`);
      assert.equal(await conn.readLine(), `w${i}`);
      await conn.close();
    }
    const result = await interrupt(cli);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /closed/);
  });

  test("rpc-echo answers many requests in flight on one channel", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["rpc-echo", "--delay", "100ms"]);
    const channel = await openChannel(`127.0.0.1:${port}`);
    t.after(() => channel.destroy());
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => channel.request(`req ${i}`)));
    assert.deepEqual(
      replies.map((r) => r.toString()),
      Array.from({ length: 10 }, (_, i) => `req ${i}`),
    );
    await channel.close();
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("--workers: when every worker dies, the primary says so and exits 1", opts, async (t) => {
    const { cli } = await serveCli(t, ["echo", "--workers", "2"]);
    const pid = cli.child.pid as number;
    const workers = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).map(Number);
    assert.equal(workers.length, 2);
    for (const w of workers) process.kill(w, "SIGKILL");
    const result = await cli.exited;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ERR_SOCKPOOL_SERVER_CLOSED: every worker exited on its own/);
  });

  test("--workers: a primary killed with SIGKILL leaves its workers to answer every request in flight, then exit", {
    ...opts,
    skip: needsSs,
  }, async (t) => {
    const { cli, port } = await serveCli(t, ["echo", "--delay", "1s", "--workers", "2"]);
    const primary = cli.child.pid as number;
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, "utf8").trim().split(/\s+/).map(Number);
    assert.equal(workers.length, 2);
    t.after(() => {
      for (const w of workers) if (alive(w)) process.kill(w, "SIGKILL");
    });
    const requests = Array.from({ length: 20 }, (_, i) => `request ${i}\n`);
    const clients = await Promise.all(requests.map(() => dial(t, port)));
    const replies = clients.map((c) => ({ got: collect(c), fin: finOrReset(c) }));
    const sent = new Map<number, number>();
    for (const [i, c] of clients.entries()) {
      c.write(requests[i] as string);
      sent.set(c.localPort as number, (requests[i] as string).length);
    }
    // Every request is inside a worker (read out of the kernel) before the primary dies.
    await readByServer(port, sent);
    process.kill(primary, "SIGKILL");
    for (const [i, { got, fin }] of replies.entries()) {
      assert.equal(await fin, "FIN", `client ${i}`);
      assert.equal(got.text(), requests[i], `client ${i} got its reply before the FIN`);
      clients[i]?.end();
    }
    // The workers hold the CLI's stdout and stderr: they close once every worker has exited.
    const result = await cli.exited;
    assert.equal(result.signal, "SIGKILL");
    assert.deepEqual(workers.filter(alive), [], "no worker is left running");
  });

  test("--per-line applies to ack only", opts, async (t) => {
    const result = await runCli(t, ["serve", "echo", "--per-line"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^ERR_SOCKPOOL_INVALID_ARGUMENT: --per-line applies to "serve ack" only, not "serve echo"/,
    );
  });

  test("a port in use is a clear error with exit 1", opts, async (t) => {
    const blocker = net.createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    t.after(() => blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    const result = await runCli(t, ["serve", "echo", "--port", String(port)]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_SOCKET: .*EADDRINUSE/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
  });
});

/** Whether process `pid` still runs (a zombie nobody reaped has exited). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
