import { Fifo } from "../internal/fifo.js";
import { invariant } from "../internal/invariant.js";

/** One published message: its sequence number in this bus, and its bytes. */
export interface OutboxEntry {
  readonly seq: number;
  readonly data: Buffer;
}

/**
 * The messages this process published that Redis has not acknowledged yet, in publish order.
 * The oldest are in flight (an XADD sent, its reply pending); the rest wait, within a bound.
 *
 * State:
 * - `#inFlight` then `#waiting`: publish order, oldest first. An entry leaves when Redis
 *   acknowledges it (`ack`, always the oldest in flight: replies come in order on one
 *   connection), or goes back to the front of `#waiting` when its connection fails
 *   (`requeue`), or is dropped from the front of `#waiting` past the bound.
 * - `#bytes`: payload bytes of both queues; `#waitingBytes`: of `#waiting`. Invariant after
 *   every `push`: `#waiting.length ≤ maxMessages` and `#waitingBytes ≤ maxBytes`. The bound
 *   is on what waits: entries in flight are already with Redis, cannot be taken back, and
 *   their number is bounded by the sender (at most maxMessages, see RedisBus), so a burst
 *   while replies are pending never drops new messages for old ones Redis is answering.
 * - `#dropped`: entries dropped past the bound, ever.
 */
export class Outbox {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #waiting = new Fifo<OutboxEntry>();
  #inFlight = new Fifo<OutboxEntry>();
  #bytes = 0;
  #waitingBytes = 0;
  #dropped = 0;

  constructor(maxMessages: number, maxBytes: number) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
  }

  /** Messages not yet acknowledged (waiting and in flight). */
  get length(): number {
    return this.#waiting.length + this.#inFlight.length;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  get inFlight(): number {
    return this.#inFlight.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Adds `entry` at the back; past the bound drops the oldest waiting entries. */
  push(entry: OutboxEntry): void {
    this.#waiting.push(entry);
    this.#bytes += entry.data.length;
    this.#waitingBytes += entry.data.length;
    while (this.#waiting.length > this.#maxMessages || this.#waitingBytes > this.#maxBytes) {
      const old = this.#waiting.shift() as OutboxEntry;
      this.#bytes -= old.data.length;
      this.#waitingBytes -= old.data.length;
      this.#dropped++;
    }
  }

  /** Moves the oldest waiting entry in flight and returns it. */
  take(): OutboxEntry | undefined {
    const entry = this.#waiting.shift();
    if (entry) {
      this.#inFlight.push(entry);
      this.#waitingBytes -= entry.data.length;
    }
    return entry;
  }

  /** Redis acknowledged `entry`, the oldest in flight. */
  ack(entry: OutboxEntry): void {
    invariant(this.#inFlight.peek() === entry, `outbox ack of seq ${entry.seq} out of order`);
    this.#inFlight.shift();
    this.#bytes -= entry.data.length;
  }

  /** The connection failed: every entry in flight waits again, in order, before the others. */
  requeue(): void {
    if (this.#inFlight.length === 0) return;
    const waiting = this.#inFlight;
    for (const e of waiting) this.#waitingBytes += e.data.length;
    for (const e of this.#waiting) waiting.push(e);
    this.#waiting = waiting;
    this.#inFlight = new Fifo();
  }
}
