import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseCount, parseDuration, parsePort, parseRate, parseSize } from "../../src/cli/parse.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };

/** Asserts `fn` throws InvalidArgumentError naming the flag and quoting the value. */
function rejects(fn: () => unknown, flag: string, value: string, hint?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, String(err));
    assert.equal(err.code, "ERR_SOCKPOOL_INVALID_ARGUMENT");
    assert.ok(err.message.startsWith(`${flag}: `), err.message);
    assert.ok(err.message.includes(JSON.stringify(value)), err.message);
    if (hint !== undefined) assert.ok(err.message.includes(hint), err.message);
    return true;
  });
}

describe("parseDuration", () => {
  test("reads ms, s, m and h, with decimals and spaces", opts, () => {
    const cases: [string, number][] = [
      ["250ms", 250],
      ["1s", 1000],
      ["1.5m", 90_000],
      ["2h", 7_200_000],
      ["0.5s", 500],
      [".25s", 250],
      ["1 s", 1000],
      ["10MS", 10],
      ["0", 0],
      ["0ms", 0],
      ["1.0004s", 1000],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration("--delay", text), ms, text);
  });

  test("rejects a bare non-zero number, asking for a unit", opts, () => {
    rejects(() => parseDuration("--delay", "5"), "--delay", "5", "add a unit");
  });

  test("rejects unknown units, negatives and garbage, naming the flag and value", opts, () => {
    rejects(() => parseDuration("--timeout", "5d"), "--timeout", "5d", "units: ms, s, m, h");
    for (const text of ["-1s", "", "s", "1s2", "abc", "1e3ms", "Infinitys", "1..2s"]) {
      rejects(() => parseDuration("--timeout", text), "--timeout", text, "250ms");
    }
  });

  test("rejects a duration too long to count in ms", opts, () => {
    rejects(() => parseDuration("--duration", "99999999999999h"), "--duration", "99999999999999h", "too long");
  });
});

describe("parseSize", () => {
  test("reads bytes, SI and binary units, case-insensitively", opts, () => {
    const cases: [string, number][] = [
      ["512", 512],
      ["1KiB", 1024],
      ["1kib", 1024],
      ["1KB", 1000],
      ["1MB", 1_000_000],
      ["2MiB", 2 * 1024 * 1024],
      ["1GiB", 1024 ** 3],
      ["1.5KiB", 1536],
      ["64 B", 64],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize("--size", text), bytes, text);
  });

  test("rejects fractions of a byte, zero, unknown units and garbage", opts, () => {
    rejects(() => parseSize("--size", "1.5"), "--size", "1.5", "whole number of bytes");
    rejects(() => parseSize("--size", "0"), "--size", "0", "at least 1 bytes");
    rejects(() => parseSize("--size", "1XB"), "--size", "1XB", "units: B, KB");
    for (const text of ["-1", "", "KiB", "1 K iB", "0x10"]) rejects(() => parseSize("--size", text), "--size", text);
  });

  test("honours a custom minimum", opts, () => {
    assert.equal(parseSize("--limit", "0", 0), 0);
  });
});

describe("parseCount and parsePort", () => {
  test("read whole numbers, with underscores", opts, () => {
    assert.equal(parseCount("--requests", "20"), 20);
    assert.equal(parseCount("--requests", "10_000"), 10_000);
    assert.equal(parsePort("--port", "0"), 0);
    assert.equal(parsePort("--port", "65535"), 65535);
  });

  test("reject out-of-range, fractional, negative and non-numeric values", opts, () => {
    rejects(() => parseCount("--concurrency", "0"), "--concurrency", "0", "≥ 1");
    rejects(() => parseCount("--concurrency", "1.5"), "--concurrency", "1.5");
    rejects(() => parseCount("--concurrency", "-3"), "--concurrency", "-3");
    rejects(() => parseCount("--concurrency", "ten"), "--concurrency", "ten");
    rejects(() => parseCount("--workers", "300", 1, 256), "--workers", "300", "from 1 to 256");
    rejects(() => parsePort("--port", "65536"), "--port", "65536", "from 0 to 65535");
    rejects(() => parsePort("--port", "http"), "--port", "http");
  });
});

describe("parseRate", () => {
  test("reads positive rates, fractional ones too", opts, () => {
    assert.equal(parseRate("--rate", "100"), 100);
    assert.equal(parseRate("--rate", "0.5"), 0.5);
  });

  test("rejects zero, negatives and garbage", opts, () => {
    for (const text of ["0", "-5", "fast", "", "1/s"]) rejects(() => parseRate("--rate", text), "--rate", text);
  });
});
