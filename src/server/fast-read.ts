import net from "node:net";

/**
 * The fast read path of accepted sockets: reads land in one reused buffer instead of a fresh
 * 64 KiB allocation per read (Node's `'data'` path). Node gives the public `onread` option
 * to `net.connect` only; a `net.Server` builds its sockets without it. So the server listens
 * with `pauseOnConnect` and wraps each accepted socket's handle in a new `net.Socket` that has
 * `onread`. That touches Node internals (`_handle`, `_server`, `server._connections`), so it
 * runs only where they look exactly as tested, and falls back to the public path by itself
 * otherwise (docs/architecture.md, "The fast read path", says how to remove it once Node
 * offers a public way).
 *
 * Whoever receives a borrowed chunk (see {@link adoptSocket}) must copy what it keeps before
 * returning: the next read on any accepted socket overwrites it.
 */

/** How a server reads its accepted sockets: `onread` (the reused buffer) or `data` (public). */
export type ReadPath = "onread" | "data";

/** Node major versions whose internals the fast path was tested against. */
export const TESTED_NODE_MAJORS: readonly number[] = [20, 22, 24];

/**
 * The one buffer every adopted socket reads into. Reads run one at a time on the event loop
 * and each is handed over synchronously, so one buffer serves the whole process. 64 KiB is
 * what Node reads at once on the public path, so chunks are cut the same way on both paths
 * (a larger read would let one event-loop turn carry more lines into, say, a broadcast).
 */
const READ_BUFFER_BYTES = 64 * 1024;
let readBuffer: Buffer | undefined;

/** Node's private parts the fast path reads and writes. */
interface SocketInternals {
  _handle: HandleInternals | null;
  _server: net.Server | null;
  server: net.Server | null;
}
interface HandleInternals {
  reading?: unknown;
  readStart?: unknown;
  readStop?: unknown;
  useUserBuffer?: unknown;
}
interface ServerInternals {
  _connections?: unknown;
}

/** What decides whether Node's internals are as tested; replaceable in tests. */
export interface NodeInternals {
  /** `process.versions.node`. */
  version: string;
  /** The `net.Socket` class. */
  Socket: typeof net.Socket;
}

/**
 * Why the fast path cannot run on `node` (undefined when it can). Checks, without I/O: the
 * Node major version is one tested; a `net.Socket` made with `onread` keeps the buffer and
 * callback it was given; its `_destroy` still decrements its server's `_connections` (which
 * keeps `server.close()` working for a re-wrapped socket); `pause` stops the handle.
 */
export function fastReadProblem(node: NodeInternals): string | undefined {
  const major = Number(node.version.split(".")[0]);
  if (!TESTED_NODE_MAJORS.includes(major)) {
    return `Node ${node.version} is not one the fast read path was tested on (${TESTED_NODE_MAJORS.join(", ")})`;
  }
  const proto = node.Socket.prototype as unknown as Record<string, unknown>;
  if (!sourceHas(proto._destroy, "this._server._connections--")) {
    return "net.Socket's _destroy no longer counts down its server's _connections";
  }
  if (
    !sourceHas(proto.pause, "this[kBuffer]", "readStop()") ||
    !sourceHas(proto.resume, "this[kBuffer]", "tryReadStart(")
  ) {
    return "net.Socket's pause/resume no longer stop and start an onread socket's handle";
  }
  const buffer = Buffer.alloc(1);
  const callback = (): void => {};
  let probe: net.Socket;
  try {
    probe = new node.Socket({ onread: { buffer, callback } } as net.SocketConstructorOpts);
  } catch (err) {
    return `new net.Socket({ onread }) throws: ${(err as Error).message}`;
  }
  const kept = Object.getOwnPropertySymbols(probe).map((s) => (probe as unknown as Record<symbol, unknown>)[s]);
  probe.destroy();
  if (!kept.includes(buffer) || !kept.includes(callback)) return "net.Socket ignores its onread option";
  return undefined;
}

