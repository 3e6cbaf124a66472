import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

/** The haproxy binary (Debian's haproxy puts it in /usr/sbin), or undefined if missing. */
export const HAPROXY = ["/usr/sbin/haproxy", "haproxy"].find((bin) => spawnSync(bin, ["-v"]).status === 0);

/** The binary, or an error that says how to install it: a test behind HAProxy fails without it. */
export function requireHaproxy(): string {
  if (HAPROXY === undefined) {
    throw new Error("haproxy is not installed: apt-get install haproxy (.ci/run installs it)");
  }
  return HAPROXY;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A running HAProxy. */
export interface Haproxy {
  /** What it printed so far (stdout and stderr). */
  log(): string;
  /** Stops it (SIGTERM); resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `haproxy -f CFG -db` (foreground, no daemon) with `config` written to a temporary
 * file, after checking the file with `-c`. It is stopped after the test. Rejects if the
 * configuration is refused or it exits at once (its output says why). Whoever calls this
 * waits for it to be ready by an event of its own (a health check reaching a server).
 */
export async function startHaproxy(t: TestContext, config: string): Promise<Haproxy> {
  const bin = requireHaproxy();
  const dir = mkdtempSync(join(tmpdir(), "sockpool-haproxy-"));
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  const check = spawnSync(bin, ["-c", "-f", file], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`haproxy refused its configuration:\n${check.stdout}${check.stderr}`);
  const child: ChildProcess = spawn(bin, ["-f", file, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const append = (chunk: Buffer) => {
    log += chunk.toString();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  };
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((resolve) => setImmediate(resolve));
  if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${log}`);
  return { log: () => log, stop };
}
