import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError, LimitExceededError, lengthPrefixedCodec } from "sockpool";

describe("lengthPrefixedCodec", () => {
  for (const header of [2, 4] as const) {
    it(`u${header * 8}: decodes frames at every split point`, () => {
      const c = lengthPrefixedCodec({ header });
      const frames = ["", "a", "hello", "x".repeat(300)];
      const input = Buffer.concat(frames.map((f) => c.encode(f)));
      for (let i = 0; i <= input.length; i++) {
        const d = c.decoder();
        const got = [...d.push(input.subarray(0, i)), ...d.push(input.subarray(i))].map(String);
        assert.deepEqual(got, frames, `split at ${i}`);
        assert.equal(d.pending, 0);
      }
    });

    it(`u${header * 8}: property: any frames, any chunking, same frames`, () => {
      const c = lengthPrefixedCodec({ header, maxFrameSize: 2000 });
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 15 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          (frames, cuts) => {
            const input = Buffer.concat(frames.map((f) => c.encode(f)));
            const points = [...new Set(cuts.map((x) => x % (input.length + 1)))].sort((a, b) => a - b);
            const d = c.decoder();
            const out: Buffer[] = [];
            let prev = 0;
            for (const p of [...points, input.length]) {
              out.push(...d.push(input.subarray(prev, p)));
              prev = p;
            }
            assert.deepEqual(
              out.map((b) => Buffer.from(b).toString("hex")),
              frames.map((f) => Buffer.from(f).toString("hex")),
            );
          },
        ),
      );
    });
  }

  it("rejects a declared length over the maximum before buffering the payload", () => {
    const d = lengthPrefixedCodec({ maxFrameSize: 100 }).decoder();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(10 * 1024 * 1024);
    assert.throws(
      () => d.push(head),
      (err: unknown) => err instanceof LimitExceededError && err.consumed === 10 * 1024 * 1024 && err.limit === 100,
    );
    assert.equal(d.pending, 0);
    assert.throws(() => d.push(Buffer.alloc(1)), LimitExceededError, "stays poisoned");
  });

  it("refuses to encode a frame over the maximum", () => {
    assert.throws(() => lengthPrefixedCodec({ maxFrameSize: 3 }).encode("abcd"), LimitExceededError);
  });

  it("rejects a header width other than 2 or 4", () => {
    assert.throws(() => lengthPrefixedCodec({ header: 3 as 2 }), InvalidArgumentError);
    assert.throws(
      () => lengthPrefixedCodec({ maxFrameSize: -1 }),
      (e: unknown) => e instanceof InvalidArgumentError && /maxFrameSize.*got -1/.test(e.message),
    );
  });

  it("property: garbage yields frames within the maximum or LimitExceededError, never over-reads", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const d = lengthPrefixedCodec({ header: 2, maxFrameSize: 50 }).decoder();
        let total = 0;
        let out = 0;
        try {
          for (const c of chunks) {
            total += c.length;
            for (const f of d.push(Buffer.from(c))) {
              assert.ok(f.length <= 50);
              out += f.length + 2;
            }
          }
          assert.equal(out + d.pending, total, "every byte is in a frame or pending");
        } catch (err) {
          assert.ok(err instanceof LimitExceededError, String(err));
        }
      }),
    );
  });
});
