import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AbortError, InvalidArgumentError, ReadTimeoutError } from "sockpool";
import { armCancel, withCancel } from "../../src/internal/cancel.js";
import { deferred } from "../../src/internal/deferred.js";
import { Fifo } from "../../src/internal/fifo.js";
import { validateOptions } from "../../src/internal/validate.js";

const timeoutError = (ms: number) => new ReadTimeoutError("op", ms, "here");

/** armCancel's timers are unref'd (they never keep a process alive), so tests hold the loop open. */
async function keepAlive<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 1_000);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

describe("armCancel", () => {
  it("fires the timeout once and removes the abort listener", async () => {
    const ac = new AbortController();
    const fired = deferred<Error>();
    armCancel("op", { signal: ac.signal, timeout: 5 }, timeoutError, fired.resolve);
    assert.equal(getEventListeners(ac.signal, "abort").length, 1);
    const err = await keepAlive(fired.promise);
    assert.ok(err instanceof ReadTimeoutError);
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
    ac.abort();
  });

  it("fires on abort with the reason, and disarm leaves nothing behind", () => {
    const ac = new AbortController();
    const seen: Error[] = [];
    armCancel("op", { signal: ac.signal }, timeoutError, (e) => seen.push(e));
    ac.abort("why");
    ac.abort("again");
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof AbortError);
    assert.equal(seen[0]?.cause, "why");

    const other = new AbortController();
    const disarm = armCancel("op", { signal: other.signal, timeout: 1_000 }, timeoutError, () => assert.fail("fired"));
    disarm();
    disarm();
    assert.equal(getEventListeners(other.signal, "abort").length, 0);
    other.abort();
  });

  it("calls onCancel synchronously for an already aborted signal", () => {
    let seen: Error | undefined;
    armCancel("op", { signal: AbortSignal.abort("early") }, timeoutError, (e) => (seen = e));
    assert.ok(seen instanceof AbortError);
  });

  it("treats a timeout past setTimeout's 2^31-1 ms limit as none instead of firing at once", async () => {
    let fired = false;
    const disarm = armCancel("op", { timeout: 2 ** 31 }, timeoutError, () => (fired = true));
    await keepAlive(new Promise((r) => setTimeout(r, 30)));
    assert.equal(fired, false);
    disarm();
  });

  it("withCancel passes the result through and undoes on cancel", async () => {
    assert.equal(await withCancel("op", Promise.resolve(7), { timeout: 1_000 }, timeoutError), 7);
    let undone = false;
    await assert.rejects(
      keepAlive(withCancel("op", new Promise(() => {}), { timeout: 1 }, timeoutError, () => (undone = true))),
      ReadTimeoutError,
    );
    assert.equal(undone, true);
  });
});

describe("Fifo", () => {
  it("property: behaves like an array queue under any push/shift sequence", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.nat(), fc.constant(-1)), { maxLength: 3000 }), (ops) => {
        const q = new Fifo<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op >= 0) {
            q.push(op);
            model.push(op);
          } else assert.equal(q.shift(), model.shift());
          assert.equal(q.length, model.length);
          assert.equal(q.peek(), model[0]);
        }
        assert.deepEqual([...q], model);
      }),
    );
  });
});

describe("validateOptions", () => {
  const schema = { timeout: "ms", max: "count", name: "string", old: { renamed: "timeout" } } as const;

  it("accepts good values and skips undefined", () => {
    validateOptions("x options", { timeout: 0, max: 3, name: "n", old: undefined }, schema);
    validateOptions("x options", undefined, schema);
  });

  for (const [opts, needle] of [
    [{ timeout: -1 }, "x options.timeout must be a finite number of ms ≥ 0, got -1"],
    [{ timeout: Number.NaN }, "timeout"],
    [{ max: 0 }, "x options.max must be an integer ≥ 1, got 0"],
    [{ max: 1.5 }, "1.5"],
    [{ name: 5 }, "must be a string"],
    [{ old: 5 }, "was renamed: use timeout"],
    [{ tyop: 1 }, 'unknown option "tyop"'],
  ] as const) {
    it(`rejects ${JSON.stringify(opts)}`, () => {
      assert.throws(
        () => validateOptions("x options", opts, schema),
        (err: unknown) => err instanceof InvalidArgumentError && err.message.includes(needle),
      );
    });
  }

  it("rejects a non-object", () => {
    assert.throws(() => validateOptions("x options", 5, schema), /must be an object, got 5/);
  });
});
