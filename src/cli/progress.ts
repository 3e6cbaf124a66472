/** What a progress bar shows at one instant. */
export interface ProgressSnapshot {
  /** Share done, 0 to 1. */
  fraction: number;
  /** Text after the bar, e.g. "812/1000 req  3 errors  1.2 s". */
  detail: string;
}

/** The stream a bar draws on: stderr in the CLI. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const FULL = "█";
const EMPTY = "░";
const CLEAR_LINE = "\r\x1b[2K";

/**
 * A one-line progress bar redrawn from a snapshot function every `interval` ms, on a
 * terminal only: when the stream is not a TTY (piped, in CI, in tests) it draws nothing, so
 * output stays clean for other tools.
 *
 * State: `#timer` is set between `start()` and `stop()` (never while the stream is not a
 * TTY); `#drawn` tells whether a line is on screen that `stop()` must clear.
 */
export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #label: string;
  readonly #interval: number;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;

  constructor(stream: ProgressStream, label: string, interval = 100) {
    this.#stream = stream;
    this.#label = label;
    this.#interval = interval;
  }

  /** Whether this bar will draw at all. */
  get enabled(): boolean {
    return this.#stream.isTTY === true;
  }

  /** Starts redrawing from `snapshot`; the timer is unref'd so it never holds the process. */
  start(snapshot: () => ProgressSnapshot): void {
    if (!this.enabled || this.#timer !== undefined) return;
    this.#draw(snapshot());
    this.#timer = setInterval(() => this.#draw(snapshot()), this.#interval);
    this.#timer.unref();
  }

  /** Stops and clears the line, leaving the cursor at the start of an empty line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#stream.write(CLEAR_LINE);
    this.#drawn = false;
  }

  #draw({ fraction, detail }: ProgressSnapshot): void {
    this.#stream.write(CLEAR_LINE + renderBar(this.#label, fraction, detail, this.#stream.columns || 80));
    this.#drawn = true;
  }
}

/** One line: `label [██████░░░░] 60%  detail`, cut to `columns - 1` characters. */
export function renderBar(label: string, fraction: number, detail: string, columns: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const percent = `${Math.floor(f * 100)}%`.padStart(4);
  const width = Math.max(10, Math.min(40, columns - label.length - detail.length - 12));
  const filled = Math.round(f * width);
  const line = `${label} ${FULL.repeat(filled)}${EMPTY.repeat(width - filled)} ${percent}  ${detail}`;
  return line.length >= columns ? line.slice(0, Math.max(0, columns - 1)) : line;
}
