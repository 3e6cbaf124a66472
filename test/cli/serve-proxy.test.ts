/**
 * `sockpool serve KIND --proxy-protocol [--trust-proxy CIDR,...]`: behind a load balancer,
 * the print server logs the client the PROXY header names; peers not trusted are refused,
 * each reported on stderr; a bad --trust-proxy entry is one clear error naming it.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { connect } from "../../src/connection/connect.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { interrupt, runCli, startCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("sockpool serve --proxy-protocol", () => {
  test("print logs the client a v1 or v2 header names; the default trust is 127.0.0.1,::1", opts, async (t) => {
    const cli = startCli(t, ["serve", "print", "--port", "0", "--proxy-protocol"]);
    const [, port] = await cli.waitFor(
      /listening on 127\.0\.0\.1:(\d+) behind a balancer \(PROXY protocol from 127\.0\.0\.1,::1\)/,
    );
    for (const [version, address] of [
      [1, "192.0.2.10"],
      [2, "2001:db8::10"],
    ] as const) {
      const conn = await connect(`127.0.0.1:${port}`, { proxyHeader: { version, source: { address, port: 5000 } } });
      t.after(() => conn.destroy());
      await conn.write(`hello over v${version}\n`);
      await conn.close();
    }
    await cli.waitFor(/192\.0\.2\.10:5000: hello over v1\n/);
    await cli.waitFor(/\[2001:db8::10\]:5000: hello over v2\n/);
    const result = await interrupt(cli);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /127\.0\.0\.1:\d+: hello/, "the balancer's address is not logged");
  });

  test("--trust-proxy: a peer not on the list is refused and reported on stderr", opts, async (t) => {
    const cli = startCli(t, [
      "serve",
      "echo",
      "--port",
      "0",
      "--proxy-protocol",
      "--trust-proxy",
      "10.0.0.0/8, fd00::/8",
    ]);
    const [, port] = await cli.waitFor(
      /listening on 127\.0\.0\.1:(\d+) behind a balancer \(PROXY protocol from 10\.0\.0\.0\/8,fd00::\/8\)/,
    );
    const conn = await connect(`127.0.0.1:${port}`, {
      proxyHeader: { version: 2, source: { address: "192.0.2.1", port: 1 } },
    });
    t.after(() => conn.destroy());
    await conn.write("hi\n").catch(() => {});
    assert.equal(await conn.readLine().catch(() => null), null, "closed without an answer");
    await cli.waitFor(
      /ERR_SOCKPOOL_PROXY_PROTOCOL: PROXY protocol: 127\.0\.0\.1:\d+ is not on the trust list/,
      "stderr",
    );
    const result = await interrupt(cli);
    assert.equal(result.code, 0, result.stderr);
  });

  test("mistakes are one clear error each, naming the value", opts, async (t) => {
    const cases: [string[], RegExp][] = [
      [["--trust-proxy", "10.0.0.0/8"], /--trust-proxy "10\.0\.0\.0\/8" applies to --proxy-protocol only/],
      [["--proxy-protocol", "--trust-proxy", "10.0.0.0/33"], /"10\.0\.0\.0\/33" has a prefix length out of range 0-32/],
      [
        ["--proxy-protocol", "--trust-proxy", "10.0.0.1,lb.internal"],
        /entry "lb\.internal" is not an IPv4 or IPv6 address/,
      ],
      [["--proxy-protocol", "--trust-proxy", "10.1.0.0/8"], /"10\.1\.0\.0\/8" has bits set past its \/8 prefix/],
      [["--proxy-protocol", "--trust-proxy", ""], /entry "" is not an IPv4 or IPv6/],
    ];
    for (const [argv, message] of cases) {
      const r = await runCli(t, ["serve", "print", ...argv]);
      assert.equal(r.code, 1, `${argv.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: /, argv.join(" "));
      assert.match(r.stderr, message, argv.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "");
    }
  });
});
