import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError, LimitExceededError, lineCodec } from "sockpool";

function decodeAll(chunks: Buffer[], max = 1024): string[] {
  const d = lineCodec({ maxLineLength: max }).decoder();
  return chunks.flatMap((c) => d.push(c)).map((b) => b.toString());
}

describe("lineCodec", () => {
  it("splits lines and strips \\n and \\r\\n", () => {
    assert.deepEqual(decodeAll([Buffer.from("a\r\nbb\n\nccc\n")]), ["a", "bb", "", "ccc"]);
  });

  it("decodes the same lines at every split point of the input", () => {
    const input = Buffer.from("alpha\nbe\r\nta\n\ngamma\n");
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const got = decodeAll([input.subarray(0, i), input.subarray(i, j), input.subarray(j)]);
        assert.deepEqual(got, ["alpha", "be", "ta", "", "gamma"], `split at ${i},${j}`);
      }
    }
  });

  it("returns the unterminated rest at end()", () => {
    const d = lineCodec().decoder();
    assert.deepEqual(d.push(Buffer.from("one\ntw")).map(String), ["one"]);
    assert.equal(d.pending, 2);
    assert.equal(d.end()?.toString(), "tw");
    assert.equal(d.end(), undefined);
  });

  it("rejects a bad maximum with InvalidArgumentError naming it", () => {
    assert.throws(
      () => lineCodec({ maxLineLength: 0 }),
      (e: unknown) => e instanceof InvalidArgumentError && /maxLineLength.*got 0/.test(e.message),
    );
    assert.throws(() => lineCodec({ maxLineLength: Number.NaN }), InvalidArgumentError);
  });

  it("encodes with exactly one trailing newline", () => {
    const c = lineCodec();
    assert.equal(c.encode("hi").toString(), "hi\n");
    assert.equal(c.encode("hi\n").toString(), "hi\n");
    assert.equal(c.encode(new Uint8Array([104])).toString(), "h\n");
  });

  it("throws LimitExceededError as soon as a line passes the maximum, fed one byte at a time", () => {
    const d = lineCodec({ maxLineLength: 8 }).decoder();
    assert.deepEqual(d.push(Buffer.from("ok\n")).map(String), ["ok"]);
    let fed = 0;
    assert.throws(
      () => {
        for (;;) {
          d.push(Buffer.from("x"));
          fed++;
        }
      },
      (err: unknown) =>
        err instanceof LimitExceededError && err.limit === 8 && err.code === "ERR_SOCKPOOL_LIMIT_EXCEEDED",
    );
    assert.equal(fed, 8, "the ninth byte is refused");
    assert.ok(d.pending <= 8);
    assert.throws(() => d.push(Buffer.from("\n")), LimitExceededError, "stays poisoned");
  });

  it("refuses a 10 MiB line in 64 KiB chunks after the first chunk past the limit", () => {
    const d = lineCodec({ maxLineLength: 64 * 1024 }).decoder();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    d.push(chunk);
    assert.throws(() => d.push(chunk), LimitExceededError);
    assert.equal(d.pending, 0, "nothing kept after the error");
  });

  it("property: any lines, split anywhere, decode to the same lines", () => {
    const line = fc
      .string({ unit: fc.constantFrom("a", "b", "é", " ", "\r"), maxLength: 30 })
      .filter((s) => !s.endsWith("\r"));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const input = Buffer.from(lines.map((l) => `${l}\n`).join(""));
        const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(input.subarray(prev, p));
          prev = p;
        }
        chunks.push(input.subarray(prev));
        assert.deepEqual(decodeAll(chunks, 1024), lines);
      }),
    );
  });

  it("property: garbage bytes give lines or a LimitExceededError, never anything else", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const d = lineCodec({ maxLineLength: 40 }).decoder();
        try {
          for (const c of chunks) for (const l of d.push(Buffer.from(c))) assert.ok(l.length <= 41);
        } catch (err) {
          assert.ok(err instanceof LimitExceededError, String(err));
        }
        assert.ok(d.pending <= 40);
      }),
    );
  });
});
