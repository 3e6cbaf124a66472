import { startTimer } from "../../internal/timer.js";
import { validateOptions } from "../../internal/validate.js";
import { createServer, type Server, type ServerOptions } from "../server.js";
import type { Protocol, Transport } from "../transport.js";

export interface EchoServerOptions extends ServerOptions {
  /** Answer each message this many ms after it arrives (one at a time per client). Default 0. */
  delay?: number | undefined;
  /** Answer one message, then close the connection (a one-shot server). Default false. */
  once?: boolean | undefined;
}

/**
 * Echoes every chunk back on the same connection, which stays open until the client ends it.
 * With `delay`, reading pauses while a reply waits, so a client gets its echoes in order and
 * cannot queue unbounded work.
 */
export function createEchoServer(options: EchoServerOptions = {}): Server {
  const { delay = 0, once = false, ...serverOptions } = options;
  validateOptions("echo server options", { delay, once }, { delay: "ms", once: "boolean" });
  if (delay === 0 && !once) return createServer({ protocol: () => ECHO }, serverOptions);
  return createServer({ protocol: () => new DelayedEcho(delay, once) }, serverOptions);
}

/**
 * The fast path: one shared, stateless protocol writing each chunk straight back. It keeps
 * nothing, so it takes borrowed chunks: on the fast read path a reply is copied only into
 * the transport's reused write buffer.
 */
const ECHO: Protocol = {
  borrowsChunks: true,
  dataReceived(data: Buffer, transport: Transport): void {
    transport.write(data);
  },
};

/**
 * State: `#pending` is the timer of the reply being delayed (reading is paused meanwhile);
 * `#ended` says input ended, so the transport closes once the pending reply is out.
 */
class DelayedEcho implements Protocol {
  readonly #delay: number;
  readonly #once: boolean;
  #transport: Transport | undefined;
  #pending: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(delay: number, once: boolean) {
    this.#delay = delay;
    this.#once = once;
  }
  connectionMade(transport: Transport): void {
    this.#transport = transport;
  }
  dataReceived(data: Buffer): void {
    const t = this.#transport as Transport;
    t.pause();
    this.#pending = startTimer(() => this.#reply(data), this.#delay, true);
  }
  eofReceived(): boolean {
    this.#ended = true;
    return this.#pending !== undefined; // keep writing until the pending reply is out
  }
  connectionLost(): void {
    clearTimeout(this.#pending);
  }
  #reply(data: Buffer): void {
    const t = this.#transport as Transport;
    this.#pending = undefined;
    t.write(data);
    if (this.#once || this.#ended) t.close();
    else t.resume();
  }
}
