import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { assertNoOpenSockets } from "../helpers/net.js";
import { runCli } from "./cli.js";

after(assertNoOpenSockets);

describe("sockpool demo", () => {
  test("runs scenario 1 with the defaults: exit 0, floors met, 5 sockets, then all reused", {
    timeout: 30_000,
  }, async (t) => {
    const started = performance.now();
    const result = await runCli(t, ["demo"], 28_000);
    const elapsed = performance.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const out = result.stdout;
    assert.match(out, /answers each message after 1\.00 s/);
    assert.match(out, /\n5 messages at once:\n/);
    assert.match(out, /\n20 messages at once:\n/);
    // Progress: one line per wave of replies, the last of each phase complete.
    assert.match(out, / 5\/5 replies/);
    assert.match(out, /20\/20 replies/);
    const took = [
      ...out.matchAll(/took ([\d.]+) s: [\d.]+ ms over the floor ceil\((\d+)\/5\) × 1\.00 s = ([\d.]+) s/g),
    ];
    assert.equal(took.length, 2, out);
    for (const [, seconds, , floor] of took)
      assert.ok(Number(seconds) >= Number(floor) - 0.01, `${seconds} ≥ ${floor}`);
    assert.match(out, /sockets: 5 opened, 0 reused; now 5 idle, 0 borrowed/);
    assert.match(out, /sockets: 0 opened, 20 reused; now 5 idle, 0 borrowed/);
    assert.match(out, /In all: 25 messages over 5 sockets \(5 opened, 20 reused\); the server accepted 5 connections/);
    assert.ok(elapsed < 30_000);
  });
});
