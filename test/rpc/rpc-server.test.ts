import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { after, describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { BadFrameError, ConnectionClosedError, InvalidArgumentError, RequestTimeoutError } from "sockpool";
import {
  createRpcEchoServer,
  createRpcServer,
  openChannel,
  type RpcHandler,
  type RpcServer,
  type RpcServerOptions,
} from "../../src/rpc/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT, until } from "../helpers/net.js";
import { gate, sleep } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

const PY_CLIENT = fileURLToPath(new URL("../../../test/rpc/py_client.py", import.meta.url));

async function listen(t: TestContext, server: RpcServer): Promise<string> {
  await server.listen({ host: "127.0.0.1", port: 0 });
  t.after(() => server.close({ timeout: 0 }));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

function start(t: TestContext, handler: RpcHandler, options?: RpcServerOptions) {
  const server = createRpcServer(handler, options);
  return listen(t, server).then((endpoint) => ({ server, endpoint }));
}

describe("createRpcServer", () => {
  it("serves a Python asyncio client written from the protocol document", opts, async (t) => {
    let cancelReason: unknown;
    const { server, endpoint } = await start(t, async (payload, ctx) => {
      const text = payload.toString();
      if (text === "fail") throw Object.assign(new Error("asked to fail ✗"), { code: "ERR_PY_TEST" });
      if (text === "hang") {
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        cancelReason = ctx.signal.reason;
        return "never sent";
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      return `echo:${text}`;
    });
    const port = endpoint.split(":")[1] as string;
    const { stdout } = await promisify(execFile)("python3", [PY_CLIENT, "127.0.0.1", port, "500"], { timeout: 15_000 });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(result, {
      count: 500,
      matched: 500,
      error: { code: "ERR_PY_TEST", message: "asked to fail ✗" },
      cancelled: true,
      pong: "are you there",
      after: "echo:after",
    });
    assert.equal((cancelReason as { code?: string }).code, "ERR_SOCKPOOL_ABORTED");
    const s = server.stats();
    assert.equal(s.requests, 503);
    assert.equal(s.replies, 501);
    assert.equal(s.errorReplies, 1);
    assert.equal(s.cancelled, 1);
    assert.equal(s.protocolErrors, 0);
  });

  it("closes a client that sends garbage, reports it, and keeps serving", opts, async (t) => {
    const { server, endpoint } = await start(t, (p) => p);
    const errors: unknown[] = [];
    server.on("error", (err) => errors.push(err));
    const good = await openChannel(endpoint);
    t.after(() => good.destroy());
    const bad = net.connect({ host: "127.0.0.1", port: Number(endpoint.split(":")[1]) });
    t.after(() => bad.destroy());
    await once(bad, "connect");
    bad.write(Buffer.from("00000006ee00000000ff", "hex"));
    await once(bad, "close");
    await until(() => server.stats().protocolErrors === 1, "protocol error counted");
    assert.ok(errors[0] instanceof BadFrameError, String(errors[0]));
    assert.equal((await good.request("still here")).toString(), "still here");
  });

  it("lets requests in flight finish on close, then ends the channel", opts, async (t) => {
    const hold = gate();
    let started = 0;
    const { server, endpoint } = await start(t, async (p) => {
      started++;
      await hold.promise;
      return p;
    });
    const ch = await openChannel(endpoint);
    t.after(() => ch.destroy());
    const pending = Array.from({ length: 10 }, (_, i) => ch.request(`w${i}`));
    await until(() => started === 10, "handlers running");
    const closing = server.close({ timeout: 5_000 });
    hold.open();
    assert.deepEqual(
      (await Promise.all(pending)).map(String),
      Array.from({ length: 10 }, (_, i) => `w${i}`),
    );
    await closing;
    const reason = await ch.closed;
    assert.ok(reason instanceof ConnectionClosedError, String(reason));
    assert.equal(server.stats().current, 0);
  });

  it("at maxConcurrent, a client's timeout cancels the running handler (counted)", opts, async (t) => {
    const reasons: unknown[] = [];
    const { server, endpoint } = await start(
      t,
      (_p, ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener("abort", () => resolve(void reasons.push(ctx.signal.reason)), { once: true }),
        ),
      { maxConcurrent: 1 },
    );
    const ch = await openChannel(endpoint);
    t.after(() => ch.destroy());
    await rejectsWith(ch.request("slow", { timeout: 50 }), RequestTimeoutError, "ERR_SOCKPOOL_REQUEST_TIMEOUT");
    await until(() => server.stats().cancelled === 1, "the cancel reached the busy server");
    assert.equal((reasons[0] as { code?: string }).code, "ERR_SOCKPOOL_ABORTED");
  });

  it("reads ahead at capacity only up to a bounded backlog, then applies backpressure", opts, async (t) => {
    const hold = gate();
    const { server, endpoint } = await start(
      t,
      async (p) => {
        await hold.promise;
        return p.subarray(0, 1);
      },
      { maxConcurrent: 2, maxFrameSize: 256 * 1024 },
    );
    const ch = await openChannel(endpoint, { maxInFlight: 200, maxFrameSize: 256 * 1024 });
    t.after(() => ch.destroy());
    const big = Buffer.alloc(60 * 1024, 1);
    const all = Array.from({ length: 200 }, () => ch.request(big)); // 12 MB, far past socket buffers
    await until(() => server.stats().requests >= 4, "two running, two queued");
    await sleep(200); // room for any further (wrong) reading
    // Running 2 + backlog bound (2 requests or 256 KiB) + the frames of one read.
    const read = server.stats().requests;
    assert.ok(read <= 6, `read ${read} requests while two handlers were stuck`);
    hold.open();
    assert.equal((await Promise.all(all)).length, 200);
    assert.equal(server.stats().replies, 200);
  });

  it("refuses line options and bad RPC limits", opts, () => {
    assert.throws(() => createRpcServer((p) => p, { maxLineLength: 10 } as never), InvalidArgumentError);
    assert.throws(
      () => createRpcServer((p) => p, { maxConcurrent: 0 }),
      (err: Error) => err instanceof InvalidArgumentError && err.message.includes("maxConcurrent"),
    );
  });
});

describe("createRpcEchoServer", () => {
  it("echoes each payload after the delay, concurrently", opts, async (t) => {
    const server = createRpcEchoServer({ delay: 100 });
    const endpoint = await listen(t, server);
    const ch = await openChannel(endpoint);
    t.after(() => ch.destroy());
    const start = performance.now();
    const pending = Promise.all(Array.from({ length: 20 }, (_, i) => ch.request(`e${i}`)));
    // All twenty delays run at once: none waits for another to finish.
    await until(() => server.stats().running === 20, "twenty handlers running at once");
    assert.equal(server.stats().replies, 0);
    const replies = await pending;
    for (const [i, r] of replies.entries()) assert.equal(r.toString(), `e${i}`);
    assert.ok(performance.now() - start >= 95, "each reply waited its delay");
    assert.equal(server.stats().running, 0);
    await rejectsWith(ch.request("slow", { timeout: 10 }), Error, "ERR_SOCKPOOL_REQUEST_TIMEOUT");
    await until(() => server.stats().cancelled === 1, "cancel reached the echo server");
  });
});
