import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadFrameError, LimitExceededError, type SockpoolError } from "sockpool";
import { decodeErrorPayload, encodeErrorPayload, encodeFrame, FrameDecoder, FrameKind } from "../../src/rpc/index.js";
import { TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };

function throwsTyped(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => SockpoolError,
  code: string,
  includes: string,
): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(includes), err.message);
    return true;
  });
}

describe("rpc frames", () => {
  it("lays a request out as length, kind, id, payload (the protocol document's example)", opts, () => {
    assert.equal(encodeFrame(FrameKind.request, 7, "hi").toString("hex"), "00000007" + "01" + "00000007" + "6869");
    assert.equal(encodeFrame(FrameKind.cancel, 0xffffffff).toString("hex"), "00000005" + "04" + "ffffffff");
  });

  it("decodes a stream of frames fed at every split point", opts, () => {
    const frames = [
      encodeFrame(FrameKind.request, 1, "alpha"),
      encodeFrame(FrameKind.reply, 2, Buffer.alloc(300, 7)),
      encodeFrame(FrameKind.ping, 3),
      encodeFrame(FrameKind.error, 4, encodeErrorPayload("ERR_X", "went wrong ✓")),
    ];
    const wire = Buffer.concat(frames);
    for (let a = 0; a <= wire.length; a++) {
      for (const b of [a, Math.min(wire.length, a + 1), Math.min(wire.length, a + 9)]) {
        const d = new FrameDecoder();
        const got = [...d.push(wire.subarray(0, a)), ...d.push(wire.subarray(a, b)), ...d.push(wire.subarray(b))];
        assert.deepEqual(
          got.map((f) => [f.kind, f.id, f.payload.length]),
          [
            [1, 1, 5],
            [2, 2, 300],
            [5, 3, 0],
            [3, 4, encodeErrorPayload("ERR_X", "went wrong ✓").length],
          ],
          `split at ${a}/${b}`,
        );
        assert.equal(d.pending, 0);
        const err = got[3];
        assert.ok(err);
        assert.deepEqual(decodeErrorPayload(err.payload), { code: "ERR_X", message: "went wrong ✓" });
      }
    }
  });

  it("rejects an unknown kind with BadFrameError naming it", opts, () => {
    const bad = Buffer.from("00000005" + "2a" + "00000001", "hex");
    throwsTyped(() => new FrameDecoder().push(bad), BadFrameError, "ERR_SOCKPOOL_BAD_FRAME", "kind 0x2a");
    const zero = Buffer.from("00000005" + "00" + "00000001", "hex");
    throwsTyped(() => new FrameDecoder().push(zero), BadFrameError, "ERR_SOCKPOOL_BAD_FRAME", "kind 0x00");
  });

  it("rejects a body too short for kind and id with BadFrameError", opts, () => {
    const short = Buffer.from("00000003" + "010000", "hex");
    throwsTyped(() => new FrameDecoder().push(short), BadFrameError, "ERR_SOCKPOOL_BAD_FRAME", "3 bytes");
  });

  it("rejects a declared length over the maximum before the body arrives, and stays poisoned", opts, () => {
    const d = new FrameDecoder(1024);
    const head = Buffer.from("00000401", "hex"); // 1025
    throwsTyped(() => d.push(head), LimitExceededError, "ERR_SOCKPOOL_LIMIT_EXCEEDED", "1024");
    throwsTyped(
      () => d.push(encodeFrame(FrameKind.ping, 1)),
      LimitExceededError,
      "ERR_SOCKPOOL_LIMIT_EXCEEDED",
      "1025",
    );
  });

  it("refuses to encode a frame over the maximum", opts, () => {
    throwsTyped(
      () => encodeFrame(FrameKind.request, 1, Buffer.alloc(100), 50),
      LimitExceededError,
      "ERR_SOCKPOOL_LIMIT_EXCEEDED",
      "105",
    );
  });

  it("rejects an error payload whose code length overruns it", opts, () => {
    throwsTyped(() => decodeErrorPayload(Buffer.from("00ff41", "hex")), BadFrameError, "ERR_SOCKPOOL_BAD_FRAME", "255");
    throwsTyped(() => decodeErrorPayload(Buffer.from("00", "hex")), BadFrameError, "ERR_SOCKPOOL_BAD_FRAME", "1 bytes");
  });

  it("turns random bytes into frames or typed errors only, never reading past a length", opts, () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let run = 0; run < 2000; run++) {
      const bytes = Buffer.alloc(4 + (rand() % 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rand() & 0xff;
      if (run % 2 === 0) bytes.writeUInt32BE(rand() % 40, 0); // plausible lengths too
      const d = new FrameDecoder(4096);
      try {
        for (let i = 0, step = 1; i < bytes.length; i += step, step = 1 + (rand() % 5)) {
          for (const f of d.push(bytes.subarray(i, i + step))) {
            assert.ok(f.kind >= 1 && f.kind <= 6);
            assert.ok(f.payload.length <= 4096 - 5);
          }
        }
      } catch (err) {
        assert.ok(err instanceof BadFrameError || err instanceof LimitExceededError, String(err));
      }
    }
  });
});
