import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidEndpointError, parseTarget } from "sockpool";

const opts = { timeout: 5_000 };

function invalid(input: unknown, includes: string): void {
  assert.throws(
    () => parseTarget(input as string),
    (err) =>
      err instanceof InvalidEndpointError &&
      err.code === "ERR_SOCKPOOL_INVALID_ENDPOINT" &&
      err.input === input &&
      err.message.includes(includes),
  );
}

describe("parseTarget", () => {
  it("reads one endpoint as it always was", opts, () => {
    const t = parseTarget("LOCALHOST:80");
    assert.equal(t.kind, "endpoint");
    assert.equal(t.key, "localhost:80");
    assert.equal(parseTarget({ host: "::1", port: 9 }).key, "[::1]:9");
    assert.equal(parseTarget("unix:/tmp/a,b.sock").kind, "endpoint", "a Unix path may hold a comma");
  });

  it("keeps srv:80 and dns:80 the endpoints they were (hosts named srv and dns)", opts, () => {
    assert.deepEqual([parseTarget("srv:80").kind, parseTarget("srv:80").key], ["endpoint", "srv:80"]);
    assert.deepEqual([parseTarget("dns:53").kind, parseTarget("dns:53").key], ["endpoint", "dns:53"]);
  });

  it("reads a comma list as a service keyed by its sorted, distinct replicas", opts, () => {
    const a = parseTarget(" 127.0.0.1:7002, 127.0.0.1:7001 ,127.0.0.1:7002");
    assert.equal(a.kind, "list");
    assert.equal(a.key, "127.0.0.1:7001,127.0.0.1:7002");
    assert.deepEqual(a.kind === "list" && a.endpoints.map((e) => e.key), ["127.0.0.1:7002", "127.0.0.1:7001"]);
    const b = parseTarget(["127.0.0.1:7001", { host: "127.0.0.1", port: 7002 }]);
    assert.equal(b.key, a.key, "an array of the same replicas is the same service");
    assert.equal(parseTarget(["127.0.0.1:7001"]).kind, "list", "an array is a service even of one");
  });

  it("reads srv: and dns: targets, lower-cased", opts, () => {
    assert.deepEqual(parseTarget("srv:_Echo._tcp.Example.COM"), {
      kind: "srv",
      name: "_echo._tcp.example.com",
      key: "srv:_echo._tcp.example.com",
    });
    assert.deepEqual(parseTarget("dns:Cache.internal:6379"), {
      kind: "dns",
      host: "cache.internal",
      port: 6379,
      key: "dns:cache.internal:6379",
    });
    assert.equal(parseTarget("DNS:[::1]:53").key, "dns:[::1]:53");
  });

  it("rejects bad services with InvalidEndpointError quoting the whole input", opts, () => {
    invalid([], "at least one replica");
    invalid("127.0.0.1:1,,127.0.0.1:2", "empty entry");
    invalid("127.0.0.1:1,127.0.0.1:99999", "99999");
    invalid("srv:", "needs a name");
    invalid("srv:bad name", "bad name");
    invalid("srv:a..b", "a..b");
    invalid("dns:cache.internal", "missing ':port'");
    invalid("dns:tls://h:1", "plain TCP");
    invalid("dns:unix:/x", "plain TCP");
  });
});
