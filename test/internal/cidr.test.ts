import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { InvalidArgumentError } from "sockpool";
import { TrustList } from "../../src/internal/cidr.js";
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from "../../src/internal/ip.js";
import { TEST_TIMEOUT } from "../helpers/net.js";

const refused = (entries: unknown, ...fragments: string[]) =>
  assert.throws(
    () => new TrustList(entries as string[]),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, String(e));
      assert.equal(e.code, "ERR_SOCKPOOL_INVALID_ARGUMENT");
      for (const f of fragments) assert.ok(e.message.includes(f), `${JSON.stringify(f)} not in ${e.message}`);
      return true;
    },
  );

describe("TrustList", { timeout: TEST_TIMEOUT }, () => {
  const list = new TrustList(["127.0.0.1", "10.0.0.0/8", "192.168.1.128/25", "::1", "fd00::/8", "2001:db8::/127"]);

  it("matches single addresses and CIDR blocks of both families", () => {
    for (const yes of ["127.0.0.1", "10.0.0.0", "10.255.255.255", "192.168.1.128", "192.168.1.255", "::1"]) {
      assert.equal(list.has(yes), true, yes);
    }
    for (const yes of ["fd00::", "fdff:ffff::1", "2001:db8::", "2001:db8::1", "0:0:0:0:0:0:0:1"]) {
      assert.equal(list.has(yes), true, yes);
    }
    for (const no of ["127.0.0.2", "11.0.0.0", "9.255.255.255", "192.168.1.127", "::2", "fc00::1", "2001:db8::2"]) {
      assert.equal(list.has(no), false, no);
    }
  });

  it("matches IPv4-mapped IPv6 addresses against IPv4 entries, and mapped entries against IPv4 addresses", () => {
    assert.equal(list.has("::ffff:10.1.2.3"), true);
    assert.equal(list.has("::ffff:a01:203"), true, "the same address in hex");
    assert.equal(list.has("::ffff:127.0.0.1"), true);
    assert.equal(list.has("::ffff:11.1.2.3"), false);
    assert.equal(list.has("::10.1.2.3"), false, "IPv4-compatible is not mapped");
    const mapped = new TrustList(["::ffff:10.0.0.0/104", "::ffff:192.0.2.7"]);
    assert.equal(mapped.has("10.9.9.9"), true);
    assert.equal(mapped.has("192.0.2.7"), true);
    assert.equal(mapped.has("::ffff:192.0.2.7"), true);
    assert.deepEqual(mapped.toJSON(), ["10.0.0.0/8", "192.0.2.7/32"]);
    assert.equal(new TrustList(["::/0"]).has("1.2.3.4"), false, "::/0 is IPv6 only; add 0.0.0.0/0 for IPv4");
  });

  it("trusts nothing that is not an IP address, ignoring a zone id", () => {
    for (const no of [undefined, "", "localhost", "10.0.0.1:80", "010.0.0.1", "10.0.0.0/8", " 127.0.0.1"]) {
      assert.equal(list.has(no), false, String(no));
    }
    assert.equal(new TrustList(["fe80::/10"]).has("fe80::1%eth0"), true);
    assert.equal(new TrustList([]).has("127.0.0.1"), false);
  });

  it("refuses bad entries, naming them", () => {
    refused(["10.0.0.0/8", "10.0.0.256"], 'trust list entry "10.0.0.256" is not an IPv4 or IPv6 address or CIDR');
    refused(["localhost"], '"localhost"');
    refused(["10.0.0.0/33"], '"10.0.0.0/33" has a prefix length out of range 0-32');
    refused(["::/129"], '"::/129"', "0-128");
    refused(["10.0.0.0/"], '"10.0.0.0/"');
    refused(["10.0.0.0/08"], '"10.0.0.0/08"');
    refused(["10.0.0.0/-1"], '"10.0.0.0/-1"');
    refused(["10.1.0.0/8"], '"10.1.0.0/8" has bits set past its /8 prefix');
    refused(["fd00::1/8"], '"fd00::1/8"', "/8");
    refused(["fe80::1%eth0"], '"fe80::1%eth0"');
    refused([42], "trust list entry 42 is not a string");
    refused("127.0.0.1", 'trust list must be an array of addresses and CIDRs, got "127.0.0.1"');
  });

  it("lists its entries in canonical form", () => {
    assert.deepEqual(new TrustList(["::1", "0.0.0.0/0", "FD00::/8"]).toJSON(), ["0.0.0.0/0", "::1/128", "fd00::/8"]);
    assert.equal(list.size, 6);
  });

  it("property: agrees with net.BlockList, except that IPv6 blocks wider than /96 never cover IPv4", () => {
    const v4 = fc.tuple(fc.ipV4(), fc.nat(32)).map(([ip, prefix]) => ({ ip, prefix, family: "ipv4" as const }));
    const v6 = fc.tuple(fc.ipV6(), fc.nat(128)).map(([ip, prefix]) => ({ ip, prefix, family: "ipv6" as const }));
    fc.assert(
      fc.property(fc.oneof(v4, v6), fc.oneof(fc.ipV4(), fc.ipV6()), ({ ip, prefix, family }, address) => {
        const block = new net.BlockList();
        block.addSubnet(ip, prefix, family);
        // BlockList lets ::/0 cover every IPv4 peer (through ::ffff:0:0/96); we do not.
        fc.pre(!(family === "ipv6" && prefix < 96 && block.check("::ffff:0.0.0.0", "ipv6")));
        const network = networkOf(ip, prefix, family);
        const ours = new TrustList([`${network}/${prefix}`]);
        const theirs = block.check(address, net.isIPv6(address) ? "ipv6" : "ipv4");
        assert.equal(ours.has(address), theirs, `${network}/${prefix} vs ${address}`);
      }),
      { numRuns: 2000 },
    );
  });
});

/** `ip` with the bits past `prefix` cleared, printed as Node prints addresses. */
function networkOf(ip: string, prefix: number, family: "ipv4" | "ipv6"): string {
  const bytes = (family === "ipv4" ? parseIPv4(ip) : parseIPv6(ip))!;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - 8 * i));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return family === "ipv4" ? formatIPv4(bytes) : formatIPv6(bytes);
}
