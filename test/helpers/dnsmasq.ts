import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import dns from "node:dns";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

/** The dnsmasq binary (Debian's dnsmasq-base puts it in /usr/sbin), or undefined if missing. */
export const DNSMASQ = ["dnsmasq", "/usr/sbin/dnsmasq"].find((bin) => spawnSync(bin, ["--version"]).status === 0);

// Locally a missing dnsmasq skips with a reason; under CI it must fail loudly.
export const dnsmasqSkip =
  DNSMASQ === undefined && !process.env.CI
    ? "dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run installs it)"
    : false;

/** DNS records for a test: SRV records and the A records of their targets. */
export interface DnsRecords {
  srv?: { name: string; target: string; port: number; priority?: number; weight?: number }[];
  /** Name → its IPv4 addresses. */
  a?: Record<string, string[]>;
  /** TTL of every answer, in seconds. Default 1. */
  ttl?: number;
}

/** A real DNS server on a free loopback UDP/TCP port, serving the records a test gave it. */
export interface Dnsmasq {
  readonly port: number;
  /** A resolver that asks this server only (a short timeout, one try). */
  resolver(): dns.promises.Resolver;
  /**
   * Stops the server and starts it again on the same port with `records`: dnsmasq does not
   * re-read SRV records from its configuration on SIGHUP.
   */
  restart(records: DnsRecords): Promise<void>;
  /** Stops it (SIGTERM); resolves once it has exited. */
  stop(): Promise<void>;
}

/** The configuration file dnsmasq reads: one `srv-host` or `host-record` line per record. */
function config(records: DnsRecords): string {
  const lines = (records.srv ?? []).map(
    (r) => `srv-host=${r.name},${r.target},${r.port},${r.priority ?? 0},${r.weight ?? 1}`,
  );
  for (const [name, addresses] of Object.entries(records.a ?? {})) {
    for (const address of addresses) lines.push(`host-record=${name},${address}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Starts dnsmasq in the foreground on 127.0.0.1:`port` with `records` written to a
 * configuration file (no upstream, no /etc/hosts), and resolves once it logs "started".
 * Rejects if it exits first (its log says why).
 */
async function launch(port: number, file: string, records: DnsRecords): Promise<ChildProcess> {
  writeFileSync(file, config(records));
  const args = [
    "--keep-in-foreground",
    "--no-resolv",
    "--no-hosts",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--pid-file=",
    "--log-facility=-",
    `--local-ttl=${records.ttl ?? 1}`,
    `--conf-file=${file}`,
  ];
  const child = spawn(DNSMASQ as string, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const started = new Promise<void>((resolve, reject) => {
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("started, version")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`dnsmasq on port ${port} exited with ${code}: ${log}`)));
  });
  await started;
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

/** Starts dnsmasq with `records` on a free port; it is stopped after the test. */
export async function startDnsmasq(t: TestContext, records: DnsRecords): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), "sockpool-dns-"));
  const file = join(dir, "dnsmasq.conf");
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; child === undefined; attempt++) {
    port = await freeUdpPort();
    try {
      child = await launch(port, file, records);
    } catch (err) {
      if (attempt >= 4) throw err; // the port was taken in between (TCP or UDP): try another
    }
  }
  let current: ChildProcess = child;
  t.after(async () => {
    await terminate(current);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    port,
    resolver() {
      const resolver = new dns.promises.Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([`127.0.0.1:${port}`]);
      return resolver;
    },
    async restart(next) {
      await terminate(current);
      current = await launch(port, file, next);
    },
    stop: () => terminate(current),
  };
}
