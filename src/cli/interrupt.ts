import { EXIT } from "./command.js";

/**
 * Ctrl-C handling for long-running commands: the first SIGINT or SIGTERM calls `onFirst`
 * (begin a graceful stop); a second one while stopping exits at once with 130 (the escape
 * hatch when a peer will not let go). Returns a function that removes both handlers; call it
 * once the command is done so the process can exit by itself.
 */
export function onInterrupt(onFirst: (signal: NodeJS.Signals) => void, onForce?: () => void): () => void {
  let seen = false;
  const handler = (signal: NodeJS.Signals) => {
    if (seen) {
      onForce?.();
      process.exit(EXIT.interrupted);
    }
    seen = true;
    onFirst(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
