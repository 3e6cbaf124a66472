import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadFrameError } from "sockpool";
import { crc32c } from "../../src/internal/crc32c.js";
import { TEST_TIMEOUT } from "../helpers/net.js";
import { hexBytes, parseEveryWay, throwsEveryWay, tlv, v2 } from "../helpers/proxy.js";

const BAD = "ERR_SOCKPOOL_BAD_FRAME";
const bad = (input: Buffer, ...fragments: string[]) => throwsEveryWay(input, BadFrameError, BAD, fragments);

/** TCP over IPv4, 192.168.0.1:56324 → 192.168.0.11:443, laid out as in the spec's section 2.2. */
const SPEC_TCP4 = hexBytes(`
  0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a  // signature: \\r\\n\\r\\n\\0\\r\\nQUIT\\n
  21                                   // version 2 (high nibble), command PROXY (low nibble)
  11                                   // AF_INET (high nibble), STREAM (low nibble)
  00 0c                                // 12 bytes follow: the ipv4_addr block
  c0 a8 00 01                          // src_addr 192.168.0.1
  c0 a8 00 0b                          // dst_addr 192.168.0.11
  dc 04                                // src_port 56324
  01 bb                                // dst_port 443
`);

/** What HAProxy 2.6.12 sent (captured on loopback), with `send-proxy-v2 proxy-v2-options crc32c,unique-id`. */
const HAPROXY_CHECK = hexBytes("0d0a0d0a000d0a515549540a 20 00 0007 030004a9b87e8f");
const HAPROXY_PROXY = hexBytes(`
  0d0a0d0a000d0a515549540a 21 11 0023 7f000002 7f000001 8ebf 91df
  03 0004 def8b7e0                     // CRC32C
  05 000d 6162632d3132372e302e302e32   // unique id "abc-127.0.0.2" (unique-id-format abc-%ci)
`);

const IPV4_BLOCK = "7f000001 0a000002 1f90 0050"; // 127.0.0.1:8080 → 10.0.0.2:80
const IPV6_BLOCK = `20010db8000000000000000000000001 00000000000000000000ffff0a000002 1f90 0050`;
function unixBlock(source: string, destination: string): Buffer {
  const block = Buffer.alloc(216);
  block.write(source, 0, 108, "utf8");
  block.write(destination, 108, 108, "utf8");
  return block;
}

