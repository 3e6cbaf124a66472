import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, describe, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connect } from "../../src/connection/connect.js";
import { createEchoServer } from "../../src/server/index.js";
import { assertNoOpenSockets, closedPort, TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

/** dist/examples/<name>.js */
function example(name: string): string {
  return fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));
}

interface Run {
  child: ChildProcess;
  /** Resolves with the first stdout match of `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs an example as its own process; the test's `after` kills it if still running. */
function run(t: TestContext, name: string, args: string[]): Run {
  const child = spawn(process.execPath, [example(name), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  const waiters: (() => void)[] = [];
  child.stdout?.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
    for (const w of waiters) w();
  });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const exited = once(child, "close").then(([code]) => ({ code: code as number | null, stdout, stderr }));
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = stdout.match(pattern);
        if (m) resolve(m);
      };
      waiters.push(check);
      check();
      void exited.then(() => reject(new Error(`${name} exited before printing ${pattern}: ${stdout}${stderr}`)));
    });
  return { child, waitFor, exited };
}

/** An in-process echo server on 127.0.0.1:0 (closed after the test). */
async function echo(t: TestContext, delay = 0): Promise<string> {
  const server = createEchoServer({ delay });
  await server.listen({ port: 0 });
  t.after(() => server.close({ timeout: 1000 }));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Starts a server example on port 0, sends `line`, and returns the reply line. */
async function ask(t: TestContext, r: Run, line: string): Promise<string | null> {
  const [, port] = await r.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
  const conn = await connect(`127.0.0.1:${port}`, { readTimeout: 5000 });
  t.after(() => conn.destroy());
  await conn.write(`${line}\n`);
  const reply = await conn.readLine();
  await conn.close();
  return reply;
}

describe("examples", () => {
  test("connect.ts writes a line and prints the reply", opts, async (t) => {
    const ep = await echo(t);
    const result = await run(t, "connect", [ep, "hi there"]).exited;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "reply: hi there\n");
  });

  test("connect.ts reports a refused endpoint by code, exit 1", opts, async (t) => {
    const result = await run(t, "connect", ["127.0.0.1:1", "hi"]).exited;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_CONNECT: connect to 127\.0\.0\.1:1 failed/);
  });

  test("pool.ts sends 20 requests over 5 sockets, then reuses one with await using", opts, async (t) => {
    const ep = await echo(t, 100);
    const result = await run(t, "pool", [ep, "20"]).exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^20 replies in [\d.]+ s; last: request 19$/m);
    assert.match(result.stdout, /^reused socket: true, reply: one more$/m);
    assert.match(result.stdout, /^sockets: 5 opened, 16 reused, 5 idle, 0 borrowed$/m);
  });

  test("echo-server.ts upper-cases lines and closes gracefully on SIGINT", opts, async (t) => {
    const r = run(t, "echo-server", ["0"]);
    assert.equal(await ask(t, r, "hello"), "HELLO");
    r.child.kill("SIGINT");
    const result = await r.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /closed after 1 clients/);
  });

  test("protocol-server.ts answers each chunk with the running byte count", opts, async (t) => {
    const r = run(t, "protocol-server", ["0"]);
    assert.equal(await ask(t, r, "hello"), "6 bytes so far");
    r.child.kill("SIGINT");
    assert.equal((await r.exited).code, 0);
  });

  test("replicas.ts spreads requests over a service and names a dead replica", opts, async (t) => {
    const live = await Promise.all([echo(t), echo(t), echo(t)]);
    const dead = `127.0.0.1:${await closedPort()}`;
    const result = await run(t, "replicas", [[...live, dead].join(","), "300"]).exited;
    assert.equal(result.code, 0, result.stderr);
    for (const ep of [...live, dead]) assert.match(result.stdout, new RegExp(`^join: ${ep} \\(active\\)$`, "m"));
    assert.match(result.stdout, new RegExp(`^eject: ${dead} \\(ejected\\)$`, "m"));
    for (const ep of live)
      assert.match(result.stdout, new RegExp(`^${ep}: \\d+ requests \\([\\d.]+%\\), 0 failures, active$`, "m"));
    assert.match(result.stdout, new RegExp(`^${dead}: 0 requests \\(0\\.0%\\), \\d+ failures, ejected$`, "m"));
  });

  test("rpc.ts carries 100 concurrent requests over at most 2 sockets", opts, async (t) => {
    const result = await run(t, "rpc", []).exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^100 replies in \d+ ms over [12] sockets; first: REQUEST 0$/m);
  });
});
