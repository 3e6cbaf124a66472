import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ReadBuffer } from "../../src/connection/read-buffer.js";

function fed(...parts: string[]): ReadBuffer {
  const b = new ReadBuffer();
  for (const p of parts) b.feed(Buffer.from(p));
  return b;
}

describe("ReadBuffer", () => {
  it("takes across chunks and counts size", () => {
    const b = fed("ab", "cd", "e");
    assert.equal(b.size, 5);
    assert.equal(b.take(3).toString(), "abc");
    assert.equal(b.size, 2);
    assert.equal(b.takeAll().toString(), "de");
    assert.equal(b.size, 0);
    assert.equal(b.take(1).length, 0);
  });

  it("takeChunk returns the first chunk itself (no copy), take joins", () => {
    const b = new ReadBuffer();
    const chunk = Buffer.from("hello");
    b.feed(chunk);
    b.feed(Buffer.from("world"));
    assert.equal(b.takeChunk(100), chunk);
    assert.equal(b.takeChunk(3).toString(), "wor");
    b.feed(Buffer.from("!"));
    assert.equal(b.take(100).toString(), "ld!");
  });

  it("finds a multi-byte separator at every split point", () => {
    const text = "xx\r\n\r\nyy";
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const b = fed(text.slice(0, i), text.slice(i, j), text.slice(j));
        assert.equal(b.indexOf(Buffer.from("\r\n\r\n")), 2, `split ${i},${j}`);
      }
    }
  });

  it("does not report a separator before bytes it already scanned", () => {
    const b = fed("abc");
    const sep = Buffer.from("cd");
    assert.equal(b.indexOf(sep), -1);
    b.feed(Buffer.from("d"));
    assert.equal(b.indexOf(sep), 2);
  });

  it("ignores feeds after EOF and keeps the first error", () => {
    const b = fed("a");
    b.feedEof();
    b.feed(Buffer.from("b"));
    assert.equal(b.size, 1);
    b.feedError(new Error("one"));
    b.feedError(new Error("two"));
    assert.equal(b.error?.message, "one");
    assert.equal(b.ended, true);
  });

  it("property: indexOf agrees with Buffer.indexOf on the joined bytes, fed incrementally", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 12 }),
        fc.uint8Array({ minLength: 1, maxLength: 3 }),
        (chunks, sepBytes) => {
          const sep = Buffer.from(sepBytes);
          const b = new ReadBuffer();
          const joined: Buffer[] = [];
          for (const c of chunks) {
            b.feed(Buffer.from(c));
            joined.push(Buffer.from(c));
            assert.equal(b.indexOf(sep), Buffer.concat(joined).indexOf(sep));
          }
        },
      ),
    );
  });

  it("property: any interleaving of feed/take/takeChunk/takeString/indexOf matches a flat model", () => {
    const op = fc.oneof(
      fc.record({ feed: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
      fc.record({ take: fc.nat(12) }),
      fc.record({ chunk: fc.integer({ min: 1, max: 12 }) }),
      fc.record({ str: fc.nat(12) }),
      fc.record({ find: fc.uint8Array({ minLength: 1, maxLength: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const b = new ReadBuffer();
        let model = Buffer.alloc(0);
        for (const o of ops) {
          if ("feed" in o) {
            b.feed(Buffer.from(o.feed));
            model = Buffer.concat([model, Buffer.from(o.feed)]);
          } else if ("take" in o) {
            const n = Math.min(o.take, model.length);
            assert.deepEqual(b.take(o.take), model.subarray(0, n));
            model = model.subarray(n);
          } else if ("chunk" in o) {
            const got = b.takeChunk(o.chunk);
            assert.ok(got.length <= o.chunk && (got.length > 0 || model.length === 0));
            assert.deepEqual(got, model.subarray(0, got.length));
            model = model.subarray(got.length);
          } else if ("str" in o) {
            const n = Math.min(o.str, model.length);
            const drop = n > 0 ? 1 : 0;
            assert.equal(b.takeString(n, drop), model.toString("utf8", 0, n - drop));
            model = model.subarray(n);
          } else {
            assert.equal(b.indexOf(Buffer.from(o.find)), model.indexOf(Buffer.from(o.find)));
          }
          assert.equal(b.size, model.length);
          if (model.length > 0) assert.equal(b.byteAt(model.length - 1), model[model.length - 1]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
