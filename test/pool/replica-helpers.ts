import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type {
  AddressWithTtl,
  Connection,
  ServiceResolver,
  SocketPool,
  SrvRecordLike,
  TargetInput,
  UseOptions,
} from "sockpool";
import { rawServer, type TestServer } from "../helpers/net.js";

/** A line echo server (in this process) that counts the lines it was sent. */
export interface CountingServer extends TestServer {
  readonly lines: number;
}

/** A line echo server on `host` (default 127.0.0.1), port 0, closed after the test; counts lines. */
export async function countingEcho(t: TestContext, host = "127.0.0.1"): Promise<CountingServer> {
  let lines = 0;
  const server = await rawServer(
    t,
    (s) => {
      s.on("data", (chunk: Buffer) => {
        for (const byte of chunk) if (byte === 10) lines++;
        s.write(chunk);
      });
    },
    { host },
  );
  return Object.defineProperty(server, "lines", { get: () => lines }) as CountingServer;
}

const replicaApp = fileURLToPath(new URL("./fixtures/echo-replica.js", import.meta.url));

/** A line echo server in a child process, so a test can kill it (SIGKILL) like a crash. */
export interface ReplicaProcess {
  readonly port: number;
  readonly endpoint: string;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<void>;
}

/** Starts a replica process on 127.0.0.1:`port` (0: a free one); killed after the test. */
export async function startReplica(t: TestContext, port = 0): Promise<ReplicaProcess> {
  const child: ChildProcess = fork(replicaApp, [String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  t.after(kill);
  const [bound] = (await Promise.race([
    once(child, "message"),
    once(child, "exit").then(([code]) => {
      throw new Error(`replica on port ${port} exited with ${code} before listening`);
    }),
  ])) as [number];
  return { port: bound, endpoint: `127.0.0.1:${bound}`, kill };
}

/** A resolver that answers from `answer()`: SRV records and addresses by name, or an error to throw. */
export interface StubAnswer {
  srv?: SrvRecordLike[];
  /** name → IPv4 addresses (TTL `ttl` seconds). */
  a?: Record<string, string[]>;
  ttl?: number;
}

/** A ServiceResolver over `answer()` (called on every query), counting the queries. */
export function stubResolver(answer: () => StubAnswer | Error): ServiceResolver & { queries: number } {
  const get = (): StubAnswer => {
    const a = answer();
    if (a instanceof Error) throw a;
    return a;
  };
  const notFound = (name: string) => Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: "ENOTFOUND" });
  const stub = {
    queries: 0,
    async resolveSrv(name: string): Promise<SrvRecordLike[]> {
      stub.queries++;
      const srv = get().srv;
      if (srv === undefined) throw notFound(name);
      return srv;
    },
    async resolve4(host: string): Promise<AddressWithTtl[]> {
      stub.queries++;
      const a = get();
      const list = a.a?.[host];
      if (list === undefined) throw notFound(host);
      return list.map((address) => ({ address, ttl: a.ttl ?? 0 }));
    },
    async resolve6(host: string): Promise<AddressWithTtl[]> {
      throw notFound(host);
    },
  };
  return stub;
}

/** A port on 127.0.0.1 nothing listens on, and a way to listen there later (an echo server). */
export async function listenOn(t: TestContext, port: number): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  t.after(async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  });
  return server;
}

/** One idempotent-or-not echo request: writes a line, throws unless the same line comes back. */
export async function echoLine(conn: Connection, text = "ping"): Promise<string> {
  await conn.write(`${text}\n`);
  const reply = await conn.readLine();
  if (reply !== text) throw new Error(`expected ${JSON.stringify(text)} back, got ${JSON.stringify(reply)}`);
  return reply;
}

/**
 * Runs `n` echo requests through `pool.use(target, …)`, `concurrency` at a time. Resolves
 * with the errors of the requests that failed (none, unless `tolerate` is set, in which case
 * they are collected rather than thrown).
 */
export async function runRequests(
  pool: SocketPool,
  target: TargetInput,
  n: number,
  concurrency: number,
  options: UseOptions & { tolerate?: boolean } = { retryOnStale: true },
): Promise<unknown[]> {
  const { tolerate = false, ...useOptions } = options;
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      try {
        await pool.use(target, (c) => echoLine(c), useOptions);
      } catch (err) {
        if (!tolerate) throw err;
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return errors;
}

/** Borrows until a socket to `port` comes up (the others go back); rejects after 200 tries. */
export async function borrowOn(pool: SocketPool, target: TargetInput, port: number): Promise<Connection> {
  const others: Connection[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const conn = await pool.acquire(target);
      if (conn.remotePort === port) return conn;
      others.push(conn);
    }
    throw new Error(`no socket to port ${port} in 200 acquires`);
  } finally {
    for (const c of others) await pool.release(c);
  }
}