describe("PROXY v2: addresses, commands, families, transports", { timeout: TEST_TIMEOUT }, () => {
  it("reads the spec-layout vector written byte for byte", () => {
    const got = parseEveryWay(Buffer.concat([SPEC_TCP4, Buffer.from("GET /")]));
    assert.deepEqual(got.header, {
      version: 2,
      command: "proxy",
      family: "tcp4",
      transport: "stream",
      source: { address: "192.168.0.1", port: 56324 },
      destination: { address: "192.168.0.11", port: 443 },
      tlvs: { raw: [] },
      length: 28,
    });
    assert.equal(got.stream.toString(), "GET /");
  });

  it("reads HAProxy's health check (LOCAL, UNSPEC) and relayed connection, CRC32C verified", () => {
    const check = parseEveryWay(HAPROXY_CHECK);
    assert.equal(check.header?.command, "local");
    assert.equal(check.header?.family, "unspec");
    assert.equal(check.header?.source, undefined);
    assert.equal(check.header?.tlvs.crc32c, 0xa9b87e8f);
    const relayed = parseEveryWay(Buffer.concat([HAPROXY_PROXY, Buffer.from("hello")]));
    assert.deepEqual(relayed.header?.source, { address: "127.0.0.2", port: 36543 });
    assert.deepEqual(relayed.header?.destination, { address: "127.0.0.1", port: 37343 });
    assert.equal(relayed.header?.tlvs.uniqueId?.toString(), "abc-127.0.0.2");
    assert.equal(relayed.stream.toString(), "hello");
  });

  it("reads every family with every transport under PROXY", () => {
    const transports = ["unspec", "stream", "dgram"] as const;
    transports.forEach((transport, t) => {
      const tcp4 = parseEveryWay(v2(0x21, 0x10 | t, IPV4_BLOCK)).header!;
      assert.deepEqual([tcp4.family, tcp4.transport], ["tcp4", transport]);
      assert.deepEqual(tcp4.source, { address: "127.0.0.1", port: 8080 });
      assert.deepEqual(tcp4.destination, { address: "10.0.0.2", port: 80 });
      const tcp6 = parseEveryWay(v2(0x21, 0x20 | t, IPV6_BLOCK)).header!;
      assert.deepEqual([tcp6.family, tcp6.transport], ["tcp6", transport]);
      assert.deepEqual(tcp6.source, { address: "2001:db8::1", port: 8080 });
      assert.deepEqual(tcp6.destination, { address: "::ffff:10.0.0.2", port: 80 });
      const unix = parseEveryWay(v2(0x21, 0x30 | t, unixBlock("/run/a.sock", "/run/b.sock"))).header!;
      assert.deepEqual([unix.family, unix.transport], ["unix", transport]);
      assert.deepEqual([unix.source, unix.destination], [{ path: "/run/a.sock" }, { path: "/run/b.sock" }]);
      const unspec = parseEveryWay(v2(0x21, t)).header!;
      assert.deepEqual([unspec.family, unspec.transport, unspec.source], ["unspec", transport, undefined]);
    });
  });

  it("reads UNIX paths: abstract names keep their NUL, unnamed is empty, 108 bytes need no NUL", () => {
    const abstract = parseEveryWay(v2(0x21, 0x31, unixBlock("\0hidden", ""))).header!;
    assert.deepEqual([abstract.source, abstract.destination], [{ path: "\0hidden" }, { path: "" }]);
    const full = "/".repeat(108);
    assert.deepEqual(parseEveryWay(v2(0x21, 0x32, unixBlock(full, "/x"))).header?.source, { path: full });
    const latin = Buffer.alloc(216);
    latin[0] = 0xff;
    bad(v2(0x21, 0x31, latin), "PROXY v2 source UNIX path is not valid UTF-8: ff");
  });

  it("accepts LOCAL with any address block, without addresses, TLVs after a whole block", () => {
    for (const family of [0x00, 0x11, 0x21, 0x31]) {
      const empty = parseEveryWay(v2(0x20, family)).header!;
      assert.equal(empty.command, "local");
      assert.deepEqual([empty.source, empty.destination, empty.tlvs.raw], [undefined, undefined, []]);
    }
    const withBlock = parseEveryWay(v2(0x20, 0x11, Buffer.concat([hexBytes(IPV4_BLOCK), tlv(0x02, "lb")]))).header!;
    assert.deepEqual([withBlock.family, withBlock.source, withBlock.tlvs.authority], ["tcp4", undefined, "lb"]);
    const short = parseEveryWay(v2(0x20, 0x21, hexBytes("01 0000 02 0000"))).header!;
    assert.deepEqual(short.tlvs.raw, [], "a block cut short is ignored whole, not read as TLVs");
  });

  it("reads TLVs straight after the preamble for PROXY with AF_UNSPEC", () => {
    const got = parseEveryWay(v2(0x21, 0x00, tlv(0x02, "example.com"))).header!;
    assert.deepEqual([got.source, got.tlvs.authority], [undefined, "example.com"]);
  });

  it("refuses a bad version, command, family or transport nibble, naming it", () => {
    bad(v2(0x11, 0x11, IPV4_BLOCK), "PROXY v2 version 0x01 is not 0x02");
    bad(v2(0x31, 0x11, IPV4_BLOCK), "version 0x03");
    bad(v2(0x22, 0x11, IPV4_BLOCK), "PROXY v2 command 0x02 is not LOCAL (0x00) or PROXY (0x01)");
    bad(v2(0x2f, 0x11, IPV4_BLOCK), "command 0x0F");
    bad(v2(0x21, 0x41, IPV4_BLOCK), "PROXY v2 address family 0x04");
    bad(v2(0x21, 0x13, IPV4_BLOCK), "PROXY v2 transport 0x03");
    bad(v2(0x20, 0xf0), "address family 0x0F"); // even for LOCAL
  });

  it("refuses a PROXY length too short for the family's address block", () => {
    bad(v2(0x21, 0x11, Buffer.alloc(11)), "PROXY v2 length 11 is too short for the tcp4 address block (12 bytes)");
    bad(v2(0x21, 0x22, Buffer.alloc(35)), "length 35 is too short for the tcp6 address block (36 bytes)");
    bad(v2(0x21, 0x31, Buffer.alloc(215)), "length 215 is too short for the unix address block (216 bytes)");
  });
});

