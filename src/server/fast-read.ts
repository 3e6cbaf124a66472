import net from "node:net";

/**
 * The fast read path of accepted sockets: reads land in one reused buffer instead of a fresh
 * 64 KiB allocation per read (Node's `'data'` path). Node gives the public `onread` option
 * to `net.connect` only; a `net.Server` builds its sockets without it. So the server listens
 * with `pauseOnConnect` and gives each accepted socket, before it reads anything, what the
 * `onread` option would have given it. That touches Node internals (the socket's `kBuffer`
 * and `kBufferCb` fields, its `_handle`), so it runs only where they look exactly as tested,
 * and falls back to the public path by itself otherwise (docs/architecture.md, "The fast
 * read path", says how to remove it once Node offers a public way).
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
interface HandleInternals {
  reading?: unknown;
  readStart?: unknown;
  readStop?: unknown;
  useUserBuffer?: (buffer: Uint8Array) => void;
  onread?: unknown;
}

/** What decides whether Node's internals are as tested; replaceable in tests. */
export interface NodeInternals {
  /** `process.versions.node`. */
  version: string;
  /** The `net.Socket` class. */
  Socket: typeof net.Socket;
}

/** The private fields of `net.Socket` that hold an `onread` buffer and callback. */
export interface OnreadKeys {
  buffer: symbol;
  callback: symbol;
}

/**
 * Why the fast path cannot run on `node`, or the keys it uses when it can.
 * Checks, without I/O: the Node major version is one tested; a `net.Socket` made with
 * `onread` keeps the buffer and callback in its `kBuffer` and `kBufferCb` fields (found by
 * those descriptions, as the only fields holding them); `pause`/`resume` stop and start such
 * a socket's handle.
 */
export function probeFastRead(node: NodeInternals): string | OnreadKeys {
  const major = Number(node.version.split(".")[0]);
  if (!TESTED_NODE_MAJORS.includes(major)) {
    return `Node ${node.version} is not one the fast read path was tested on (${TESTED_NODE_MAJORS.join(", ")})`;
  }
  const proto = node.Socket.prototype as unknown as Record<string, unknown>;
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
  const fields = probe as unknown as Record<symbol, unknown>;
  const symbols = Object.getOwnPropertySymbols(probe);
  const holding = (value: unknown) => symbols.filter((s) => fields[s] === value);
  const [bufferKey, ...moreBuffer] = holding(buffer);
  const [callbackKey, ...moreCallback] = holding(callback);
  probe.destroy();
  if (bufferKey?.description !== "kBuffer" || callbackKey?.description !== "kBufferCb") {
    return "net.Socket no longer keeps its onread buffer and callback in kBuffer and kBufferCb";
  }
  if (moreBuffer.length > 0 || moreCallback.length > 0) return "net.Socket keeps its onread option twice";
  return { buffer: bufferKey, callback: callbackKey };
}

/**
 * {@link probeFastRead} for the running Node. Each server asks when it is made (it costs
 * one socket object without a handle), so a change to `net` made at run time is seen.
 */
export function probeRunningNode(): string | OnreadKeys {
  return probeFastRead({ version: process.versions.node, Socket: net.Socket });
}

/** `onStreamRead` functions seen to call an onread socket's callback (their source is checked once). */
const checkedOnread = new WeakSet<object>();

/**
 * Turns the accepted `socket` (from a `pauseOnConnect` listener) into an `onread` socket that
 * reads into the shared buffer, as if `net.Socket` had been made with `onread`: its
 * `kBuffer`/`kBufferCb` fields get the buffer and `onRead`, its handle is told to read into
 * the buffer (`useUserBuffer`, what Node's own constructor calls), and it is resumed.
 * `onRead(nread, buffer)` then runs with the socket as `this` for every read, and
 * `buffer[0, nread)` is borrowed until it returns. The socket stays the one the listener
 * counts, so connection counts and `close()` are Node's own. Returns false, having changed
 * nothing, when the socket is not as tested: the caller then serves it on the public path.
 */
