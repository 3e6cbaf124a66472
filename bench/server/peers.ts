/**
 * The echo servers bench/server compares. Every one keeps the same contract, so that one
 * launcher (RunningServer) runs them all: it listens on 127.0.0.1, port 0, prints the port
 * as the first line of stdout, and exits when its stdin closes. The Node servers also
 * answer a "gc" line on stdin (see node-echo.ts), for the memory table.
 */
import { fileURLToPath } from "node:url";
import type { ServerId } from "./options.js";
import { type Found, peerSource, type Toolchain } from "./toolchain.js";

export interface ServerSpec {
  id: ServerId;
  /** The name in the tables. */
  name: string;
  /** The command that starts it, or undefined when it cannot run here. */
  argv: string[] | undefined;
  /** What runs (its toolchain's version), or why it cannot run here. */
  about: string;
  /** Answers "gc" on stdin with "heap <bytes>" once it has collected garbage. */
  answersGc: boolean;
}

export const SERVER_NAMES: Record<ServerId, string> = {
  c: "C epoll",
  go: "Go",
  uvloop: "uvloop Protocol",
  raw: "raw net",
  echo: "sockpool echo",
  stream: "sockpool stream",
  rawiter: "raw async-iter",
};

/** Every ratio is also given against this server... */
export const BASELINE: ServerId = "raw";
/** ...and against the better of these two: "the moonshot". */
export const MOONSHOT: readonly ServerId[] = ["go", "uvloop"];

const NODE_ECHO = fileURLToPath(new URL("./node-echo.js", import.meta.url));

/** The wanted servers in the given order, each with its command or why it cannot run here. */
export function serverSpecs(ids: ServerId[], tools: Toolchain): ServerSpec[] {
  return ids.map((id) => {
    const name = SERVER_NAMES[id];
    switch (id) {
      case "c":
        return external(id, tools.echoEpoll, (p) => [p]);
      case "go":
        return external(id, tools.goEcho, (p) => [p]);
      case "uvloop":
        return external(id, tools.uvloopPython, (p) => [p, peerSource("echo_uvloop.py")]);
      default:
        return {
          id,
          name,
          argv: [process.execPath, "--expose-gc", NODE_ECHO, id],
          about: `node ${process.version}`,
          answersGc: true,
        };
    }
  });
}

function external(id: ServerId, found: Found | undefined, argv: (path: string) => string[]): ServerSpec {
  const name = SERVER_NAMES[id];
  if (found === undefined) return { id, name, argv: undefined, about: "not prepared", answersGc: false };
  if ("missing" in found) return { id, name, argv: undefined, about: found.missing, answersGc: false };
  return { id, name, argv: argv(found.path), about: found.version, answersGc: false };
}
