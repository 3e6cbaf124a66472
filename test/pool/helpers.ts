import type { TestContext } from "node:test";
import { type Connection, connect } from "sockpool";
import { deferred } from "../../src/internal/deferred.js";
import { SocketPool, type SocketPoolOptions } from "../../src/pool/index.js";

/** A pool closed (quickly) after the test. */
export function testPool(t: TestContext, options?: SocketPoolOptions): SocketPool {
  const pool = new SocketPool(options);
  t.after(() => pool.close({ timeout: 100 }));
  return pool;
}

/**
 * A dialer that holds every dial until the test opens it: `gate.open()` lets the next held
 * dial through (or all, with `openAll`), so races happen on purpose.
 */
export function gatedDial() {
  const held: Array<() => void> = [];
  const arrived: Array<(n: number) => void> = [];
  let started = 0;
  const dial: NonNullable<SocketPoolOptions["dial"]> = async (endpoint, options) => {
    started++;
    for (const r of arrived.splice(0)) r(started);
    const gate = deferred<void>();
    held.push(gate.resolve);
    await gate.promise;
    return connect(endpoint, options);
  };
  return {
    dial,
    get started() {
      return started;
    },
    /** Resolves once `n` dials have started. */
    async dialsStarted(n: number): Promise<void> {
      while (started < n) await new Promise<number>((r) => arrived.push(r));
    },
    open(): void {
      held.shift()?.();
    },
    openAll(): void {
      for (const r of held.splice(0)) r();
    },
  };
}

/** Writes `text` and reads one line back (the echo servers answer line for line). */
export async function ping(conn: Connection, text = "ping"): Promise<string | null> {
  await conn.write(`${text}\n`);
  return conn.readLine();
}
