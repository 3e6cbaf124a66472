import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, type TestContext, test } from "node:test";
import { createRpcEchoServer } from "../../src/rpc/index.js";
import { createEchoServer } from "../../src/server/index.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { privateCa } from "../helpers/private-ca.js";
import { type CliResult, runCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

/** A temporary folder, removed after the test. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "sockpool-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function benchJson(result: CliResult) {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as {
    requests: number;
    errors: number;
    sockets: { opened: number };
    settings: { endpoint: string };
  };
}

describe("send and bench over Unix sockets and TLS", () => {
  test("round trips against a unix:/path echo server", opts, async (t) => {
    const path = join(tempDir(t), "echo.sock");
    const server = createEchoServer();
    await server.listen({ path });
    t.after(() => server.close({ timeout: 1000 }));

    const sent = await runCli(t, ["send", `unix:${path}`, "hello over a pipe"]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, "hello over a pipe\n");

    const r = benchJson(await runCli(t, ["bench", `unix:${path}`, "-n", "50", "-c", "4", "--json"]));
    assert.deepEqual([r.requests, r.errors, r.settings.endpoint], [50, 0, `unix:${path}`]);
    assert.ok(r.sockets.opened >= 1 && r.sockets.opened <= 4, String(r.sockets.opened));
  });

  test("tls:// with --ca FILE trusts a private CA; without it the certificate is refused", opts, async (t) => {
    const { ca, cert, key } = privateCa();
    const caFile = join(tempDir(t), "ca.pem");
    writeFileSync(caFile, ca);
    const server = createEchoServer();
    await server.listen({ port: 0, tls: { cert, key } });
    t.after(() => server.close({ timeout: 1000 }));
    const endpoint = `tls://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const sent = await runCli(t, ["send", endpoint, "hello over TLS", "--ca", caFile]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stdout, "hello over TLS\n");

    const r = benchJson(await runCli(t, ["bench", endpoint, "-n", "50", "-c", "4", "--ca", caFile, "--json"]));
    assert.deepEqual([r.requests, r.errors, r.settings.endpoint], [50, 0, endpoint]);

    // The system's CAs do not know this one: one clear connect error, for send and bench alike.
    for (const args of [
      ["send", endpoint, "hello"],
      ["bench", endpoint, "-n", "5"],
    ]) {
      const refused = await runCli(t, args);
      assert.equal(refused.code, 1, args.join(" "));
      assert.match(refused.stderr, /^ERR_SOCKPOOL_CONNECT: connect to tls:\/\/127\.0\.0\.1:\d+ failed: .*certificate/);
      assert.equal(refused.stderr.split("\n").length, 2, refused.stderr);
    }
  });

  test("bench --rpc over tls:// with --ca", opts, async (t) => {
    const { ca, cert, key } = privateCa();
    const caFile = join(tempDir(t), "ca.pem");
    writeFileSync(caFile, ca);
    const server = createRpcEchoServer();
    await server.listen({ port: 0, tls: { cert, key } });
    t.after(() => server.close({ timeout: 1000 }));
    const endpoint = `tls://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const args = ["bench", endpoint, "--rpc", "-n", "100", "-c", "10", "-p", "1", "--ca", caFile, "--json"];
    const r = benchJson(await runCli(t, args));
    assert.deepEqual([r.requests, r.errors, r.sockets.opened], [100, 0, 1]);
  });
});
