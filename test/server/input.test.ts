import assert from "node:assert/strict";
import type net from "node:net";
import { after, describe, it } from "node:test";
import { InvalidArgumentError, LimitExceededError } from "sockpool";
import { createAckServer, createEchoServer, createServer } from "../../src/server/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { selfSigned } from "../helpers/tls.js";
import { collect, dial, serve } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("Bad input opens nothing (scenario 22)", () => {
  const bad: [string, object, string][] = [
    ["a port out of range", { port: 70_000 }, "70000"],
    ["a negative port", { port: -1 }, "-1"],
    ["a non-numeric port", { port: "80" }, '"80"'],
    ["a Unix path over 107 bytes", { path: `/tmp/${"p".repeat(120)}` }, "p".repeat(120)],
    ["an unknown option", { hots: "127.0.0.1" }, '"hots"'],
  ];
  for (const [what, options, quoted] of bad) {
    it(`rejects ${what} in listen() with InvalidArgumentError naming it`, opts, async (t) => {
      const server = createEchoServer();
      t.after(() => server.close({ timeout: 0 }));
      await rejectsWith(server.listen(options as never), InvalidArgumentError, "ERR_SOCKPOOL_INVALID_ARGUMENT", quoted);
      assert.equal(server.address(), null, "nothing was bound");
    });
  }

  it("rejects negative, non-numeric and unknown server options by name and value", opts, () => {
    const cases: [object, RegExp][] = [
      [{ lineTimeout: -1 }, /lineTimeout.*-1/],
      [{ maxLineLength: "big" }, /maxLineLength.*"big"/],
      [{ highWaterMark: 0 }, /highWaterMark.*0/],
      [{ maxConections: 5 }, /unknown option "maxConections"/],
      [{ delay: -3 }, /delay.*-3/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => createEchoServer(options as never),
        (e: Error) => e instanceof InvalidArgumentError && message.test(e.message),
        `${JSON.stringify(options)}`,
      );
    }
  });
});

describe("Safe defaults (scenario 23)", () => {
  it("closes a TLS client that never finishes its handshake at the handshake timeout", opts, async (t) => {
    const { key, cert } = selfSigned();
    const { server, port } = await serve(t, createEchoServer({ handshakeTimeout: 200 }), {}, { tls: { key, cert } });
    const s = await dial(t, port);
    s.write("not a ClientHello, and nothing more");
    await collect(s).ended;
    await until(() => server.stats().tlsErrors === 1, "the handshake failure to count");
    assert.equal(server.stats().total, 0, "no handler ran");
  });

  it("binds 127.0.0.1 unless told otherwise", opts, async (t) => {
    const { server } = await serve(t, createEchoServer());
    assert.equal((server.address() as net.AddressInfo).address, "127.0.0.1");
  });
});

/** A small seeded PRNG so a failure can be replayed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe("Line guard under garbage (scenario 24)", () => {
  it(
    "answers every complete line up to the limit and closes at the first longer one, at any split",
    opts,
    async (t) => {
      const max = 256;
      const { server, port } = await serve(t, createAckServer({ message: "k", perLine: true, maxLineLength: max }));
      const rand = prng(24);
      for (let run = 0; run < 40; run++) {
        const input = Buffer.alloc(2048 + Math.floor(rand() * 4096));
        for (let i = 0; i < input.length; i++) input[i] = rand() < 0.004 ? 0x0a : Math.floor(rand() * 256);
        // The model: lines before the first line longer than `max` are answered.
        let answered = 0;
        let tooLong = false;
        let start = 0;
        for (let nl = input.indexOf(0x0a); nl >= 0 && !tooLong; nl = input.indexOf(0x0a, start)) {
          if (nl - start > max) tooLong = true;
          else answered++;
          start = nl + 1;
        }
        if (!tooLong && input.length - start > max) tooLong = true;
        const s = await dial(t, port);
        const got = collect(s);
        for (let at = 0; at < input.length; ) {
          const n = 1 + Math.floor(rand() * 700);
          s.write(input.subarray(at, at + n));
          at += n;
        }
        s.end();
        await got.ended;
        const acks = got
          .text()
          .split("\n")
          .filter((l) => l === "k").length;
        if (tooLong) assert.ok(acks <= answered, `run ${run}: ${acks} acks, at most ${answered} expected`);
        else assert.equal(acks, answered + (input.length > start ? 1 : 0), `run ${run}`);
        s.destroy();
      }
      assert.equal(server.stats().handlerErrors, 0, "garbage never surfaces as anything but a typed close");
    },
  );

  it("tells a protocol why its client was cut off: LimitExceededError in connectionLost", opts, async (t) => {
    const lost: (Error | undefined)[] = [];
    const { port } = await serve(
      t,
      createServer({ protocol: () => ({ connectionLost: (err) => lost.push(err) }) }, { maxLineLength: 10 }),
    );
    const s = await dial(t, port);
    s.write("0123456789ABCDEF");
    await collect(s).ended;
    await until(() => lost.length === 1, "connectionLost");
    const err = lost[0] as LimitExceededError;
    assert.ok(err instanceof LimitExceededError);
    assert.equal(err.code, "ERR_SOCKPOOL_LIMIT_EXCEEDED");
    assert.match(err.message, /limit of 10 bytes \(16 seen\)/);
  });
});
