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
});
