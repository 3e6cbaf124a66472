import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "sockpool";
import { encodeProxyHeader, type ProxyHeaderInit } from "../../src/codec/proxy-protocol.js";
import { TEST_TIMEOUT } from "../helpers/net.js";
import { hexBytes, parseEveryWay } from "../helpers/proxy.js";

const v4 = (address: string, port: number) => ({ address, port });
const invalid = (init: unknown, ...fragments: string[]) =>
  assert.throws(
    () => encodeProxyHeader(init as ProxyHeaderInit),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, String(e));
      assert.equal(e.code, "ERR_SOCKPOOL_INVALID_ARGUMENT");
      for (const f of fragments) assert.ok(e.message.includes(f), `${JSON.stringify(f)} not in ${e.message}`);
      return true;
    },
  );

describe("encodeProxyHeader: v1", { timeout: TEST_TIMEOUT }, () => {
  it("writes TCP4, TCP6 and UNKNOWN lines that parse back", () => {
    const tcp4 = encodeProxyHeader({
      version: 1,
      source: v4("192.168.0.1", 56324),
      destination: v4("192.168.0.11", 443),
    });
    assert.equal(tcp4.toString(), "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    const tcp6 = encodeProxyHeader({ version: 1, source: v4("2001:DB8::1", 0), destination: v4("::1", 65535) });
    assert.equal(tcp6.toString(), "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n");
    assert.equal(encodeProxyHeader({ version: 1 }).toString(), "PROXY UNKNOWN\r\n");
    assert.deepEqual(parseEveryWay(tcp6).header?.source, { address: "2001:db8::1", port: 0 });
    assert.equal(parseEveryWay(encodeProxyHeader({ version: 1 })).header?.family, "unspec");
  });

  it("refuses what v1 cannot say, naming it", () => {
    invalid({ version: 1, command: "local" }, 'v1 has no command "local"');
    invalid({ version: 1, source: { path: "/a" }, destination: { path: "/b" } }, "v1 cannot carry UNIX paths");
    invalid({ version: 1, tlvs: {} }, "v1 has no TLVs");
    invalid({ version: 1, transport: "dgram" }, 'v1 carries TCP only, got transport "dgram"');
  });
});

describe("encodeProxyHeader: v2", { timeout: TEST_TIMEOUT }, () => {
  it("writes the spec-layout TCP4 header byte for byte", () => {
    const got = encodeProxyHeader({
      version: 2,
      source: v4("192.168.0.1", 56324),
      destination: v4("192.168.0.11", 443),
    });
    assert.deepEqual(got, hexBytes("0d0a0d0a000d0a515549540a 21 11 000c c0a80001 c0a8000b dc04 01bb"));
  });

  it("writes what HAProxy 2.6.12 writes: a LOCAL check and a relayed header, CRC32C and unique id", () => {
    const check = encodeProxyHeader({ version: 2, command: "local", tlvs: { crc32c: true } });
    assert.deepEqual(check, hexBytes("0d0a0d0a000d0a515549540a 20 00 0007 030004a9b87e8f"));
    const relayed = encodeProxyHeader({
      version: 2,
      source: v4("127.0.0.2", 36543),
      destination: v4("127.0.0.1", 37343),
      tlvs: { crc32c: true, uniqueId: "abc-127.0.0.2" },
    });
    const captured = "0d0a0d0a000d0a515549540a 21 11 0023 7f000002 7f000001 8ebf 91df 030004def8b7e0";
    assert.deepEqual(relayed, hexBytes(`${captured} 05000d 6162632d3132372e302e302e32`));
  });

  it("round-trips every family, command and transport", () => {
    const pairs = [
      [v4("10.0.0.1", 1), v4("10.0.0.2", 2), "tcp4"],
      [v4("fd00::1", 1), v4("::ffff:10.0.0.2", 2), "tcp6"],
      [{ path: "/run/a.sock" }, { path: "\0abstract" }, "unix"],
      [undefined, undefined, "unspec"],
    ] as const;
    for (const [source, destination, family] of pairs) {
      for (const transport of ["stream", "dgram", "unspec"] as const) {
        const proxied = parseEveryWay(encodeProxyHeader({ version: 2, source, destination, transport })).header!;
        assert.deepEqual(
          [proxied.command, proxied.family, proxied.transport, proxied.source, proxied.destination],
          ["proxy", family, transport, source, destination],
        );
        const local = parseEveryWay(encodeProxyHeader({ version: 2, command: "local", source, destination })).header!;
        assert.deepEqual([local.command, local.family, local.source], ["local", family, undefined]);
      }
    }
    const defaults = parseEveryWay(encodeProxyHeader({ version: 2 })).header!;
    assert.deepEqual([defaults.family, defaults.transport], ["unspec", "unspec"]);
  });

  it("round-trips every TLV and SSL sub-field, with a verified CRC32C", () => {
    const bytes = encodeProxyHeader({
      version: 2,
      source: v4("10.0.0.1", 1),
      destination: v4("10.0.0.2", 2),
      tlvs: {
        alpn: "h2",
        authority: "example.com",
        crc32c: true,
        uniqueId: Buffer.alloc(128, 1),
        netns: "blue",
        noop: 5,
        custom: [
          { type: 0xe0, value: "one" },
          { type: 0xe0, value: Buffer.from([2]) },
        ],
        ssl: {
          ssl: true,
          certSess: true,
          clientBits: 0x40,
          verify: 21,
          version: "TLSv1.2",
          cn: "cn",
          cipher: "c",
          sigAlg: "s",
          keyAlg: "k",
          group: "g",
          sigScheme: "ss",
          clientCert: Buffer.from([0x30]),
        },
      },
    });
    const { tlvs } = parseEveryWay(bytes).header!;
    assert.equal(tlvs.alpn?.toString(), "h2");
    assert.equal(tlvs.authority, "example.com");
    assert.equal(typeof tlvs.crc32c, "number");
    assert.deepEqual(tlvs.uniqueId, Buffer.alloc(128, 1));
    assert.equal(tlvs.netns, "blue");
    assert.deepEqual(
      tlvs.raw.map((t) => t.type),
      [0x01, 0x02, 0x03, 0x05, 0x20, 0x30, 0xe0, 0xe0, 0x04],
    );
    assert.deepEqual(tlvs.raw.at(-1)?.value, Buffer.alloc(5));
    const { raw, ...ssl } = tlvs.ssl!;
    assert.deepEqual(ssl, {
      client: 0x45,
      ssl: true,
      certConn: false,
      certSess: true,
      verify: 21,
      version: "TLSv1.2",
      cn: "cn",
      cipher: "c",
      sigAlg: "s",
      keyAlg: "k",
      group: "g",
      sigScheme: "ss",
      clientCert: Buffer.from([0x30]),
    });
    assert.equal(raw.length, 8);
  });

  it("refuses bad addresses and ports, naming them", () => {
    invalid({ version: 2, source: v4("10.0.0.1", 1) }, "source and destination go together", "10.0.0.1");
    invalid({ version: 2, source: v4("10.0.0.1", 1), destination: v4("::1", 2) }, "different families", '"::1"');
    invalid({ version: 2, source: v4("10.0.0.1", 1), destination: { path: "/x" } }, "(tcp4)", "(unix)");
    invalid({ version: 1, source: v4("10.0.0.256", 1), destination: v4("::1", 2) }, "source.address", '"10.0.0.256"');
    invalid({ version: 1, source: v4("fe80::1%eth0", 1), destination: v4("::1", 2) }, '"fe80::1%eth0"');
    invalid({ version: 2, source: v4("10.0.0.1", 65536), destination: v4("10.0.0.2", 2) }, "source.port", "65536");
    invalid({ version: 2, source: v4("10.0.0.1", 1), destination: v4("10.0.0.2", -1) }, "destination.port", "-1");
    invalid(
      { version: 2, source: { address: "10.0.0.1" }, destination: v4("10.0.0.2", 2) },
      "source.port",
      "undefined",
    );
    invalid(
      { version: 2, source: { path: "x".repeat(109) }, destination: { path: "/" } },
      "has 109 bytes, more than 108",
    );
    invalid({ version: 2, source: { path: "/", extra: 1 }, destination: { path: "/" } }, 'unknown option "extra"');
  });

  it("refuses bad options and TLVs, naming them", () => {
    invalid({ version: 3 }, "version must be 1 or 2, got 3");
    invalid({}, "version must be 1 or 2, got undefined");
    invalid({ version: 2, command: "health" }, "command must be one of proxy, local", '"health"');
    invalid({ version: 2, family: "tcp4" }, 'unknown option "family"');
    invalid({ version: 2, tlvs: { sni: "x" } }, 'unknown option "sni"');
    invalid({ version: 2, tlvs: { alpn: 2 } }, "tlvs.alpn must be a Uint8Array or a string, got 2");
    invalid({ version: 2, tlvs: { uniqueId: "x".repeat(129) } }, "tlvs.uniqueId has 129 bytes, more than 128");
    invalid({ version: 2, tlvs: { noop: 65536 } }, "tlvs.noop must be at most 65535, got 65536");
    invalid({ version: 2, tlvs: { custom: [{ type: 0x02, value: "x" }] } }, "custom[0].type", "got 2");
    invalid({ version: 2, tlvs: { custom: [{ type: 256, value: "x" }] } }, "custom[0].type", "got 256");
    invalid({ version: 2, tlvs: { custom: [{ type: 0xe0 }] } }, "custom[0].value is missing");
    invalid({ version: 2, tlvs: { custom: "x" } }, "tlvs.custom must be an array", '"x"');
    invalid({ version: 2, tlvs: { ssl: { cn: 1 } } }, "tlvs.ssl.cn must be a string, got 1");
    invalid({ version: 2, tlvs: { ssl: { clientBits: 256 } } }, "clientBits must be at most 255, got 256");
    invalid({ version: 2, tlvs: { ssl: { verify: 2 ** 32 } } }, "verify must be a u32, got 4294967296");
    invalid({ version: 2, tlvs: { ssl: { sni: "x" } } }, 'tlvs.ssl: unknown option "sni"');
  });

  it("refuses a header or a TLV past what the u16 lengths can declare", () => {
    invalid(
      { version: 2, tlvs: { custom: [{ type: 0xe0, value: Buffer.alloc(65536) }] } },
      "0xE0 value has 65536 bytes",
    );
    const half = { type: 0xe0, value: Buffer.alloc(40000) };
    invalid({ version: 2, tlvs: { custom: [half, half] } }, "header would be 80022 bytes", "at most 65551");
  });
});
