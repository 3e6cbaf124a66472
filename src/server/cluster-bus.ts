import { isUtf8 } from "node:buffer";
import type { Worker } from "node:cluster";
import { EventEmitter } from "node:events";
import type { Bus, BusEvents, BusState, BusStats } from "./bus.js";

/** The IPC message type of one broadcast between a worker and its primary. */
export const BUS_MESSAGE = "sockpool:bus";

/**
 * One broadcast on the IPC channel. Node's default IPC serialization is JSON, so the bytes
 * travel as a string: as they are when they are UTF-8 (chat lines), else base64. We keep
 * the default rather than switching the whole cluster to `advanced` serialization, which
 * would change the user's own messages too.
 */
export interface BusMessage {
  type: typeof BUS_MESSAGE;
  data: string;
  base64?: true;
}

/** Bytes one process may have handed to an IPC channel and not yet written: 16 MiB. */
export const MAX_PENDING_IPC_BYTES = 16 * 1024 * 1024;

export function encodeBusMessage(bytes: Uint8Array): BusMessage {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buf)
    ? { type: BUS_MESSAGE, data: buf.toString("utf8") }
    : { type: BUS_MESSAGE, data: buf.toString("base64"), base64: true };
}

export function decodeBusMessage(message: BusMessage): Buffer {
  return Buffer.from(message.data, message.base64 ? "base64" : "utf8");
}

export function isBusMessage(message: unknown): message is BusMessage {
  return (message as { type?: unknown } | null)?.type === BUS_MESSAGE;
}

/**
 * An IPC send with a bound: at most {@link MAX_PENDING_IPC_BYTES} handed to the channel and
 * not yet written. Past it the message is dropped (returns false): a peer that stopped
 * reading its channel costs bounded memory. `done` is told whether the write succeeded.
 */
export class BoundedSender {
  #pending = 0;
  readonly #send: (message: BusMessage, callback: (err: Error | null) => void) => boolean;

  constructor(send: (message: BusMessage, callback: (err: Error | null) => void) => boolean) {
    this.#send = send;
  }

  get pending(): number {
    return this.#pending;
  }

  send(message: BusMessage, done: (ok: boolean) => void): boolean {
    const size = message.data.length;
    if (this.#pending + size > MAX_PENDING_IPC_BYTES && this.#pending > 0) return false;
    this.#pending += size;
    try {
      this.#send(message, (err) => {
        this.#pending -= size;
        done(err === null || err === undefined);
      });
    } catch {
      this.#pending -= size; // the channel closed under us
      return false;
    }
    return true;
  }
}

/**
 * The worker's side of the cluster bus: publishes to the primary over the IPC channel and
 * delivers what the primary relays from the other workers. The primary never sends a
 * worker its own messages back (see {@link ClusterRelay}), and the channel is FIFO, so each
 * worker's order holds.
 *
 * State:
 * - `#state`: `idle → up → closed` (IPC has no outages: a worker whose primary is gone closes).
 * - `#deliver`: set by `join`; `#onMessage` is installed on `process` while up.
 * - `#queued`: messages handed to the channel and not yet written (their callbacks pending).
 */
export class WorkerBus extends EventEmitter<BusEvents> implements Bus {
  #state: BusState = "idle";
  #deliver: ((message: Buffer) => void) | undefined;
  readonly #counts = { relayed: 0, received: 0, dropped: 0 };
  #queued = 0;
  readonly #sender = new BoundedSender((m, cb) =>
    (process.send as NonNullable<typeof process.send>)(m, undefined, {}, cb),
  );
  readonly #onMessage = (message: unknown) => {
    if (!isBusMessage(message) || this.#deliver === undefined) return;
    this.#counts.received++;
    this.#deliver(decodeBusMessage(message));
  };

  async join(deliver: (message: Buffer) => void): Promise<void> {
    if (this.#state !== "idle") return;
    this.#deliver = deliver;
    this.#state = "up";
    process.on("message", this.#onMessage);
  }

  publish(message: Uint8Array): void {
    if (this.#state === "closed" || !process.connected) {
      this.#counts.dropped++;
      return;
    }
    this.#queued++;
    const sent = this.#sender.send(encodeBusMessage(message), (ok) => {
      this.#queued--;
      if (ok) this.#counts.relayed++;
      else this.#counts.dropped++;
    });
    if (!sent) {
      this.#queued--;
      this.#counts.dropped++;
    }
  }

  close(): Promise<void> {
    if (this.#state !== "closed") {
      this.#state = "closed";
      process.off("message", this.#onMessage);
    }
    return Promise.resolve();
  }

  stats(): BusStats {
    return { state: this.#state, ...this.#counts, queued: this.#queued, outages: 0 };
  }
}

/** Counters of the primary's relay. */
export interface RelayStats {
  /** Messages from workers, each counted once however many workers it went to. */
  relayed: number;
  /** Copies not sent to a worker whose IPC backlog was past its bound, or that had gone. */
  dropped: number;
}

/**
 * The primary's side of the cluster bus: each message a worker publishes goes to every other
 * worker, in arrival order, and to `upstream` (a bus to other hosts, such as Redis) if there
 * is one; what `upstream` delivers goes to every worker.
 */
export class ClusterRelay {
  readonly #workers = new Map<Worker, BoundedSender>();
  readonly #upstream: Bus | undefined;
  readonly #stats: RelayStats = { relayed: 0, dropped: 0 };
  readonly #countDrop = (ok: boolean) => {
    if (!ok) this.#stats.dropped++;
  };

  constructor(upstream: Bus | undefined) {
    this.#upstream = upstream;
  }

  /** Relays for `worker` from now on, until it exits. */
  add(worker: Worker): void {
    const sender = new BoundedSender((m, cb) => worker.send(m, undefined, cb));
    this.#workers.set(worker, sender);
    worker.on("message", (message: unknown) => {
      if (isBusMessage(message)) this.#fromWorker(worker, message);
    });
    worker.once("exit", () => this.#workers.delete(worker));
  }

  /** What the upstream bus delivers: to every worker. */
  fromUpstream(bytes: Buffer): void {
    this.#toWorkers(encodeBusMessage(bytes), undefined);
  }

  stats(): RelayStats {
    return { ...this.#stats };
  }

  #fromWorker(from: Worker, message: BusMessage): void {
    this.#stats.relayed++;
    this.#toWorkers(message, from);
    this.#upstream?.publish(decodeBusMessage(message));
  }

  #toWorkers(message: BusMessage, except: Worker | undefined): void {
    for (const [worker, sender] of this.#workers) {
      if (worker === except) continue;
      if (!worker.isConnected() || !sender.send(message, this.#countDrop)) this.#stats.dropped++;
    }
  }
}
