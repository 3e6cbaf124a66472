import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";

/** Upper bound for one test; every test passes it as `{ timeout }`. */
export const TEST_TIMEOUT = 20_000;

export interface TestServer {
  readonly server: net.Server;
  readonly port: number;
  /** `127.0.0.1:port` */
  readonly endpoint: string;
  /** Every socket the server accepted, in order. */
  readonly sockets: net.Socket[];
  /** Resolves with the n-th accepted socket (1-based). */
  nthConnection(n: number): Promise<net.Socket>;
  close(): Promise<void>;
}

/**
 * A raw `net` server on 127.0.0.1, port 0, closed (with every accepted socket destroyed)
 * after the test. The handler gets each accepted socket.
 */
export async function rawServer(
  t: TestContext,
  handler: (socket: net.Socket) => void,
  options: net.ServerOpts & { host?: string } = {},
): Promise<TestServer> {
  const { host = "127.0.0.1", ...serverOptions } = options;
  const sockets: net.Socket[] = [];
  const waiting = new Map<number, (s: net.Socket) => void>();
  const server = net.createServer(serverOptions, (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    waiting.get(sockets.length)?.(socket);
    handler(socket);
  });
  server.listen(0, host);
  await once(server, "listening");
  const close = async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  };
  t.after(close);
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    endpoint: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    sockets,
    nthConnection(n) {
      const s = sockets[n - 1];
      if (s) return Promise.resolve(s);
      return new Promise((resolve) => waiting.set(n, resolve));
    },
    close,
  };
}

/** A raw server that echoes every chunk back. */
export function echoServer(t: TestContext): Promise<TestServer> {
  return rawServer(t, (s) => s.pipe(s));
}

/** A port on 127.0.0.1 with nothing listening (bound then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SOCKET_HANDLES = new Set(["TCPSocketWrap", "TCPServerWrap", "PipeWrap", "PipeServerWrap", "TLSWrap"]);

/** How many socket handles (TCP, pipes, TLS) are open in this process. */
export function socketHandleCount(): number {
  return process.getActiveResourcesInfo().filter((r) => SOCKET_HANDLES.has(r)).length;
}

/** Handles open before any test ran: the runner's own stdio pipes. */
const baseline = socketHandleCount();

/** Socket handles (TCP, pipes, TLS) this process opened beyond its stdio pipes. */
export function openSocketHandles(): string[] {
  const open = process.getActiveResourcesInfo().filter((r) => SOCKET_HANDLES.has(r));
  return open.length > baseline ? open : [];
}

/**
 * For each file's `after` hook: asserts that no TCP/pipe handle is left open, waiting a few
 * turns of the event loop for closes already under way.
 */
export async function assertNoOpenSockets(): Promise<void> {
  for (let i = 0; i < 50 && socketHandleCount() > baseline; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(openSocketHandles(), [], "sockets left open after the tests");
}

/** Resolves when `predicate` holds, checking after each turn of the event loop. Bounded. */
export async function until(predicate: () => boolean, what: string, limitMs = 5_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Asserts that `promise` rejects with an error of `cls` whose code is `code`. */
export async function rejectsWith(
  promise: Promise<unknown>,
  cls: abstract new (...args: never[]) => Error,
  code: string,
  messageIncludes?: string,
): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof cls, `expected ${cls.name}, got ${String(caught)}`);
  assert.equal((caught as { code?: string }).code, code);
  if (messageIncludes !== undefined) assert.ok(caught.message.includes(messageIncludes), caught.message);
  return caught;
}
