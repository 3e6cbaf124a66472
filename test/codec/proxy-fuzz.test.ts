import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BadFrameError, LimitExceededError } from "sockpool";
import {
  encodeProxyHeader,
  type ProxyHeaderInit,
  ProxyHeaderParser,
  type ProxyParseResult,
} from "../../src/codec/proxy-protocol.js";
import { TEST_TIMEOUT } from "../helpers/net.js";
import { parseChunks, V2_SIGNATURE } from "../helpers/proxy.js";

const MAX = 512;

/** Cuts `input` at the given points (taken modulo its length). */
function cut(input: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of at) {
    chunks.push(input.subarray(prev, p));
    prev = p;
  }
  chunks.push(input.subarray(prev));
  return chunks;
}

type Outcome = { header: ProxyParseResult["header"]; stream: Buffer } | { error: Error } | "undecided";

/**
 * Feeds the chunks, checking after every push that the parser holds no more than its bound,
 * and returns what came out: a result (with the stream's bytes), a typed error, or nothing yet.
 */
function feed(chunks: readonly Buffer[]): Outcome {
  const parser = new ProxyHeaderParser({ maxHeaderSize: MAX });
  for (let i = 0; i < chunks.length; i++) {
    let result: ProxyParseResult | undefined;
    try {
      result = parser.push(chunks[i]!);
    } catch (error) {
      assert.ok(error instanceof BadFrameError || error instanceof LimitExceededError, `untyped: ${String(error)}`);
      assert.equal(parser.pending, 0);
      return { error };
    }
    assert.ok(parser.pending <= MAX, `holds ${parser.pending} bytes`);
    if (result) return { header: result.header, stream: Buffer.concat([result.rest, ...chunks.slice(i + 1)]) };
  }
  return "undecided";
}

/** The header's length as the input itself declares it: v1 up to the first CRLF, v2 16 + its u16. */
function declaredLength(input: Buffer, version: 1 | 2): number {
  return version === 1 ? input.indexOf("\r\n") + 2 : 16 + input.readUInt16BE(14);
}

/** Every outcome must be a typed error, undecided, or a result that takes exactly the header. */
function checkOutcome(input: Buffer, outcome: Outcome): void {
  if (outcome === "undecided" || "error" in outcome) return;
  if (outcome.header === null) {
    assert.deepEqual(outcome.stream, input, "null gives every byte back");
    return;
  }
  const length = declaredLength(input, outcome.header.version);
  assert.equal(outcome.header.length, length);
  assert.ok(length <= (outcome.header.version === 1 ? 107 : MAX));
  assert.deepEqual(outcome.stream, input.subarray(length), "nothing past the header is consumed");
}

/** Strips what makes outcomes differ only in identity, so two chunkings compare equal. */
function summary(outcome: Outcome): unknown {
  if (outcome === "undecided" || !("error" in outcome)) return outcome;
  return { error: outcome.error.constructor.name, message: outcome.error.message };
}

const anyBytes = fc.uint8Array({ maxLength: 700 }).map((a) => Buffer.from(a));
const printable = fc.string({ unit: fc.constantFrom(..." 0123456789abcdefTCPUNKOW.:\r\n"), maxLength: 120 });
const noCrlf = fc.string({ unit: fc.constantFrom(..." 0123456789abcdef.:UNKOW"), maxLength: 150 });
const prefixed = fc.oneof(
  anyBytes,
  printable.map((s) => Buffer.from(`PROXY ${s}`, "latin1")),
  noCrlf.map((s) => Buffer.from(`PROXY ${s}`, "latin1")),
  fc
    .tuple(
      fc.oneof(fc.constantFrom(0x20, 0x21), fc.nat(0xff)),
      fc.oneof(fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32), fc.nat(0xff)),
      fc.oneof(fc.nat(300), fc.nat(700)),
      anyBytes,
    )
    .map(([vc, fam, len, body]) => {
      const head = Buffer.concat([V2_SIGNATURE, Buffer.from([vc, fam, len >> 8, len & 0xff])]);
      return Buffer.concat([head, body]);
    }),
);
const splits = fc.array(fc.nat(), { maxLength: 8 });

const port = fc.integer({ min: 0, max: 0xffff });
const inet = (ip: fc.Arbitrary<string>) => fc.record({ address: ip, port });
const path = fc
  .string({ unit: "grapheme", maxLength: 40 })
  .filter((s) => !s.includes("\0") && Buffer.byteLength(s) <= 108);