/**
 * {@link fastReadProblem} for the running Node. Each server asks when it is made (it costs
 * one socket object without a handle), so a change to `net` made at run time is seen.
 */
export function runningNodeProblem(): string | undefined {
  return fastReadProblem({ version: process.versions.node, Socket: net.Socket });
}

/**
 * Re-wraps the accepted `socket` (from a `pauseOnConnect` listener) so that it reads into the
 * shared buffer: `onRead(nread, buffer)` runs with the socket as `this` for every read, and the
 * bytes `buffer[0, nread)` are borrowed until it returns. Returns the new socket, which owns
 * the handle and counts toward `listener`'s connections (the old one is destroyed without
 * touching either), or undefined when the socket is not as tested (then nothing was changed
 * and the caller serves `socket` on the public path, resuming it).
 */
export function adoptSocket(
  socket: net.Socket,
  listener: net.Server,
  onRead: (this: net.Socket, nread: number, buffer: Buffer) => void,
): net.Socket | undefined {
  const old = socket as unknown as SocketInternals;
  const handle = old._handle;
  const count = (listener as unknown as ServerInternals)._connections;
  const asTested =
    socket.constructor === net.Socket &&
    old._server === listener &&
    typeof count === "number" &&
    count >= 1 &&
    handle !== null &&
    typeof handle === "object" &&
    handle.reading === false &&
    typeof handle.readStart === "function" &&
    typeof handle.readStop === "function" &&
    typeof handle.useUserBuffer === "function" &&
    !socket.destroyed &&
    socket.readableFlowing === false &&
    socket.readableLength === 0 &&
    socket.listenerCount("data") === 0;
  if (!asTested) return undefined;
  readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES); // its own memory, never Node's pool
  const adopted = new net.Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: { buffer: readBuffer, callback: onRead },
  } as net.SocketConstructorOpts);
  // The new socket took the handle (and started reading); the old one lets go of the handle
  // and the server, so destroying it closes nothing and counts nothing down.
  old._handle = null;
  old._server = null;
  old.server = null;
  socket.destroy();
  const fresh = adopted as unknown as SocketInternals;
  fresh._server = listener;
  fresh.server = listener;
  return adopted;
}

/** A copy of a borrowed chunk, for a consumer that keeps it (small ones come from Node's pool). */
export function copyOf(chunk: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(chunk.length);
  copy.set(chunk);
  return copy;
}

/** Whether `data` lies in the shared read buffer: borrowed bytes, overwritten by the next read. */
export function isBorrowed(data: string | Uint8Array): data is Uint8Array {
  return readBuffer !== undefined && typeof data !== "string" && data.buffer === readBuffer.buffer;
}

/**
 * Where borrowed bytes are copied to be written. A write the kernel takes at once keeps no
 * reference, so the next one reuses it; a write that must wait keeps it, and the next write
 * gets a fresh one.
 */
let writeScratch: Buffer | undefined;

/**
 * Writes borrowed bytes to `socket` without letting the write keep a reference into the
 * shared read buffer: a write that will be queued behind others gets its own copy; otherwise
 * the bytes go through the reused write scratch, which the write keeps only if the kernel
 * did not take all of it. Returns what `socket.write` returned.
 */
export function writeBorrowed(socket: net.Socket, view: Uint8Array): boolean {
  if (socket.writableLength > 0 || socket.writableCorked > 0) return socket.write(copyOf(view));
  let scratch = writeScratch;
  if (scratch === undefined || scratch.length < view.length) {
    scratch = Buffer.allocUnsafeSlow(Math.max(READ_BUFFER_BYTES, view.length));
  }
  scratch.set(view);
  writeScratch = undefined; // lent to this write until we know it completed
  const ok = socket.write(scratch.subarray(0, view.length));
  if (socket.writableLength === 0) writeScratch = scratch; // the kernel took it all: reuse
  return ok;
}

function sourceHas(fn: unknown, ...texts: string[]): boolean {
  if (typeof fn !== "function") return false;
  const source = Function.prototype.toString.call(fn);
  return texts.every((text) => source.includes(text));
}
