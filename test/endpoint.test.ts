import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endpointKey, InvalidEndpointError, parseEndpoint } from "sockpool";

describe("parseEndpoint", () => {
  it("parses host:port and lowercases the host", () => {
    assert.deepEqual(parseEndpoint("LocalHost:3000"), {
      kind: "tcp",
      host: "localhost",
      port: 3000,
      tls: false,
      key: "localhost:3000",
    });
  });

  it("parses bracketed IPv6 and keeps brackets in the key", () => {
    const ep = parseEndpoint("[::1]:443");
    assert.equal(ep.kind, "tcp");
    assert.equal(ep.kind === "tcp" && ep.host, "::1");
    assert.equal(ep.key, "[::1]:443");
  });

  it("parses tls:// and tcp:// schemes", () => {
    assert.equal(parseEndpoint("tls://example.test:853").key, "tls://example.test:853");
    assert.equal(parseEndpoint("tls://example.test:853").tls, true);
    assert.equal(parseEndpoint("tcp://127.0.0.1:80").key, "127.0.0.1:80");
  });

  it("parses unix: paths", () => {
    assert.deepEqual(parseEndpoint("unix:/tmp/s.sock"), {
      kind: "unix",
      path: "/tmp/s.sock",
      tls: false,
      key: "unix:/tmp/s.sock",
    });
    assert.equal(parseEndpoint({ path: "/tmp/s.sock" }).key, "unix:/tmp/s.sock");
  });

  it("gives equal endpoints written differently the same key", () => {
    assert.equal(endpointKey({ host: "LOCALHOST", port: 80 }), endpointKey("localhost:80"));
    assert.equal(endpointKey({ host: "h", port: 1, tls: true }), endpointKey("tls://h:1"));
  });

  it("passes an already parsed endpoint through", () => {
    const ep = parseEndpoint("127.0.0.1:9");
    assert.equal(parseEndpoint(ep), ep);
  });

  const bad: [unknown, string][] = [
    ["127.0.0.1", "missing ':port'"],
    ["127.0.0.1:0", "out of range"],
    ["127.0.0.1:65536", "out of range"],
    ["127.0.0.1:-1", "not a number"],
    ["127.0.0.1:http", "not a number"],
    [":80", "empty host"],
    ["ftp://h:21", "unknown scheme"],
    ["::1:80", "brackets"],
    ["[::1:80", "missing ']'"],
    ["[nothex]:80", "not an IPv6"],
    ["unix:", "empty Unix socket path"],
    [`unix:/${"x".repeat(120)}`, "over the limit of 107"],
    [{ host: "h", port: 1.5 }, "out of range"],
    [{ host: "h", port: 80, tls: "yes" }, "tls must be a boolean"],
    [{ nope: 1 }, "expected { host, port }"],
    [42, "expected a string or an object"],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${JSON.stringify(input)?.slice(0, 40)} (${reason})`, () => {
      assert.throws(
        () => parseEndpoint(input as string),
        (err: unknown) => {
          assert.ok(err instanceof InvalidEndpointError);
          assert.equal(err.code, "ERR_SOCKPOOL_INVALID_ENDPOINT");
          assert.ok(err.message.includes(reason), err.message);
          if (typeof input === "string") assert.ok(err.message.includes(JSON.stringify(input)), err.message);
          assert.equal(err.input, input);
          return true;
        },
      );
    });
  }
});
