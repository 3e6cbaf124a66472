import { ReadTimeoutError } from "../errors.js";
import { armsTimer, startTimer } from "../internal/timer.js";
import { MAX_ID } from "./frame.js";

/**
 * Detects a dead peer without a timer per request: a ping goes out once a whole `interval`
 * passed with no incoming bytes, and the peer is declared dead when nothing at all arrives
 * within `timeout` after it.
 *
 * State: `#rx` is set by `received()` and cleared each tick; `#sentAt` is when the unanswered
 * ping went out (0: none); `#timer` is the one unref'd timer, undefined once stopped.
 */
export class Heartbeat {
  readonly #interval: number;
  readonly #timeout: number;
  readonly #where: string;
  readonly #ping: (id: number) => void;
  readonly #dead: (err: ReadTimeoutError) => void;
  #timer: NodeJS.Timeout | undefined;
  #rx = false;
  #sentAt = 0;
  #id = 0;
  /** Pings sent so far. */
  sent = 0;

  constructor(
    interval: number,
    timeout: number,
    where: string,
    ping: (id: number) => void,
    dead: (err: ReadTimeoutError) => void,
  ) {
    this.#interval = interval;
    this.#timeout = timeout;
    this.#where = where;
    this.#ping = ping;
    this.#dead = dead;
    this.#arm(interval);
  }

  /** Bytes arrived: the peer is alive. */
  received(): void {
    this.#rx = true;
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #tick = (): void => {
    if (this.#timer === undefined) return;
    if (this.#rx) {
      this.#rx = false;
      this.#sentAt = 0;
      this.#arm(this.#interval);
    } else if (this.#sentAt === 0 || !armsTimer(this.#timeout)) {
      // A pingTimeout past the timer limit means never: keep pinging, never declare death.
      this.#sentAt = Date.now();
      this.#id = this.#id === MAX_ID ? 1 : this.#id + 1;
      this.sent++;
      this.#ping(this.#id);
      this.#arm(armsTimer(this.#timeout) ? this.#timeout : this.#interval);
    } else {
      this.stop();
      this.#dead(new ReadTimeoutError("ping", this.#timeout, this.#where));
    }
  };

  #arm(ms: number): void {
    this.#timer = startTimer(this.#tick, ms);
  }
}
