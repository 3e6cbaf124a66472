import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadFrameError, InvalidArgumentError, LimitExceededError } from "sockpool";
import { ProxyHeaderParser } from "../../src/codec/proxy-protocol.js";
import { TEST_TIMEOUT } from "../helpers/net.js";
import { everyChunking, parseChunks, parseEveryWay, throwsEveryWay, tlv, V2_SIGNATURE, v2 } from "../helpers/proxy.js";

const BAD = "ERR_SOCKPOOL_BAD_FRAME";
const LIMIT = "ERR_SOCKPOOL_LIMIT_EXCEEDED";
const line = (text: string) => Buffer.from(text, "latin1");
const badV1 = (text: string, ...fragments: string[]) => throwsEveryWay(line(text), BadFrameError, BAD, fragments);

describe("ProxyHeaderParser: signature", { timeout: TEST_TIMEOUT }, () => {
  it("answers null with every byte as the stream when the first byte starts neither signature", () => {
    const parser = new ProxyHeaderParser();
    const chunk = Buffer.from("GET / HTTP/1.1\r\n");
    const result = parser.push(chunk);
    assert.deepEqual(result, { header: null, rest: chunk });
    assert.ok(
      result?.rest.buffer === chunk.buffer && result.rest.byteOffset === chunk.byteOffset,
      "a view, not a copy",
    );
  });

  it("answers null at the first byte that leaves the v1 signature, returning the bytes held too", () => {
    for (const text of ["P", "PR", "PROX", "PROXY"]) {
      const parser = new ProxyHeaderParser();
      for (const b of Buffer.from(text)) assert.equal(parser.push(Buffer.from([b])), undefined, text);
      assert.equal(parser.pending, text.length);
      const result = parser.push(Buffer.from("!tail"));
      assert.equal(result?.header, null);
      assert.equal(result?.rest.toString(), `${text}!tail`);
      assert.equal(parser.pending, 0);
    }
  });

  it("answers null at the first byte that leaves the v2 signature, at any depth", () => {
    for (let depth = 1; depth < V2_SIGNATURE.length; depth++) {
      const input = Buffer.concat([V2_SIGNATURE.subarray(0, depth), Buffer.from([0xee, 1, 2])]);
      const got = parseEveryWay(input);
      assert.equal(got.header, null, `depth ${depth}`);
      assert.deepEqual(got.stream, input, `depth ${depth}`);
    }
  });

  it("answers null for a stream that starts with PROXY but not PROXY and a space", () => {
    assert.equal(parseEveryWay(line("PROXYX TCP4\r\n")).header, null);
  });

  it("waits without answering while the bytes still match a signature", () => {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(Buffer.alloc(0)), undefined);
    assert.equal(parser.push(V2_SIGNATURE), undefined);
    assert.equal(parser.pending, 12);
    assert.equal(parser.done, false);
  });

  it("throws InvalidArgumentError on a push after the result, and the same error again after a failure", () => {
    const parser = new ProxyHeaderParser();
    assert.ok(parser.push(Buffer.from("x")));
    assert.equal(parser.done, true);
    assert.throws(
      () => parser.push(Buffer.from("y")),
      (e: unknown) => e instanceof InvalidArgumentError && e.code === "ERR_SOCKPOOL_INVALID_ARGUMENT",
    );
    const failed = new ProxyHeaderParser();
    let first: unknown;
    assert.throws(
      () => failed.push(line("PROXY TCP9 \r\n")),
      (e: unknown) => (first = e) instanceof BadFrameError,
    );
    assert.throws(
      () => failed.push(line("more")),
      (e: unknown) => e === first,
    );
    assert.equal(failed.pending, 0, "nothing kept after a failure");
  });

  it("validates maxHeaderSize once, naming the value", () => {
    for (const bad of [0, 15, 65552, 1.5, "4096"]) {
      assert.throws(
        () => new ProxyHeaderParser({ maxHeaderSize: bad as number }),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.message.includes(`maxHeaderSize`) && e.message.includes(String(bad)),
        String(bad),
      );
    }
    assert.throws(() => new ProxyHeaderParser({ maxSize: 1 } as never), /unknown option "maxSize"/);
    assert.doesNotThrow(() => new ProxyHeaderParser({ maxHeaderSize: 65551 }));
  });
});

