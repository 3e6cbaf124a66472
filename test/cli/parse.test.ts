import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { attachNegativeValues, type OptionSpec } from "../../src/cli/command.js";
import { parseCaFile, parseCount, parseDuration, parsePort, parseRate, parseSize } from "../../src/cli/parse.js";
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

  test("rejects unknown units and garbage, naming the flag and value", opts, () => {
    rejects(() => parseDuration("--timeout", "5d"), "--timeout", "5d", "units: ms, s, m, h");
    for (const text of ["", "s", "1s2", "abc", "1e3ms", "Infinitys", "1..2s"]) {
      rejects(() => parseDuration("--timeout", text), "--timeout", text, "250ms");
    }
  });

  test("a negative value must be positive, with or without a unit", opts, () => {
    for (const text of ["-1s", "-5", "-.5s", " -0", "- 1s"]) {
      rejects(() => parseDuration("--timeout", text), "--timeout", text, "must be positive");
    }
  });

  test("bareSeconds reads a bare number as seconds; positive rejects 0", opts, () => {
    const rules = { bareSeconds: true, positive: true };
    assert.equal(parseDuration("--duration", "10", rules), 10_000);
    assert.equal(parseDuration("--duration", "0.25", rules), 250);
    assert.equal(parseDuration("--duration", "250ms", rules), 250);
    for (const text of ["0", "0s", "0.0001s"]) {
      rejects(() => parseDuration("--duration", text, rules), "--duration", text, "must be positive");
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
    for (const text of ["", "KiB", "1 K iB", "0x10"]) rejects(() => parseSize("--size", text), "--size", text);
    rejects(() => parseSize("--size", "-1"), "--size", "-1", "must be positive");
  });

  test("honours a maximum, naming it", opts, () => {
    assert.equal(parseSize("--size", "64MiB", 1, 64 * 1024 ** 2), 64 * 1024 ** 2);
    rejects(() => parseSize("--size", "65MiB", 1, 64 * 1024 ** 2), "--size", "65MiB", "at most 64 MiB");
    rejects(() => parseSize("--size", "1001", 1, 1000), "--size", "1001", "at most 1000 bytes");
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
    rejects(() => parseCount("--concurrency", "-3"), "--concurrency", "-3", "must be positive");
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
    for (const text of ["0", "fast", "", "1/s"]) rejects(() => parseRate("--rate", text), "--rate", text);
    rejects(() => parseRate("--rate", "-5"), "--rate", "-5", "must be positive");
  });
});

describe("attachNegativeValues", () => {
  const options: Record<string, OptionSpec> = {
    timeout: { type: "string", help: "" },
    concurrency: { type: "string", short: "c", help: "" },
    json: { type: "boolean", help: "" },
  };

  test("joins a string flag and the negative number after it, so its parser sees the value", opts, () => {
    assert.deepEqual(attachNegativeValues(["--timeout", "-5", "-c", "-1", "x"], options), [
      "--timeout=-5",
      "--concurrency=-1",
      "x",
    ]);
    assert.deepEqual(attachNegativeValues(["--timeout", "-.5s"], options), ["--timeout=-.5s"]);
  });

  test("leaves other words alone: boolean flags, flags after a flag, words after --", opts, () => {
    const cases = [
      ["--json", "-5"],
      ["--timeout", "--json"],
      ["--timeout=-5"],
      ["--", "--timeout", "-5"],
      ["--bogus", "-5"],
    ];
    for (const argv of cases) assert.deepEqual(attachNegativeValues(argv, options), argv);
  });
});

describe("parseCaFile", () => {
  test("reads PEM certificates for a tls:// target", opts, (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sockpool-ca-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    writeFileSync(join(dir, "ca.pem"), pem);
    writeFileSync(join(dir, "notes.txt"), "hello");
    assert.equal(parseCaFile("--ca", join(dir, "ca.pem"), "tls://127.0.0.1:3443"), pem);
    assert.equal(parseCaFile("--ca", join(dir, "ca.pem"), "127.0.0.1:1,tls://127.0.0.1:2"), pem);
    rejects(
      () => parseCaFile("--ca", join(dir, "nope.pem"), "tls://127.0.0.1:1"),
      "--ca",
      join(dir, "nope.pem"),
      "ENOENT",
    );
    rejects(
      () => parseCaFile("--ca", join(dir, "notes.txt"), "tls://127.0.0.1:1"),
      "--ca",
      join(dir, "notes.txt"),
      "no PEM",
    );
  });

  test("refuses a target that has no tls:// endpoint", opts, () => {
    for (const target of ["127.0.0.1:1", "unix:/tmp/x.sock", "srv:_echo._tcp.sp.test"]) {
      assert.throws(
        () => parseCaFile("--ca", "ca.pem", target),
        (err: unknown) =>
          err instanceof InvalidArgumentError &&
          err.message === `--ca applies to tls:// targets only, not ${JSON.stringify(target)}`,
      );
    }
  });
});
