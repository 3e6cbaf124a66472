import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AbortError,
  ConnectError,
  ConnectionClosedError,
  ConnectionResetError,
  IncompleteReadError,
  InvalidArgumentError,
  ReadTimeoutError,
  SocketError,
  SockpoolError,
} from "sockpool";
import { wrapSocketError } from "../src/errors.js";

describe("errors", () => {
  it("sets name, code and cause, and is a SockpoolError", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const err = new ConnectError("127.0.0.1:9", cause);
    assert.ok(err instanceof SockpoolError);
    assert.equal(err.name, "ConnectError");
    assert.equal(err.code, "ERR_SOCKPOOL_CONNECT");
    assert.equal(err.cause, cause);
    assert.equal(err.syscode, "ECONNREFUSED");
    assert.match(err.message, /127\.0\.0\.1:9/);
  });

  it("names the abort error AbortError and keeps the signal's reason", () => {
    const err = new AbortError("acquire", "shutting down");
    assert.equal(err.name, "AbortError");
    assert.equal(err.cause, "shutting down");
  });

  it("carries data, not just text", () => {
    const err = new IncompleteReadError(Buffer.from("ab"), 5);
    assert.deepEqual([err.partial.toString(), err.expected], ["ab", 5]);
    assert.match(err.message, /after 2 bytes while waiting for 5 bytes/);
  });

  it("instanceof works across two copies of sockpool: classes compare a registry brand", () => {
    // What a second installed copy's ConnectError looks like to this copy: another prototype
    // chain, the same Symbol.for brand.
    const foreign = Object.assign(Object.create(Error.prototype) as Error, { message: "elsewhere" });
    Object.defineProperty(foreign, Symbol.for("sockpool.error.code"), { value: "ERR_SOCKPOOL_CONNECT" });
    assert.ok(foreign instanceof ConnectError);
    assert.ok(foreign instanceof SockpoolError);
    assert.ok(!(foreign instanceof AbortError), "another code is another class");
    assert.ok(!(new Error("plain") instanceof SockpoolError));
    assert.ok(!((null as unknown as object) instanceof SockpoolError));
  });

  it("types each class's code as its literal, and puts the peer on errors about one", () => {
    const closed = new ConnectionClosedError("read", "10.0.0.1:80");
    const literal: "ERR_SOCKPOOL_CONNECTION_CLOSED" = closed.code;
    assert.equal(literal, ConnectionClosedError.CODE);
    assert.deepEqual([closed.peer, closed.operation], ["10.0.0.1:80", "read"]);
    const timeout = new ReadTimeoutError("readLine()", 50, "10.0.0.2:81");
    assert.deepEqual([timeout.peer, timeout.timeout], ["10.0.0.2:81", 50]);
  });

  it("wraps resets and other system errors, keeping the cause", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const pipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    const other = Object.assign(new Error("boom"), { code: "EIO" });
    assert.ok(wrapSocketError(reset, "x") instanceof ConnectionResetError);
    assert.ok(wrapSocketError(pipe, "x") instanceof ConnectionResetError);
    const wrapped = wrapSocketError(other, "x");
    assert.ok(wrapped instanceof SocketError);
    assert.equal(wrapped.cause, other);
    const ours = new InvalidArgumentError("no");
    assert.equal(wrapSocketError(ours, "x"), ours);
  });
});
