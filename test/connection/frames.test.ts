import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  connect,
  IncompleteReadError,
  InvalidArgumentError,
  LimitExceededError,
  lengthPrefixedCodec,
  lineCodec,
  ReadTimeoutError,
} from "sockpool";
import { assertNoOpenSockets, rawServer, rejectsWith, TEST_TIMEOUT } from "../helpers/net.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const codec = lengthPrefixedCodec({ header: 2, maxFrameSize: 64 });
const frames = (...payloads: string[]) => Buffer.concat(payloads.map((p) => codec.encode(p)));

describe("Connection frames through a codec's decoder", () => {
  it("readFrame hands out frames one by one, across chunk boundaries, then null at EOF", opts, async (t) => {
    const wire = frames("one", "two", "three", "four");
    const srv = await rawServer(t, (s) => {
      s.write(wire.subarray(0, 20)); // three frames and part of the fourth
      setImmediate(() => s.end(wire.subarray(20)));
    });
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const decoder = codec.decoder();
    const got: (string | null)[] = [];
    for (let f = await c.readFrame(decoder); f !== null; f = await c.readFrame(decoder)) got.push(f.toString());
    assert.deepEqual(got, ["one", "two", "three", "four"]);
    assert.equal(await c.readFrame(decoder), null, "null again at EOF");
  });

  it("readFrames hands out every complete frame at once, one promise per batch", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.write(frames("a", "b", "c")));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const batch = await c.readFrames(codec.decoder());
    assert.deepEqual(
      batch.map((f) => f.toString()),
      ["a", "b", "c"],
    );
  });

  it("frames() yields batches until EOF, with a line codec too", opts, async (t) => {
    const srv = await rawServer(t, (s) => {
      s.write("alpha\nbeta\ngam");
      setImmediate(() => s.end("ma\ndelta\n"));
    });
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const lines: string[] = [];
    for await (const batch of c.frames(lineCodec().decoder())) for (const l of batch) lines.push(l.toString());
    assert.deepEqual(lines, ["alpha", "beta", "gamma", "delta"]);
  });

  it("rejects with IncompleteReadError holding the partial frame at EOF inside one", opts, async (t) => {
    const wire = frames("whole", "cut short");
    const srv = await rawServer(t, (s) => s.end(wire.subarray(0, wire.length - 3)));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const decoder = codec.decoder();
    assert.equal((await c.readFrame(decoder))?.toString(), "whole");
    const err = (await rejectsWith(
      c.readFrame(decoder),
      IncompleteReadError,
      "ERR_SOCKPOOL_INCOMPLETE_READ",
    )) as IncompleteReadError;
    assert.equal(err.partial.length, 2 + "cut short".length - 3);
    assert.equal(err.peer, srv.endpoint);
  });

  it("rejects an oversized frame with the decoder's LimitExceededError and marks the stream dirty", opts, async (t) => {
    const head = Buffer.alloc(2);
    head.writeUInt16BE(1000);
    const srv = await rawServer(t, (s) => s.write(head));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await rejectsWith(c.readFrame(codec.decoder()), LimitExceededError, "ERR_SOCKPOOL_LIMIT_EXCEEDED", "1000");
    assert.equal(c.dirty, true);
  });

  it("refuses a byte read, or another decoder, while decoded frames wait", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.write(frames("x", "y")));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    const decoder = codec.decoder();
    assert.equal((await c.readFrame(decoder))?.toString(), "x");
    await rejectsWith(c.readLine(), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT", "frames wait");
    await rejectsWith(
      c.readFrame(codec.decoder()),
      InvalidArgumentError,
      "ERR_SOCKPOOL_INVALID_ARGUMENT",
      "another decoder",
    );
    assert.deepEqual((await c.readFrames(decoder)).map(String), ["y"], "readFrames takes the rest of the batch");
  });

  it("times out a frame that does not complete", opts, async (t) => {
    const srv = await rawServer(t, (s) => s.write(codec.encode("never finished").subarray(0, 5)));
    const c = await connect(srv.endpoint);
    t.after(() => c.destroy());
    await rejectsWith(c.readFrame(codec.decoder(), { timeout: 20 }), ReadTimeoutError, "ERR_SOCKPOOL_READ_TIMEOUT");
    assert.equal(c.dirty, true);
  });
});
