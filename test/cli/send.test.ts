import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { DNSMASQ, dnsmasqSkip, startDnsmasq } from "../helpers/dnsmasq.js";
import { assertNoOpenSockets, closedPort, echoServer, rawServer, TEST_TIMEOUT } from "../helpers/net.js";
import { runCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

describe("sockpool send", () => {
  test("sends the message with a newline and prints the reply", opts, async (t) => {
    const server = await echoServer(t);
    const result = await runCli(t, ["send", server.endpoint, "hello world"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hello world\n");
    assert.equal(result.stderr, "");
  });

  test("--raw sends the bytes as given; --line waits for a whole line across chunks", opts, async (t) => {
    const received: string[] = [];
    const server = await rawServer(t, (socket) => {
      socket.on("data", (d) => {
        received.push(d.toString());
        socket.write("par");
        setImmediate(() => socket.write("tial\nrest\n"));
      });
    });
    const result = await runCli(t, ["send", server.endpoint, "PING", "--raw", "--line"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "partial\n");
    assert.deepEqual(received, ["PING"]);
  });

  test("a server that is not there: exit 1 and a connect error naming the endpoint", opts, async (t) => {
    const port = await closedPort();
    const result = await runCli(t, ["send", `127.0.0.1:${port}`, "hello"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`^ERR_SOCKPOOL_CONNECT: connect to 127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`),
    );
    assert.equal(result.stdout, "");
  });

  test("a silent server: exit 1 with a read timeout after --timeout", opts, async (t) => {
    const server = await rawServer(t, () => {});
    const result = await runCli(t, ["send", server.endpoint, "hello", "--timeout", "200ms"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_READ_TIMEOUT: .*200 ms/);
  });

  test("--timeout 0 means no timeout, not zero milliseconds", opts, async (t) => {
    const server = await rawServer(t, (socket) => socket.on("data", (d) => setTimeout(() => socket.write(d), 50)));
    const result = await runCli(t, ["send", server.endpoint, "patience", "--timeout", "0"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "patience\n");
    const negative = await runCli(t, ["send", server.endpoint, "x", "--timeout", "-1s"]);
    assert.equal(negative.stderr, 'ERR_SOCKPOOL_INVALID_ARGUMENT: --timeout: must be positive, got "-1s"\n');
  });

  test("a server that closes without answering: exit 1, connection closed", opts, async (t) => {
    const server = await rawServer(t, (socket) => socket.on("data", () => socket.end()));
    const result = await runCli(t, ["send", server.endpoint, "hello"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_CONNECTION_CLOSED: .*127\.0\.0\.1/);
  });

  test("bad arguments: exit 1 with the offending value", opts, async (t) => {
    const noPort = await runCli(t, ["send", "localhost", "hi"]);
    assert.equal(noPort.code, 1);
    assert.match(noPort.stderr, /^ERR_SOCKPOOL_INVALID_ENDPOINT: invalid endpoint "localhost"/);
    const missing = await runCli(t, ["send", "127.0.0.1:1"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: sockpool send takes 2 arguments, got 1/);
    const timeout = await runCli(t, ["send", "127.0.0.1:1", "hi", "--timeout", "soon"]);
    assert.equal(timeout.code, 1);
    assert.match(timeout.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: --timeout: expected a duration .*got "soon"/);
  });

  test("a service target: a replica that refuses is passed over for another", opts, async (t) => {
    const server = await echoServer(t);
    const dead = `127.0.0.1:${await closedPort()}`;
    for (const target of [`${dead},${server.endpoint}`, `${server.endpoint},${dead}`]) {
      const result = await runCli(t, ["send", target, "hello"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "hello\n");
    }
  });

  test("every replica down: exit 1, one error naming each replica and why", opts, async (t) => {
    const a = `127.0.0.1:${await closedPort()}`;
    const b = `127.0.0.1:${await closedPort()}`;
    const result = await runCli(t, ["send", `${a},${b}`, "hello"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERR_SOCKPOOL_SERVICE_UNAVAILABLE: /);
    for (const ep of [a, b]) assert.ok(result.stderr.includes(`${ep} (active): ERR_SOCKPOOL_CONNECT`), result.stderr);
    assert.match(result.stderr, /ECONNREFUSED/);
  });

  test("srv: through --resolver asks that DNS server", { ...opts, skip: dnsmasqSkip }, async (t) => {
    assert.ok(DNSMASQ, "dnsmasq must be installed under CI (apt-get install dnsmasq-base)");
    const server = await echoServer(t);
    const dns = await startDnsmasq(t, {
      srv: [{ name: "_echo._tcp.sp.test", target: "echo.sp.test", port: server.port }],
      a: { "echo.sp.test": ["127.0.0.1"] },
    });
    const result = await runCli(t, ["send", "srv:_echo._tcp.sp.test", "hello", "--resolver", `127.0.0.1:${dns.port}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hello\n");
    const unknown = await runCli(t, ["send", "srv:_nope._tcp.sp.test", "hi", "--resolver", `127.0.0.1:${dns.port}`]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^ERR_SOCKPOOL_SERVICE_UNAVAILABLE: srv:_nope\._tcp\.sp\.test is unavailable/);
  });

  test("a bad --resolver: exit 1 naming the flag and value", opts, async (t) => {
    const result = await runCli(t, ["send", "srv:_echo._tcp.sp.test", "hi", "--resolver", "dns.example:53"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^ERR_SOCKPOOL_INVALID_ARGUMENT: --resolver: expected an IP address and port.*"dns\.example:53"/,
    );
  });
});