describe("PROXY v2: TLVs", { timeout: TEST_TIMEOUT }, () => {
  const withTlvs = (...tlvs: Buffer[]) => v2(0x21, 0x11, Buffer.concat([hexBytes(IPV4_BLOCK), ...tlvs]));

  it("reads every registered TLV and keeps every TLV, NOOP and unknown ones included, in order", () => {
    const id = Buffer.alloc(128, 7);
    const input = withTlvs(
      tlv(0x01, "h2"),
      tlv(0x04, Buffer.alloc(2)),
      tlv(0x02, "例え.jp"),
      tlv(0x05, id),
      tlv(0x30, "blue"),
      tlv(0xe0, "custom"),
      tlv(0x04, ""),
      tlv(0x10, Buffer.from([1, 2])),
    );
    const { tlvs } = parseEveryWay(input).header!;
    assert.deepEqual(tlvs.alpn, Buffer.from("h2"));
    assert.equal(tlvs.authority, "例え.jp");
    assert.deepEqual(tlvs.uniqueId, id);
    assert.equal(tlvs.netns, "blue");
    assert.equal(tlvs.crc32c, undefined);
    assert.deepEqual(
      tlvs.raw.map((t) => [t.type, t.value.length]),
      [
        [0x01, 2],
        [0x04, 2],
        [0x02, 9],
        [0x05, 128],
        [0x30, 4],
        [0xe0, 6],
        [0x04, 0],
        [0x10, 2],
      ],
    );
  });

  it("reads the SSL TLV: client bits, verify and every sub-field", () => {
    const subs = [
      tlv(0x21, "TLSv1.3"),
      tlv(0x22, "client.example"),
      tlv(0x23, "TLS_AES_128_GCM_SHA256"),
      tlv(0x24, "RSA-SHA256"),
      tlv(0x25, "RSA2048"),
      tlv(0x26, "x25519"),
      tlv(0x27, "rsa_pss_rsae_sha256"),
      tlv(0x28, Buffer.from([0x30, 0x82])),
      tlv(0x99, "future"),
    ];
    const ssl = Buffer.concat([hexBytes("07 00000000"), ...subs]);
    const got = parseEveryWay(withTlvs(tlv(0x20, ssl))).header!.tlvs.ssl!;
    assert.deepEqual(
      { ...got, raw: got.raw.map((t) => t.type) },
      {
        client: 7,
        ssl: true,
        certConn: true,
        certSess: true,
        verify: 0,
        version: "TLSv1.3",
        cn: "client.example",
        cipher: "TLS_AES_128_GCM_SHA256",
        sigAlg: "RSA-SHA256",
        keyAlg: "RSA2048",
        group: "x25519",
        sigScheme: "rsa_pss_rsae_sha256",
        clientCert: Buffer.from([0x30, 0x82]),
        raw: [0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x99],
      },
    );
    const bare = parseEveryWay(withTlvs(tlv(0x20, hexBytes("0a 00000013")))).header!.tlvs.ssl!;
    assert.deepEqual([bare.client, bare.ssl, bare.certConn, bare.certSess, bare.verify], [10, false, true, false, 19]);
  });

  it("verifies a good CRC32C and refuses a bad one, naming both values", () => {
    const zeroed = withTlvs(tlv(0x03, Buffer.alloc(4)), tlv(0x02, "a"));
    const sum = crc32c(zeroed);
    const good = Buffer.from(zeroed);
    good.writeUInt32BE(sum, 16 + 12 + 3);
    assert.equal(parseEveryWay(good).header?.tlvs.crc32c, sum);
    // A changed family byte (TCP → UDP, still valid), address byte or TLV byte.
    for (const [at, value] of [
      [13, 0x12],
      [20, 0xaa],
      [good.length - 1, 0x62],
    ] as const) {
      const changed = Buffer.from(good);
      changed[at] = value;
      bad(changed, `PROXY v2 CRC32C 0x${sum.toString(16).padStart(8, "0")} does not match`);
    }
    const tampered = Buffer.from(HAPROXY_PROXY);
    tampered[19] = 3; // 127.0.0.2 → 127.0.0.3
    bad(tampered, "CRC32C 0xdef8b7e0 does not match the header's checksum 0x");
  });

  it("refuses a CRC32C TLV that is not 4 bytes", () => {
    bad(withTlvs(tlv(0x03, Buffer.alloc(3))), "PROXY v2 CRC32C TLV has 3 bytes, not 4");
    bad(withTlvs(tlv(0x03, Buffer.alloc(5))), "has 5 bytes, not 4");
  });

  it("refuses TLVs that overrun the header or are cut short, naming the offset", () => {
    bad(withTlvs(hexBytes("02 0005 6162")), "PROXY v2 TLV 0x02 at offset 28 declares 5 bytes but only 2 remain");
    bad(withTlvs(hexBytes("02 00")), "PROXY v2 TLV at offset 28 is cut short: 2 bytes left");
    bad(withTlvs(tlv(0x01, "h2"), hexBytes("e0")), "at offset 33 is cut short: 1 bytes left");
  });

  it("refuses a unique id over 128 bytes and a repeated registered TLV", () => {
    bad(withTlvs(tlv(0x05, Buffer.alloc(129))), "PROXY v2 unique id TLV has 129 bytes, more than 128");
    bad(withTlvs(tlv(0x01, "a"), tlv(0x01, "b")), "PROXY v2 ALPN TLV 0x01 appears more than once");
    bad(withTlvs(tlv(0x30, "a"), tlv(0x30, "a")), "netns TLV 0x30 appears more than once");
    const twoCns = Buffer.concat([hexBytes("01 00000000"), tlv(0x22, "a"), tlv(0x22, "b")]);
    bad(withTlvs(tlv(0x20, twoCns)), "PROXY v2 SSL cn TLV 0x22 appears more than once");
    assert.equal(parseEveryWay(withTlvs(tlv(0xe0, "a"), tlv(0xe0, "b"))).header?.tlvs.raw.length, 2);
  });

  it("refuses a malformed SSL TLV: too short, or sub-TLVs overrunning it", () => {
    bad(withTlvs(tlv(0x20, hexBytes("01 000000"))), "PROXY v2 SSL TLV has 4 bytes, fewer than the 5");
    const overrun = Buffer.concat([hexBytes("01 00000000"), hexBytes("21 0009 544c53")]);
    bad(withTlvs(tlv(0x20, overrun)), "PROXY v2 SSL sub-TLV 0x21 at offset 36 declares 9 bytes but only 3 remain");
    const cut = Buffer.concat([hexBytes("01 00000000 21")]);
    bad(withTlvs(tlv(0x20, cut)), "SSL sub-TLV at offset 36 is cut short");
  });

  it("keeps a leading byte order mark in strings", () => {
    assert.equal(parseEveryWay(withTlvs(tlv(0x02, "\ufeffhost"))).header?.tlvs.authority, "\ufeffhost");
  });

  it("refuses strings that are not UTF-8, showing their bytes", () => {
    bad(withTlvs(tlv(0x02, Buffer.from([0x61, 0xc3]))), "PROXY v2 authority TLV is not valid UTF-8: 61c3");
    bad(withTlvs(tlv(0x30, Buffer.from([0xff]))), "netns TLV is not valid UTF-8: ff");
    bad(withTlvs(tlv(0x02, Buffer.alloc(40, 0xff))), `UTF-8: ${"ff".repeat(32)}… (40 bytes)`);
    const sslBad = Buffer.concat([hexBytes("01 00000000"), tlv(0x21, Buffer.from([0xfe]))]);
    bad(withTlvs(tlv(0x20, sslBad)), "SSL version TLV is not valid UTF-8: fe");
  });
});
