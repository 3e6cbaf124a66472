import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };
const FIXTURE = fileURLToPath(new URL("fixtures/trace.js", import.meta.url));

/** Runs the fixture with `NODE_DEBUG` set to `debug` (or unset); resolves with its pid and output. */
function runFixture(debug: string | undefined): Promise<{ pid: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_DEBUG;
  if (debug !== undefined) env.NODE_DEBUG = debug;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [FIXTURE], { env, timeout: TEST_TIMEOUT }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the fixture failed: ${err.message}\n${stderr}`));
      else resolve({ pid: child.pid as number, stdout, stderr });
    });
  });
}

describe("NODE_DEBUG=sockpool", () => {
  it("traces dials, acquire and release, connect errors, server connections and close, rpc errors", opts, async () => {
    const { pid, stdout, stderr } = await runFixture("sockpool");
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    const prefix = `SOCKPOOL ${pid}: `;
    assert.ok(
      lines.every((l) => l.startsWith(prefix)),
      `every line starts with "${prefix}":\n${stderr}`,
    );
    const trace = lines.map((l) => l.slice(prefix.length));
    // Each in order within its kind (the server and the pool run side by side).
    const pool = [
      /^pool (127\.0\.0\.1:\d+): dial \(attempt 0\)$/,
      /^pool 127\.0\.0\.1:\d+: create \(local port \d+\)$/,
      /^pool 127\.0\.0\.1:\d+: acquire \(local port \d+, new\)$/,
      /^pool 127\.0\.0\.1:\d+: release \(local port \d+\)$/,
      /^pool 127\.0\.0\.1:\d+: dial \(attempt 0\)$/,
      /^pool 127\.0\.0\.1:\d+: connectError: connect to 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/,
      /^pool 127\.0\.0\.1:\d+: destroy \(local port \d+, reason pool-closed\)$/,
    ];
    const server = [
      /^server 127\.0\.0\.1:\d+: listening$/,
      /^server 127\.0\.0\.1:\d+: connection from 127\.0\.0\.1:\d+$/,
      /^server 127\.0\.0\.1:\d+: closed$/,
    ];
    const rpc = [/^rpc 127\.0\.0\.1:\d+: request 1: remote error ERR_RPC_HANDLER: boom$/];
    for (const [kind, expected] of [
      ["pool", pool],
      ["server", server],
      ["rpc", rpc],
    ] as const) {
      let at = 0;
      for (const line of trace) if (at < expected.length && expected[at]?.test(line)) at++;
      assert.equal(at, expected.length, `${kind}: missing, in order, ${expected[at]} in:\n${trace.join("\n")}`);
    }
  });

  it("prints nothing without NODE_DEBUG, or when it names other modules", opts, async () => {
    assert.deepEqual(await runFixture(undefined).then((r) => [r.stdout, r.stderr]), ["", ""]);
    assert.deepEqual(await runFixture("net,http").then((r) => [r.stdout, r.stderr].map((s) => /SOCKPOOL/.test(s))), [
      false,
      false,
    ]);
  });
});
