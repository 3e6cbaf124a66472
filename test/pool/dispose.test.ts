import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { assertNoOpenSockets, echoServer, TEST_TIMEOUT } from "../helpers/net.js";
import { testPool } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("await using and the same Connection lent again", () => {
  it("a scope that released early does not give back the next borrower's socket on exit", opts, async (t) => {
    const srv = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    let b: Awaited<ReturnType<typeof pool.acquire>> | undefined;
    {
      await using a = await pool.acquire(srv.endpoint);
      const next = pool.acquire(srv.endpoint); // waits for the only socket
      await pool.release(a);
      b = await next;
      assert.equal(b, a, "the pool lends the same Connection object again");
    } // A's scope ends here, after B got the socket
    assert.equal(pool.stats().borrowed, 1, "B still holds its socket");
    await b.write("still mine\n");
    assert.equal(await b.readLine(), "still mine");
    await pool.release(b);
    assert.equal(pool.stats().borrowed, 0);
  });

  it("a scope exit releases its own borrow exactly once", opts, async (t) => {
    const srv = await echoServer(t);
    const pool = testPool(t, { maxSocketsPerEndpoint: 1 });
    {
      await using c = await pool.acquire(srv.endpoint);
      await c.write("x\n");
      assert.equal(await c.readLine(), "x");
    }
    assert.deepEqual([pool.stats().borrowed, pool.stats().idle], [0, 1]);
  });
});