describe("ProxyHeaderParser: v1", { timeout: TEST_TIMEOUT }, () => {
  it("parses TCP4 at every split point and one byte at a time, leaving the rest to the stream", () => {
    const got = parseEveryWay(line("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"));
    assert.deepEqual(got.header, {
      version: 1,
      command: "proxy",
      family: "tcp4",
      transport: "stream",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
      tlvs: { raw: [] },
      length: 47,
    });
    assert.equal(got.stream.toString(), "GET / HTTP/1.1\r\n");
  });

  it("parses TCP6, printing addresses the way Node prints remoteAddress", () => {
    const got = parseEveryWay(line("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:10.0.0.1 0 65535\r\nX"));
    assert.equal(got.header?.family, "tcp6");
    assert.deepEqual(got.header?.source, { address: "2001:db8::1", port: 0 });
    assert.deepEqual(got.header?.destination, { address: "::ffff:10.0.0.1", port: 65535 });
    assert.equal(got.stream.toString(), "X");
  });

  it("parses UNKNOWN, short and long, as a PROXY command without addresses", () => {
    for (const text of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f::1 ffff:f::2 65535 65535\r\n"]) {
      const got = parseEveryWay(line(`${text}rest`));
      assert.deepEqual(got.header, {
        version: 1,
        command: "proxy",
        family: "unspec",
        transport: "unspec",
        source: undefined,
        destination: undefined,
        tlvs: { raw: [] },
        length: text.length,
      });
      assert.equal(got.stream.toString(), "rest");
    }
  });

  it("accepts the longest line the spec allows, 107 bytes", () => {
    const full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const text = `PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`;
    assert.equal(text.length, 107);
    assert.equal(parseEveryWay(line(text)).header?.length, 107);
    const tcp6 = parseEveryWay(line(`PROXY TCP6 ${full} ${full} 65535 65535\r\n`)).header;
    assert.deepEqual(tcp6?.source, { address: full, port: 65535 });
  });

  it("throws LimitExceededError at the 107th byte without a CRLF, however it arrives", () => {
    const long = line(`PROXY UNKNOWN ${"a".repeat(200)}`);
    const err = throwsEveryWay(long, LimitExceededError, LIMIT, ["PROXY v1 line", "107"]);
    assert.equal(err.limit, 107);
    assert.equal(err.consumed, 107);
    const parser = new ProxyHeaderParser();
    let fed = 0;
    assert.throws(() => {
      for (const b of long) {
        parser.push(Buffer.from([b]));
        fed++;
      }
    }, LimitExceededError);
    assert.equal(fed, 106, "the 107th byte is refused");
    // A CR as the 107th byte cannot end the line in time either.
    const cr = line(`PROXY UNKNOWN ${"a".repeat(92)}\r\n`);
    assert.equal(cr.length, 108);
    throwsEveryWay(cr, LimitExceededError, LIMIT, ["107"]);
  });

  it("refuses an unknown protocol, naming it", () => {
    badV1("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", 'PROXY v1 protocol "TCP5"');
    badV1("PROXY \r\n", 'PROXY v1 protocol ""');
    badV1("PROXY tcp4 1.2.3.4 1.2.3.4 1 2\r\n", '"tcp4"');
    badV1("PROXY UNKNOWNX\r\n", '"UNKNOWNX"');
  });

  it("refuses a TCP line without exactly four fields after the protocol", () => {
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", "has 5 fields, TCP4 needs 6");
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", "has 7 fields");
    badV1("PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n", "has 7 fields");
    badV1("PROXY TCP6\r\n", "has 2 fields, TCP6 needs 6");
  });

  it("refuses an address that does not match the family, naming it", () => {
    badV1("PROXY TCP4 ::1 1.2.3.4 1 2\r\n", 'PROXY v1 source address "::1" is not an IPv4 address');
    badV1("PROXY TCP4 1.2.3.4 256.0.0.1 1 2\r\n", 'destination address "256.0.0.1"');
    badV1("PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n", 'source address "01.2.3.4"');
    badV1("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 'PROXY v1 source address "1.2.3.4" is not an IPv6 address');
    badV1("PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n", 'destination address "fe80::1%eth0"');
    badV1("PROXY TCP6 ::1 1::2::3 1 2\r\n", '"1::2::3"');
  });

  it("refuses ports out of range or not plain decimal, naming them", () => {
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", 'PROXY v1 source port "65536" is out of range');
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1 99999999\r\n", 'destination port "99999999" is out of range');
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", 'source port "01" is not a decimal number');
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1 -2\r\n", 'destination port "-2"');
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 0x1 2\r\n", '"0x1"');
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1 \r\n", 'destination port ""');
  });

  it("refuses a bare LF, a CR without LF and control bytes before the CRLF, as soon as they arrive", () => {
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", "bare LF at offset 30");
    badV1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX", "CR followed by 0x58 at offset 31");
    badV1("PROXY UNKNOWN \x00\r\n", "non-printable byte 0x00 at offset 14");
    badV1("PROXY UNKNOWN \xff", "non-printable byte 0xFF");
    badV1("PROXY UNKNOWN \t\r\n", "0x09");
  });

  it("waits for the LF after a CR that ends a chunk", () => {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(line("PROXY UNKNOWN\r")), undefined);
    assert.deepEqual(parser.push(line("\nabc"))?.rest, line("abc"));
  });

  it("examines each byte of a trickled line once (no rescans)", () => {
    // 106 pushes of one byte each; a rescanning parser would make ~5,600 byte visits.
    const text = line(`PROXY UNKNOWN ${"f".repeat(90)}\r\n`);
    const chunks = everyChunking(text).at(-1)!.chunks;
    const got = parseChunks(chunks);
    assert.equal(got?.header?.length, text.length);
  });
});

