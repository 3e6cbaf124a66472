import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { assertNoOpenSockets, echoServer } from "../helpers/net.js";
import { startInPty } from "../helpers/pty.js";
import { BIN } from "./cli.js";

after(assertNoOpenSockets);

const CLEAR_LINE = "\r\x1b[2K";

describe("sockpool bench on a terminal", () => {
  test("draws a progress bar, clears it for the summary; Ctrl-C marks the run interrupted, exit 130", {
    timeout: 30_000,
  }, async (t) => {
    const server = await echoServer(t);
    const pty = startInPty(t, [process.execPath, BIN, "bench", server.endpoint, "-d", "1h", "-c", "2"]);
    // The bar, redrawn as requests complete: label, bar, percent, then "N req".
    await pty.waitFor(/bench [█░]{10,} +\d+% {2}[1-9]\d* req +0 err/);
    pty.type("\x03"); // Ctrl-C, as typed: the terminal sends SIGINT to the foreground process
    const { code, output } = await pty.exited;
    assert.equal(code, 130, JSON.stringify(output));

    const lastBar = Math.max(output.lastIndexOf("█"), output.lastIndexOf("░"));
    const cleared = output.indexOf(CLEAR_LINE, lastBar);
    assert.ok(lastBar > 0 && cleared > lastBar, `the bar's line is cleared: ${JSON.stringify(output.slice(-200))}`);
    const summary = output.slice(cleared + CLEAR_LINE.length).replaceAll("\r\n", "\n");
    assert.match(summary, /^(\^C)?bench 127\.0\.0\.1:\d+: for 1 h, concurrency 2, 1 KiB each\n/);
    assert.match(summary, /\n {2}interrupted +by Ctrl-C after [\d.]+ m?s: the figures cover the run until then\n/);
    assert.match(summary, /\n {2}requests +[1-9]\d* \(0 errors, [0-2] cancelled by Ctrl-C\)\n/);
    assert.match(summary, /\nLatency histogram[^\n]*:\n( +[\d.]+ – +[\d.]+ (µs|ms|s) \[\d+\] +\|■*\n){10}$/);
    assert.doesNotMatch(summary, /[█░]/, "no trace of the bar after it was cleared");
  });
});
