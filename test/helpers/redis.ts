import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { createClient } from "redis";
import { closedPort } from "./net.js";

/** Whether redis-server is installed. */
export const redisAvailable = spawnSync("redis-server", ["--version"]).status === 0;

/** `skip` for suites that need redis-server: a reason locally, never under CI (which must fail). */
export const skipWithoutRedis =
  !redisAvailable && !process.env.CI ? "redis-server is not installed (apt-get install redis-server)" : false;

/** A redis-server of one test: loopback, a free port, no persistence, its own directory. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Stops it (SIGKILL: a crash, every connection reset) and resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted). */
  restart(): Promise<void>;
  /** Runs one command on an admin connection of its own. */
  command(args: string[]): Promise<unknown>;
  /** Kills the connections whose CLIENT SETNAME matches `pattern`; resolves with how many. */
  kill(pattern: RegExp): Promise<number>;
}

/**
 * Starts redis-server for this test (stopped in `t.after`) and resolves once it answers
 * PING. Fails with a clear message under CI when redis-server is missing.
 */
export async function startRedis(t: TestContext): Promise<TestRedis> {
  assert.ok(redisAvailable, "redis-server must be installed under CI (apt-get install redis-server)");
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), "sockpool-redis-"));
  let child: ChildProcess | undefined;
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, "exit");
    c.kill("SIGKILL");
    await exited;
  };
  const start = async () => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
    const c = spawn("redis-server", args, { stdio: ["ignore", "pipe", "inherit"] });
    child = c;
    let out = "";
    c.stdout?.setEncoding("utf8").on("data", (s: string) => {
      if (out.length < 10_000) out += s;
    });
    // Ready when it says so on stdout; the exit of a server that could not start rejects.
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (/Ready to accept connections/.test(out)) {
          c.stdout?.off("data", check);
          c.off("exit", onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) =>
        reject(new Error(`redis-server exited (${code}) on port ${port}:\n${out}`));
      c.stdout?.on("data", check);
      c.once("exit", onExit);
    });
    c.stdout?.resume();
  };
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  const url = `redis://127.0.0.1:${port}`;
  const command = async (args: string[]) => {
    const admin = createClient({ url, socket: { reconnectStrategy: false } });
    admin.on("error", () => {});
    await admin.connect();
    try {
      return await admin.sendCommand(args);
    } finally {
      admin.destroy();
    }
  };
  return {
    port,
    url,
    stop,
    async restart() {
      await stop();
      await start();
    },
    command,
    async kill(pattern) {
      const list = String(await command(["CLIENT", "LIST"]));
      let n = 0;
      for (const line of list.split("\n")) {
        const id = /\bid=(\d+)/.exec(line)?.[1];
        const name = /\bname=(\S*)/.exec(line)?.[1] ?? "";
        if (id && pattern.test(name)) n += Number(await command(["CLIENT", "KILL", "ID", id]));
      }
      return n;
    },
  };
}

/** A port where nothing listens, as a redis:// URL. */
export async function closedRedisUrl(): Promise<string> {
  return `redis://127.0.0.1:${await closedPort()}`;
}