describe("ProxyHeaderParser: v2 preamble and bounds", { timeout: TEST_TIMEOUT }, () => {
  it("checks the declared length against maxHeaderSize before buffering the body", () => {
    const header = v2(0x21, 0x11, Buffer.alloc(5000));
    const parser = new ProxyHeaderParser();
    assert.throws(
      () => parser.push(header.subarray(0, 16)),
      (e: unknown) =>
        e instanceof LimitExceededError &&
        e.code === LIMIT &&
        e.limit === 4096 &&
        e.consumed === 16 &&
        e.message.includes("declared 5016 bytes"),
    );
    throwsEveryWay(
      v2(0x21, 0x11, Buffer.alloc(100)),
      LimitExceededError,
      LIMIT,
      ["declared 116 bytes", "limit of 64"],
      {
        maxHeaderSize: 64,
      },
    );
  });

  it("accepts a header of exactly maxHeaderSize, and the largest the u16 allows when asked", () => {
    const exact = v2(0x21, 0x11, Buffer.concat([Buffer.alloc(12), tlv(0xe0, Buffer.alloc(4096 - 16 - 12 - 3))]));
    assert.equal(exact.length, 4096);
    assert.equal(parseChunks([exact])?.header?.length, 4096);
    const biggest = v2(0x20, 0x00, tlv(0xe0, Buffer.alloc(0xfffc)));
    assert.equal(biggest.length, 65551);
    assert.equal(parseChunks([biggest], { maxHeaderSize: 65551 })?.header?.tlvs.raw[0]?.value.length, 0xfffc);
  });

  it("never takes a byte past the declared length, whatever follows", () => {
    const header = v2(0x21, 0x11, "7f000001 7f000002 0001 0002");
    const tail = Buffer.concat([V2_SIGNATURE, line("PROXY UNKNOWN\r\n")]);
    const got = parseEveryWay(Buffer.concat([header, tail]));
    assert.equal(got.header?.length, 28);
    assert.deepEqual(got.stream, tail);
  });

  it("holds at most the header's bytes while it waits", () => {
    const header = v2(0x21, 0x11, "7f000001 7f000002 0001 0002");
    const parser = new ProxyHeaderParser();
    for (let i = 0; i < header.length - 1; i++) {
      assert.equal(parser.push(header.subarray(i, i + 1)), undefined);
      assert.equal(parser.pending, i + 1);
    }
    assert.ok(parser.push(header.subarray(-1)));
    assert.equal(parser.pending, 0);
  });
});
