/**
 * sockpool's print server behind a real HAProxy (docs/proxy-protocol.md): one backend sends
 * PROXY v2 (`send-proxy-v2`, health checks with the LOCAL command), one sends v1
 * (`send-proxy`); clients reach HAProxy from 127.0.0.2 and 127.0.0.3, and the print server
 * logs and limits those addresses, not HAProxy's (docs/reliability.md, scenario 31).
 * HAProxy must be installed: the test fails with `apt-get install haproxy` otherwise.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it, type TestContext } from "node:test";
import { ProxyProtocolError } from "sockpool";
import { createPrintServer, type Server } from "../../src/server/index.js";
import { freeTcpPort, startHaproxy } from "../helpers/haproxy.js";
import { assertNoOpenSockets, TEST_TIMEOUT, until } from "../helpers/net.js";
import { serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

/** The configuration the test runs (docs/proxy-protocol.md shows it). */
export function haproxyConfig(ports: { v2: number; v1: number; untrusted: number }, backends: typeof ports): string {
  return `global
    nbthread 1

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

# PROXY protocol v2; health checks send v2 with the LOCAL command.
frontend fe_v2
    bind 127.0.0.1:${ports.v2}
    default_backend be_v2
backend be_v2
    server print1 127.0.0.1:${backends.v2} send-proxy-v2 check inter 200ms

# PROXY protocol v1 (text).
frontend fe_v1
    bind 127.0.0.1:${ports.v1}
    default_backend be_v1
backend be_v1
    server print1 127.0.0.1:${backends.v1} send-proxy check inter 200ms

# A backend server that does not trust this HAProxy.
frontend fe_untrusted
    bind 127.0.0.1:${ports.untrusted}
    default_backend be_untrusted
backend be_untrusted
    server print1 127.0.0.1:${backends.untrusted} send-proxy-v2
`;
}

/** A print server behind HAProxy, its log lines collected. */
async function printServer(t: TestContext, trust?: string[]) {
  const lines: string[] = [];
  const server = createPrintServer({
    log: (line) => lines.push(line),
    maxConnectionsPerAddress: 2,
    proxyProtocol: trust ? { trust } : {},
  });
  const errors: unknown[] = [];
  server.on("error", (err) => errors.push(err));
  const { port } = await serve(t, server);
  return { server, port, lines, errors };
}

/** A client of HAProxy's frontend from `localAddress`, which sends `line` once connected. */
async function client(t: TestContext, port: number, localAddress: string, line: string): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port, localAddress });
  s.on("error", () => {});
  t.after(() => s.destroy());
  await once(s, "connect");
  s.write(line);
  return s;
}

const closed = (s: net.Socket) => (s.closed ? Promise.resolve() : once(s, "close").then(() => {}));

/** Log lines of `address` (the print server writes `address:port: text`). */
function linesFrom(lines: string[], address: string): string[] {
  return lines.filter((l) => l.startsWith(`${address}:`)).map((l) => l.replace(/^[\d.]+:\d+: /, ""));
}

function assertNoErrors(server: Server, errors: unknown[]): void {
  const s = server.stats();
  assert.deepEqual(
    { proxyRefused: s.proxyRefused, handlerErrors: s.handlerErrors, clientErrors: s.clientErrors, errors },
    { proxyRefused: 0, handlerErrors: 0, clientErrors: 0, errors: [] },
  );
}

describe("behind a real HAProxy", () => {
  it(
    "logs and limits the clients HAProxy relays, over v2 and v1; health checks are neither refused nor errors; an untrusting server refuses",
    opts,
    async (t) => {
      const v2 = await printServer(t);
      const v1 = await printServer(t);
      const untrusted = await printServer(t, ["192.0.2.0/24"]);
      const front = { v2: await freeTcpPort(), v1: await freeTcpPort(), untrusted: await freeTcpPort() };
      const haproxy = await startHaproxy(
        t,
        haproxyConfig(front, { v2: v2.port, v1: v1.port, untrusted: untrusted.port }),
      );
      // Ready once a health check of each checked backend came through (frontends bind first).
      await until(
        // A check that resets before its accept is handled counts in proxyVanished, not total.
        () => v2.server.stats().proxyLocal >= 1 && v1.server.stats().total + v1.server.stats().proxyVanished >= 1,
        `health checks (${haproxy.log()})`,
      );

      // v2: each address may hold 2 connections; a third from 127.0.0.2 is closed.
      const held: net.Socket[] = [];
      for (const [address, text] of [
        ["127.0.0.2", "one"],
        ["127.0.0.2", "two"],
        ["127.0.0.3", "three"],
        ["127.0.0.3", "four"],
      ] as const) {
        held.push(await client(t, front.v2, address, `${text}\n`));
        await until(() => v2.lines.some((l) => l.endsWith(`: ${text}`)), `"${text}" to be logged`);
      }
      const third = await client(t, front.v2, "127.0.0.2", "five\n");
      await closed(third);
      assert.deepEqual(linesFrom(v2.lines, "127.0.0.2"), ["one", "two"]);
      assert.deepEqual(linesFrom(v2.lines, "127.0.0.3"), ["three", "four"]);
      assert.ok(!v2.lines.some((l) => l.startsWith("127.0.0.1:")), "HAProxy's own address is never logged");
      assert.equal(v2.server.stats().rejected, 1);
      assert.deepEqual([clientsFrom(v2.server, "127.0.0.2"), clientsFrom(v2.server, "127.0.0.3")], [2, 2]);

      // Once one of 127.0.0.2's connections closes, it may connect again.
      const gone = held[0] as net.Socket;
      gone.end();
      await closed(gone);
      await until(() => clientsFrom(v2.server, "127.0.0.2") === 1, "the closed client to leave");
      await client(t, front.v2, "127.0.0.2", "six\n");
      await until(() => v2.lines.some((l) => l.endsWith(": six")), `"six" to be logged`);
      assert.deepEqual(linesFrom(v2.lines, "127.0.0.2"), ["one", "two", "six"]);

      // v1: the same, through the text header.
      await client(t, front.v1, "127.0.0.2", "over v1 from .2\n");
      await client(t, front.v1, "127.0.0.3", "over v1 from .3\n");
      await until(() => v1.lines.length >= 2, "the v1 lines to be logged");
      assert.deepEqual(linesFrom(v1.lines, "127.0.0.2"), ["over v1 from .2"]);
      assert.deepEqual(linesFrom(v1.lines, "127.0.0.3"), ["over v1 from .3"]);

      // A few more health checks, then: none refused, none an error.
      const checks = v2.server.stats().proxyLocal;
      await until(() => v2.server.stats().proxyLocal >= checks + 2, "two more health checks");
      assertNoErrors(v2.server, v2.errors);
      assertNoErrors(v1.server, v1.errors);

      // A server that does not trust this HAProxy never believes it.
      const s = await client(t, front.untrusted, "127.0.0.2", "spoofed?\n");
      await closed(s);
      await until(() => untrusted.server.stats().proxyRefused >= 1, "the refusal to be counted");
      assert.deepEqual(untrusted.lines, []);
      const err = untrusted.errors[0];
      assert.ok(err instanceof ProxyProtocolError);
      assert.equal(err.reason, "untrusted");

      await haproxy.stop();
    },
  );
});

/** The server's clients from `address`, as their PROXY headers name them. */
function clientsFrom(server: Server, address: string): number {
  return server.clients().filter((c) => c.remoteAddress === address).length;
}
