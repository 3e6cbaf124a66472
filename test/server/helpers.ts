import { execFile, execFileSync } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type ListenOptions, Server, type ServerHandler, type ServerOptions } from "../../src/server/index.js";

const execFileAsync = promisify(execFile);

/** Listens on 127.0.0.1:0 (unless told otherwise); destroyed after the test. */
export async function serve(
  t: TestContext,
  handlerOrServer: ServerHandler | Server,
  options?: ServerOptions,
  listen: ListenOptions = {},
): Promise<{ server: Server; port: number; endpoint: string }> {
  const server = handlerOrServer instanceof Server ? handlerOrServer : new Server(handlerOrServer, options);
  t.after(() => server.close({ timeout: 0 }));
  await server.listen(listen);
  const address = server.address() as net.AddressInfo;
  return { server, port: address.port, endpoint: `127.0.0.1:${address.port}` };
}

/** A raw client socket, destroyed after the test, resolved once connected. */
export async function dial(
  t: TestContext,
  port: number,
  options: Partial<net.TcpNetConnectOpts> = {},
): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true, ...options });
  s.on("error", () => {});
  t.after(() => s.destroy());
  await once(s, "connect");
  return s;
}

/** Collects everything a socket receives; `text()` so far, `ended` at the peer's FIN or close. */
export function collect(s: net.Socket): { text(): string; bytes(): number; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  let n = 0;
  s.on("data", (c: Buffer) => {
    chunks.push(c);
    n += c.length;
  });
  const ended = new Promise<void>((r) => {
    s.once("end", () => r());
    s.once("close", () => r());
  });
  return { text: () => Buffer.concat(chunks).toString(), bytes: () => n, ended };
}

/** Resolves once the socket has received at least `n` bytes in total. */
export function received(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off("data", onData);
        s.off("close", onClose);
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${n} bytes`));
    s.on("data", onData);
    s.once("close", onClose);
  });
}

/**
 * Writes each message only once the server has read every byte sent before it (`readUpTo(n)`
 * resolves when it has read n bytes), so each arrives as its own chunk.
 */
export async function sendOneByOne(
  s: net.Socket,
  messages: string[],
  readUpTo: (n: number) => Promise<void>,
): Promise<void> {
  let sent = 0;
  for (const m of messages) {
    s.write(m);
    sent += Buffer.byteLength(m);
    await readUpTo(sent);
  }
}

/** Resolves with "FIN" when the peer ends its side, "RST" on a reset, or what happened instead. */
export function finOrReset(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once("end", () => resolve("FIN"));
    s.once("error", (err: Error & { code?: string }) => resolve(err.code === "ECONNRESET" ? "RST" : String(err.code)));
    s.once("close", () => resolve("closed without FIN"));
  });
}

/** test/server/fixtures/ack_client.py (from dist/test/…): an asyncio Protocol client. */
export const ACK_CLIENT = fileURLToPath(new URL("../../../test/server/fixtures/ack_client.py", import.meta.url));

/**
 * Runs the Python asyncio client: it sends `message` as it is and reports whether a complete
 * answer (a newline) came back within `timeoutS` seconds, and what came back.
 */
export async function pythonAckClient(
  port: number,
  message: string,
  timeoutS = 3,
): Promise<{ outcome: string; received: string }> {
  const args = [ACK_CLIENT, "127.0.0.1", String(port), message, String(timeoutS)];
  const { stdout } = await execFileAsync("python3", args, { timeout: (timeoutS + 10) * 1000 });
  return JSON.parse(stdout);
}

/** Whether `ss` (iproute2) runs here: the tests that watch another process's sockets need it. */
export function hasSs(): boolean {
  try {
    execFileSync("ss", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** For `it(..., { skip })`: under CI (.ci/run installs iproute2) a missing `ss` fails instead. */
export const needsSs: string | false = !process.env.CI && !hasSs() && "needs ss (iproute2)";

/**
 * Resolves once the process listening on `port` has read `bytes` bytes sent by each client
 * (by its local port) out of the kernel: `ss` shows the server side's `bytes_received`
 * reached and its receive queue empty. What a client sent is then inside that process (a
 * handler's buffer or Node's), not in a socket buffer. No event says so across processes,
 * so this polls `ss`, at most `limitMs`.
 */
export async function readByServer(port: number, clients: Map<number, number>, limitMs = 5_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let seen = new Map<number, { recvQ: number; received: number }>();
  for (;;) {
    seen = await serverSockets(port);
    const done = [...clients].every(([peer, bytes]) => {
      const s = seen.get(peer);
      return s !== undefined && s.recvQ === 0 && s.received >= bytes;
    });
    if (done) return;
    if (Date.now() > deadline) {
      throw new Error(`port ${port} did not read what its clients sent: ${JSON.stringify([...seen])}`);
    }
  }
}

/** The established sockets on local port `port`, by peer port: receive queue and bytes received. */
async function serverSockets(port: number): Promise<Map<number, { recvQ: number; received: number }>> {
  const { stdout } = await execFileAsync("ss", ["-tinH", "state", "established", `( sport = :${port} )`]);
  const out = new Map<number, { recvQ: number; received: number }>();
  let last: { recvQ: number; received: number } | undefined;
  for (const line of stdout.split("\n")) {
    const socket = /^(\d+)\s+\d+\s+\S+\s+\S+:(\d+)\s*$/.exec(line);
    if (socket) {
      last = { recvQ: Number(socket[1]), received: 0 };
      out.set(Number(socket[2]), last);
      continue;
    }
    const received = /bytes_received:(\d+)/.exec(line);
    if (received && last) last.received = Number(received[1]);
  }
  return out;
}
