import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { assertNoOpenSockets, rawServer, TEST_TIMEOUT } from "../helpers/net.js";
import { ping, testPool } from "./helpers.js";

after(assertNoOpenSockets);

const DELAY = 200;

describe("the pool bounds the sockets and overlaps the waiting (DESIGN scenario 1)", () => {
  // A timing scenario: upper bounds are allowed here, with a margin of a whole delay because
  // the machine is shared. The floor is ceil(N / 5) delays.
  it("5 concurrent requests take one delay, 20 take four, through 5 sockets", { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await rawServer(t, (socket) => {
      let carry = "";
      socket.on("data", (chunk) => {
        carry += chunk.toString();
        for (let i = carry.indexOf("\n"); i >= 0; i = carry.indexOf("\n")) {
          const line = carry.slice(0, i + 1);
          carry = carry.slice(i + 1);
          setTimeout(() => socket.writable && socket.write(line), DELAY);
        }
      });
    });
    const pool = testPool(t, { maxSocketsPerEndpoint: 5 });
    const run = async (n: number) => {
      const started = performance.now();
      const replies = await Promise.all(
        Array.from({ length: n }, (_, i) => pool.use(server.endpoint, (c) => ping(c, `m${i}`))),
      );
      assert.deepEqual(
        replies,
        Array.from({ length: n }, (_, i) => `m${i}`),
      );
      return performance.now() - started;
    };

    const five = await run(5);
    assert.ok(five >= DELAY - 5 && five < 2 * DELAY, `5 requests took ${five.toFixed(1)} ms`);
    assert.equal(pool.stats().created, 5);

    const twenty = await run(20);
    assert.ok(twenty >= 4 * DELAY - 5 && twenty < 5 * DELAY, `20 requests took ${twenty.toFixed(1)} ms`);
    const s = pool.stats();
    assert.equal(s.created, 5, "no more than 5 sockets");
    assert.equal(s.idle, 5);
    assert.equal(s.borrowed, 0);
    assert.equal(server.sockets.length, 5);
    t.diagnostic(
      `overhead over the floor: 5 → ${(five - DELAY).toFixed(1)} ms, 20 → ${(twenty - 4 * DELAY).toFixed(1)} ms`,
    );
  });
});
