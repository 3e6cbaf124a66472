import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { crc32c } from "../../src/internal/crc32c.js";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "../../src/internal/ip.js";
import { TEST_TIMEOUT } from "../helpers/net.js";

describe("ip", { timeout: TEST_TIMEOUT }, () => {
  it("parses and prints IPv4", () => {
    assert.deepEqual(parseIPv4("192.168.0.11"), Uint8Array.from([192, 168, 0, 11]));
    for (const bad of ["192.168.0", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", "::1", ""])
      assert.equal(parseIPv4(bad), undefined, bad);
    assert.equal(formatIPv4(Uint8Array.from([0, 10, 0, 0, 2]), 1), "10.0.0.2");
  });

  it("parses IPv6 in every shorthand and refuses zone ids and IPv4", () => {
    const loopback = new Uint8Array(16);
    loopback[15] = 1;
    assert.deepEqual(parseIPv6("::1"), loopback);
    assert.deepEqual(parseIPv6("0:0:0:0:0:0:0:1"), loopback);
    assert.deepEqual(parseIPv6("::0.0.0.1"), loopback);
    assert.deepEqual([...parseIPv6("::ffff:10.0.0.2")!.subarray(10)], [0xff, 0xff, 10, 0, 0, 2]);
    assert.deepEqual([...parseIPv6("2001:DB8::")!.subarray(0, 4)], [0x20, 0x01, 0x0d, 0xb8]);
    for (const bad of ["fe80::1%eth0", "1.2.3.4", "1::2::3", ":::", "12345::", ""])
      assert.equal(parseIPv6(bad), undefined, bad);
  });

  it("prints IPv6 the way Node prints remoteAddress", () => {
    const cases: [string, string][] = [
      ["0:0:0:0:0:0:0:0", "::"],
      ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"],
      ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
      ["1:0:0:0:1:0:0:1", "1::1:0:0:1"],
      ["0:0:0:0:0:ffff:a00:2", "::ffff:10.0.0.2"],
      ["::2:3", "::0.2.0.3"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ];
    for (const [input, printed] of cases) assert.equal(formatIPv6(parseIPv6(input)!), printed, input);
  });

  it("property: formatIPv6 matches net.SocketAddress and parseIPv6 inverts it", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = formatIPv6(bytes);
        assert.equal(text, new net.SocketAddress({ address: text, family: "ipv6" }).address);
        assert.deepEqual(parseIPv6(text), bytes);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        assert.equal(formatIPv6(parseIPv6(text)!), new net.SocketAddress({ address: text, family: "ipv6" }).address);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("crc32c", { timeout: TEST_TIMEOUT }, () => {
  it("gives the CRC-32C check values", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    // RFC 3720 appendix B.4: 32 bytes of zeros, of ones, ascending and descending.
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  });
});