const endpoints = fc.oneof(
  fc.tuple(inet(fc.ipV4()), inet(fc.ipV4())),
  fc.tuple(inet(fc.ipV6()), inet(fc.ipV6())),
  fc.tuple(fc.record({ path }), fc.record({ path })),
  fc.constant([undefined, undefined] as const),
);
const bytesOrText = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
);
const tlvs = fc.record(
  {
    alpn: bytesOrText,
    authority: fc.string({ unit: "grapheme", maxLength: 30 }),
    crc32c: fc.boolean(),
    uniqueId: fc.uint8Array({ maxLength: 128 }).map((a) => Buffer.from(a)),
    netns: fc.string({ maxLength: 10 }),
    noop: fc.nat(10),
    custom: fc.array(fc.record({ type: fc.integer({ min: 0xe0, max: 0xef }), value: bytesOrText }), { maxLength: 3 }),
    ssl: fc.record(
      {
        ssl: fc.boolean(),
        certConn: fc.boolean(),
        verify: fc.nat(),
        version: fc.string({ maxLength: 8 }),
        cn: fc.string({ unit: "grapheme" }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const v2Init: fc.Arbitrary<ProxyHeaderInit> = fc
  .tuple(endpoints, fc.constantFrom("proxy", "local"), fc.constantFrom("stream", "dgram", "unspec"), tlvs)
  .map(([[source, destination], command, transport, t]) => ({
    version: 2,
    command,
    transport,
    source,
    destination,
    tlvs: t,
  }));
const v1Init: fc.Arbitrary<ProxyHeaderInit> = fc
  .oneof(fc.tuple(inet(fc.ipV4()), inet(fc.ipV4())), fc.tuple(inet(fc.ipV6()), inet(fc.ipV6())), fc.constant([]))
  .map(([source, destination]) => ({ version: 1, source, destination }));
const validHeader = fc.oneof(v1Init, v2Init).map((init) => encodeProxyHeader(init));

type Mutation = { kind: "set" | "insert"; at: number; byte: number } | { kind: "drop" | "truncate"; at: number };

/** One edit of a valid header: overwrite a byte, drop one, insert one, or cut the header short. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom("set" as const, "insert" as const), at: fc.nat(), byte: fc.nat(0xff) }),
  fc.record({ kind: fc.constantFrom("drop" as const, "truncate" as const), at: fc.nat() }),
);

function mutate(input: Buffer, edits: readonly Mutation[]): Buffer {
  let out = Buffer.from(input);
  for (const edit of edits) {
    const at = edit.at % (out.length + 1);
    if (edit.kind === "set" && at < out.length) out[at] = edit.byte;
    else if (edit.kind === "insert")
      out = Buffer.concat([out.subarray(0, at), Buffer.from([edit.byte]), out.subarray(at)]);
    else if (edit.kind === "drop") out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else if (edit.kind === "truncate") out = out.subarray(0, at);
  }
  return out;
}

describe("ProxyHeaderParser: fuzzing", { timeout: TEST_TIMEOUT }, () => {
  it("property: random bytes, split anywhere, give a header, null or a typed error, the same for any split", () => {
    fc.assert(
      fc.property(prefixed, splits, splits, (input, a, b) => {
        const first = feed(cut(input, a));
        checkOutcome(input, first);
        assert.deepEqual(summary(feed(cut(input, b))), summary(first));
      }),
      { numRuns: 3000 },
    );
  });

  it("property: mutated valid headers with a tail, split anywhere, never give anything else", () => {
    fc.assert(
      fc.property(
        validHeader,
        fc.array(mutation, { maxLength: 3 }),
        anyBytes,
        splits,
        (header, edits, tail, points) => {
          const input = Buffer.concat([mutate(header, edits), tail]);
          const outcome = feed(cut(input, points));
          checkOutcome(input, outcome);
          assert.deepEqual(summary(feed([input])), summary(outcome));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("property: any header the encoder writes parses back to what was asked, the tail untouched", () => {
    fc.assert(
      fc.property(fc.oneof(v1Init, v2Init), anyBytes, splits, (init, tail, points) => {
        const bytes = encodeProxyHeader(init);
        const got = parseChunks(cut(Buffer.concat([bytes, tail]), points), { maxHeaderSize: 65551 });
        assert.ok(got?.header, "a header");
        assert.deepEqual(got.stream, tail);
        const { header } = got;
        assert.equal(header.length, bytes.length);
        assert.equal(header.command, init.command ?? "proxy");
        const addressed = header.command === "proxy" && init.source !== undefined;
        assert.deepEqual(header.source, addressed ? canonical(init.source!) : undefined);
        assert.deepEqual(header.destination, addressed ? canonical(init.destination!) : undefined);
        if (init.tlvs?.authority !== undefined) assert.equal(header.tlvs.authority, init.tlvs.authority);
        if (init.tlvs?.ssl?.cn !== undefined) assert.equal(header.tlvs.ssl?.cn, init.tlvs.ssl.cn);
        if (init.tlvs?.uniqueId !== undefined) assert.deepEqual(header.tlvs.uniqueId, Buffer.from(init.tlvs.uniqueId));
        assert.equal(header.tlvs.crc32c !== undefined, init.tlvs?.crc32c === true);
      }),
      { numRuns: 1000 },
    );
  });
});

/** An address as the parser prints it: IPv6 the way Node does. */
function canonical(address: NonNullable<ProxyHeaderInit["source"]>): unknown {
  if ("path" in address) return { path: address.path };
  const { port } = address;
  if (!net.isIPv6(address.address)) return { address: address.address, port };
  return { address: new net.SocketAddress({ address: address.address, family: "ipv6" }).address, port };
}
