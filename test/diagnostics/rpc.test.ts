import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { DIAGNOSTICS_CHANNELS as CH, RemoteError } from "sockpool";
import { openChannel } from "../../src/rpc/index.js";
import { assertNoOpenSockets, rejectsWith, TEST_TIMEOUT } from "../helpers/net.js";
import { rpcServer } from "../rpc/helpers.js";
import { phases, watchTrace } from "./helpers.js";

const opts = { timeout: TEST_TIMEOUT };
after(assertNoOpenSockets);

describe("rpc request tracing", () => {
  it("traces a request: start, end, then asyncStart and asyncEnd with the reply", opts, async (t) => {
    const server = await rpcServer(t, (payload) => Buffer.concat([Buffer.from("re: "), payload]));
    const channel = await openChannel(server.endpoint);
    t.after(() => channel.destroy());
    const traced = watchTrace(t, CH.rpcRequest);
    const reply = await channel.request("hello");
    assert.equal(reply.toString(), "re: hello");
    assert.deepEqual(phases(traced), ["start", "end", "asyncStart", "asyncEnd"]);
    assert.deepEqual(traced[0]?.[1], { where: channel.where, payload: "hello" });
    assert.deepEqual(traced[3]?.[1], { where: channel.where, payload: "hello", result: reply });
  });

  it("traces a failed request: error with the RemoteError, then asyncStart and asyncEnd", opts, async (t) => {
    const server = await rpcServer(t, () => {
      throw new Error("no such method");
    });
    const channel = await openChannel(server.endpoint);
    t.after(() => channel.destroy());
    const traced = watchTrace(t, CH.rpcRequest);
    const err = await rejectsWith(channel.request("x"), RemoteError, "ERR_SOCKPOOL_REMOTE", "no such method");
    assert.deepEqual(phases(traced), ["start", "end", "error", "asyncStart", "asyncEnd"]);
    assert.equal(traced[2]?.[1].error, err);
    assert.equal(traced[4]?.[1].error, err);
  });

  it("traces a request rejected before sending (the channel is closed)", opts, async (t) => {
    const server = await rpcServer(t, (payload) => payload);
    const channel = await openChannel(server.endpoint);
    channel.destroy();
    const traced = watchTrace(t, CH.rpcRequest);
    await assert.rejects(channel.request("late"), { code: "ERR_SOCKPOOL_CONNECTION_CLOSED" });
    assert.deepEqual(phases(traced), ["start", "end", "error", "asyncStart", "asyncEnd"]);
  });
});
