import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, type TestContext, test } from "node:test";
import tls from "node:tls";
import { connect } from "../../src/connection/connect.js";
import type { Connection } from "../../src/connection/connection.js";
import { createEchoServer } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { privateCa } from "../helpers/private-ca.js";
import { selfSigned } from "../helpers/tls.js";
import { finOrReset } from "../server/helpers.js";
import { type CliProcess, interrupt, runCli, startCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

/** A temporary folder, removed after the test. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "sockpool-serve-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `sockpool serve ...args` and resolves once it prints where it listens. */
async function serveOn(t: TestContext, args: string[], where: RegExp): Promise<{ cli: CliProcess; at: string }> {
  const cli = startCli(t, ["serve", ...args]);
  const match = await cli.waitFor(where);
  return { cli, at: match[1] as string };
}

async function unixClient(t: TestContext, path: string): Promise<Connection> {
  const conn = await connect(`unix:${path}`, { timeout: 5000, readTimeout: 10_000 });
  t.after(() => conn.destroy());
  return conn;
}

/** The CA, and the server's certificate and key it signed, written to files. */
function pemFiles(t: TestContext): { ca: string; cert: string; key: string; dir: string } {
  const dir = tempDir(t);
  const pems = privateCa();
  for (const name of ["ca", "cert", "key"] as const) writeFileSync(join(dir, `${name}.pem`), pems[name]);
  return { dir, ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

describe("sockpool serve --path: a Unix socket", () => {
  test("echo serves unix:PATH, send round-trips, and Ctrl-C removes the socket file", opts, async (t) => {
    const path = join(tempDir(t), "echo.sock");
    const { cli, at } = await serveOn(t, ["echo", "--path", path], /listening on (unix:\S+)/);
    assert.equal(at, `unix:${path}`);
    const sent = await runCli(t, ["send", at, "hello over a pipe"]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, "hello over a pipe\n");
    const result = await interrupt(cli);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /closed after serving 1 clients/);
    assert.equal(existsSync(path), false, "the socket file is gone");
  });

  test("a stale socket file (its server died) is replaced; a live server's path is not taken", opts, async (t) => {
    const dir = tempDir(t);
    const stale = join(dir, "stale.sock");
    // A socket bound and never listened on, as a killed server leaves it: connects are refused.
    execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", stale]);
    assert.ok(existsSync(stale));
    const { cli } = await serveOn(t, ["echo", "--path", stale], /listening on (unix:\S+)/);
    const conn = await unixClient(t, stale);
    await conn.write("still here\n");
    assert.equal(await conn.readLine(), "still here");
    await conn.close();
    assert.equal((await interrupt(cli)).code, 0);

    const live = join(dir, "live.sock");
    const owner = createEchoServer();
    await owner.listen({ path: live });
    t.after(() => owner.close({ timeout: 1000 }));
    const refused = await runCli(t, ["serve", "echo", "--path", live]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /EADDRINUSE/);
    assert.match(refused.stderr, new RegExp(live.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
    const mine = await unixClient(t, live);
    await mine.write("the owner still serves\n");
    assert.equal(await mine.readLine(), "the owner still serves");
  });

  test("chat on a Unix socket tags its clients by number", opts, async (t) => {
    const path = join(tempDir(t), "chat.sock");
    const { cli } = await serveOn(t, ["chat", "--path", path], /listening on (unix:\S+)/);
    const one = await unixClient(t, path);
    const two = await unixClient(t, path);
    await two.write("two here\n");
    assert.equal(await one.readLine(), "unix client 2: two here");
    await one.write("hi two\n");
    assert.equal(await two.readLine(), "unix client 1: hi two");
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("--workers 2 share one Unix socket", opts, async (t) => {
    const path = join(tempDir(t), "workers.sock");
    const { cli } = await serveOn(t, ["echo", "--path", path, "--workers", "2"], /listening on (unix:\S+) with 2/);
    const conns = await Promise.all([1, 2, 3, 4].map(() => unixClient(t, path)));
    await Promise.all(conns.map((c, i) => c.write(`worker round trip ${i}\n`)));
    assert.deepEqual(
      await Promise.all(conns.map((c) => c.readLine())),
      conns.map((_, i) => `worker round trip ${i}`),
    );
    await Promise.all(conns.map((c) => c.close()));
    assert.equal((await interrupt(cli)).code, 0);
  });
});

describe("sockpool serve --tls", () => {
  test("echo serves tls://, which send and bench reach with --ca", opts, async (t) => {
    const pem = pemFiles(t);
    const { cli, at } = await serveOn(
      t,
      ["echo", "--tls", "--cert", pem.cert, "--key", pem.key, "--port", "0"],
      /listening on (tls:\/\/127\.0\.0\.1:\d+)/,
    );
    const sent = await runCli(t, ["send", at, "hello over TLS", "--ca", pem.ca]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, "hello over TLS\n");
    const bench = await runCli(t, ["bench", at, "-n", "40", "-c", "4", "--ca", pem.ca, "--json"]);
    assert.equal(bench.code, 0, bench.stderr);
    const r = JSON.parse(bench.stdout) as { requests: number; errors: number };
    assert.deepEqual([r.requests, r.errors], [40, 0]);
    assert.equal((await interrupt(cli)).code, 0);
  });

  test(
    "a client that never finishes its handshake is cut at --handshake-timeout; TLS 1.1 is refused",
    opts,
    async (t) => {
      const pem = pemFiles(t);
      const { cli, at } = await serveOn(
        t,
        ["echo", "--tls", "--cert", pem.cert, "--key", pem.key, "--port", "0", "--handshake-timeout", "300ms"],
        /listening on tls:\/\/127\.0\.0\.1:(\d+)/,
      );
      const port = Number(at);
      const silent = net.connect(port, "127.0.0.1");
      t.after(() => silent.destroy());
      const started = Date.now();
      await finOrReset(silent);
      // Cut at 300 ms, long before the 5 s default.
      assert.ok(Date.now() - started < 4000, `cut after ${Date.now() - started} ms`);

      const old = tls.connect({
        port,
        host: "127.0.0.1",
        ca: privateCa().ca,
        minVersion: "TLSv1",
        maxVersion: "TLSv1.1",
      });
      t.after(() => old.destroy());
      const err = await new Promise<Error>((resolve, reject) => {
        old.once("error", resolve);
        old.once("secureConnect", () => reject(new Error(`negotiated ${old.getProtocol()}`)));
      });
      assert.match(err.message, /protocol|version/i);
      assert.equal((await interrupt(cli)).code, 0);
    },
  );

  test("rpc-echo serves TLS too, for bench --rpc", opts, async (t) => {
    const pem = pemFiles(t);
    const { cli, at } = await serveOn(
      t,
      ["rpc-echo", "--tls", "--cert", pem.cert, "--key", pem.key, "--port", "0"],
      /listening on (tls:\/\/127\.0\.0\.1:\d+)/,
    );
    const bench = await runCli(t, ["bench", at, "--rpc", "-n", "40", "-c", "4", "--ca", pem.ca, "--json"]);
    assert.equal(bench.code, 0, bench.stderr);
    const r = JSON.parse(bench.stdout) as { requests: number; errors: number };
    assert.deepEqual([r.requests, r.errors], [40, 0]);
    assert.equal((await interrupt(cli)).code, 0);
  });
});

describe("sockpool serve: --path and --tls mistakes are one clear error each", () => {
  test("each exits 1 with code: message, before anything listens", opts, async (t) => {
    const pem = pemFiles(t);
    const other = join(pem.dir, "other-key.pem");
    writeFileSync(other, selfSigned().key);
    const missing = join(pem.dir, "missing.pem");
    const cases: [string[], RegExp][] = [
      [
        ["echo", "--path", "/tmp/x.sock", "--port", "4000"],
        /--path "\/tmp\/x\.sock" serves a Unix socket; drop --port/,
      ],
      [["echo", "--path", ""], /--path must name a file, got ""/],
      [["echo", "--cert", pem.cert], /--cert applies to --tls only; add --tls to serve TLS/],
      [["echo", "--tls", "--cert", pem.cert], /--tls needs --cert FILE and --key FILE \(missing --key\)/],
      [["echo", "--tls", "--cert", missing, "--key", pem.key], /--cert ".*missing\.pem" cannot be read \(ENOENT\)/],
      [
        ["echo", "--tls", "--cert", pem.cert, "--key", other],
        /--cert ".*" and --key ".*other-key\.pem" cannot serve TLS: .*key values mismatch/,
      ],
      [["echo", "--tls", "--cert", pem.key, "--key", pem.key], /cannot serve TLS/],
      [
        ["echo", "--tls", "--cert", pem.cert, "--key", pem.key, "--handshake-timeout", "0"],
        /--handshake-timeout.*must be positive/,
      ],
      [["echo", "--no-prefix"], /--no-prefix applies to "serve chat" only/],
      [["chat", "--prefix", "--no-prefix"], /--prefix and --no-prefix contradict each other/],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(t, ["serve", ...argv]);
      assert.equal(r.code, 1, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: /, argv.join(" "));
      assert.match(r.stderr, message, argv.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "", argv.join(" "));
    }
  });
});