export function adoptSocket(
  socket: net.Socket,
  keys: OnreadKeys,
  onRead: (this: net.Socket, nread: number, buffer: Buffer) => void,
): boolean {
  const fields = socket as unknown as Record<symbol, unknown> & { _handle?: HandleInternals | null };
  const handle = fields._handle;
  const asTested =
    socket.constructor === net.Socket &&
    fields[keys.buffer] === null &&
    fields[keys.callback] === null &&
    Object.hasOwn(socket, keys.buffer) &&
    Object.hasOwn(socket, keys.callback) &&
    handle !== null &&
    typeof handle === "object" &&
    handle.reading === false &&
    typeof handle.readStart === "function" &&
    typeof handle.readStop === "function" &&
    typeof handle.useUserBuffer === "function" &&
    callsOnreadCallback(handle.onread) &&
    !socket.destroyed &&
    socket.readableFlowing === false &&
    socket.readableLength === 0 &&
    socket.listenerCount("data") === 0;
  if (!asTested) return false;
  readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES); // its own memory, never Node's pool
  fields[keys.buffer] = readBuffer;
  fields[keys.callback] = onRead;
  handle.useUserBuffer?.(readBuffer);
  socket.resume(); // starts the handle reading (Socket#resume, for an onread socket)
  return true;
}

/** Whether `onread` (a handle's read callback) hands reads to an onread socket's callback. */
function callsOnreadCallback(onread: unknown): boolean {
  if (typeof onread !== "function") return false;
  if (checkedOnread.has(onread)) return true;
  if (!sourceHas(onread, "stream[kBufferCb](nread, userBuf)")) return false;
  checkedOnread.add(onread);
  return true;
}

/**
 * A copy of borrowed bytes (`bytes[0, n)`, all of them by default), for a consumer that keeps
 * them; small copies come from Node's pool.
 */
export function copyOf(bytes: Uint8Array, n = bytes.length): Buffer {
  const copy = Buffer.allocUnsafe(n);
  copy.set(n === bytes.length ? bytes : bytes.subarray(0, n));
  return copy;
}

/** Whether `data` lies in the shared read buffer: borrowed bytes, overwritten by the next read. */
export function isBorrowed(data: string | Uint8Array): data is Uint8Array {
  return readBuffer !== undefined && typeof data !== "string" && data.buffer === readBuffer.buffer;
}

/**
 * Where borrowed bytes are copied to be written. The writes of one batch (one call of
 * `dataReceived`, corked) are copied in one after another; once the batch is flushed, a
 * socket that took every byte at once leaves the scratch free for the next batch, and one
 * that must wait keeps it (its write refers to it), so the next batch gets a fresh one.
 */
let scratch: Buffer | undefined;
let scratchUsed = 0;

/**
 * A copy of borrowed bytes for a write of the current batch: a slice of the write scratch
 * while it has room, else a copy of its own.
 */
export function lendScratch(view: Uint8Array): Buffer {
  scratch ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  const end = scratchUsed + view.length;
  if (end > scratch.length) return copyOf(view);
  scratch.set(view, scratchUsed);
  const slice = scratch.subarray(scratchUsed, end);
  scratchUsed = end;
  return slice;
}

/** The batch was flushed to `socket`: the scratch is free again unless a write still holds it. */
export function settleScratch(socket: net.Socket): void {
  if (scratchUsed === 0) return;
  if (socket.writableLength > 0) scratch = undefined; // left to the pending write
  scratchUsed = 0;
}

function sourceHas(fn: unknown, ...texts: string[]): boolean {
  if (typeof fn !== "function") return false;
  const source = Function.prototype.toString.call(fn);
  return texts.every((text) => source.includes(text));
}

/** Hands an adopted socket's later reads to `onRead` instead (after its PROXY header). */
export function rerouteSocket(
  socket: net.Socket,
  keys: OnreadKeys,
  onRead: (this: net.Socket, nread: number, buffer: Buffer) => void,
): void {
  (socket as unknown as Record<symbol, unknown>)[keys.callback] = onRead;
}
