import { EndpointUnavailableError } from "../errors.js";

/**
 * How dialing one endpoint is going: while it keeps failing, acquires fail fast for a window
 * that doubles per consecutive failed dial (capped) instead of storming it. Plain data: the
 * endpoint pool tells it what happened and when.
 *
 * State: `#failures`: consecutive failed dials (0 after a success); `until`: ms since epoch
 * the fail-fast window lasts (0: none); `#lastError`/`#lastErrorAt`: the last failed
 * attempt's error and when (kept after a success, for acquire timeouts to cite).
 */
export class FailFast {
  until = 0;
  readonly #key: string;
  readonly #window: number;
  readonly #maxWindow: number;
  #failures = 0;
  #lastError: unknown;
  #lastErrorAt = 0;

  constructor(key: string, window: number, maxWindow: number) {
    this.#key = key;
    this.#window = window;
    this.#maxWindow = maxWindow;
  }

  /** One dial attempt failed at `now`. */
  noteError(err: unknown, now: number): void {
    this.#lastError = err;
    this.#lastErrorAt = now;
  }

  /** A dial failed for good (retries included) at `now`: open or widen the window. */
  failed(now: number): void {
    this.#failures++;
    if (this.#window <= 0) return;
    this.until = now + Math.min(this.#maxWindow, this.#window * 2 ** (this.#failures - 1));
  }

  succeeded(): void {
    this.#failures = 0;
    this.until = 0;
  }

  /** The error for an acquire refused inside the window; `cause` is the last dial error. */
  error(now: number): EndpointUnavailableError {
    return new EndpointUnavailableError(this.#key, this.until - now, this.#lastError);
  }

  /** The last dial error if it happened at or after `since` (for an acquire timeout's cause). */
  errorSince(since: number): unknown {
    return this.#lastErrorAt >= since ? this.#lastError : undefined;
  }
}
