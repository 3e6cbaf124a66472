/**
 * Finds and builds what bench/server runs besides Node: gcc for the C epoll server and the
 * C load generator, Go for the Go server, a Python with uvloop, and taskset for pinning.
 * Builds go into a temporary directory (Go's cache too), so nothing is written to the
 * repository and nothing is downloaded. Whatever is missing is reported, never fatal.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A program ready to run (with its version, for the output), or why it is not. */
export type Found = { path: string; version: string } | { missing: string };

/** What the wanted peers need; each is undefined when not wanted. */
export interface Toolchain {
  /** Command prefixes that pin a process to the server's core and to the load's core. */
  serverPin: string[];
  loadPin: string[];
  /** How the processes are pinned, or why they are not. */
  pinning: string;
  echoEpoll?: Found;
  goEcho?: Found;
  uvloopPython?: Found;
  loadC?: Found;
}

export interface Wanted {
  echoEpoll: boolean;
  goEcho: boolean;
  uvloop: boolean;
  loadC: boolean;
  python: string;
}

/** bench/server/ in the source tree: the C, Go and Python files are not compiled into dist/. */
const SOURCES = fileURLToPath(new URL("../../../bench/server/", import.meta.url));

export function prepareToolchain(workDir: string, wanted: Wanted): Toolchain {
  const cc = findOnPath("gcc") ?? findOnPath("cc");
  const noCc = { missing: "gcc not found on PATH (Debian: apt-get install gcc)" };
  return {
    ...pinning(),
    echoEpoll: wanted.echoEpoll ? (cc ? compileC(cc, "echo_epoll.c", workDir) : noCc) : undefined,
    loadC: wanted.loadC ? (cc ? compileC(cc, "load.c", workDir) : noCc) : undefined,
    goEcho: wanted.goEcho ? buildGo(workDir) : undefined,
    uvloopPython: wanted.uvloop ? checkUvloop(wanted.python) : undefined,
  };
}

/** The program's path when it is there. */
export function pathOf(found: Found | undefined): string | undefined {
  return found !== undefined && "path" in found ? found.path : undefined;
}

/** Where the peers' source files are, for the launchers. */
export function peerSource(file: string): string {
  return path.join(SOURCES, file);
}

function pinning(): Pick<Toolchain, "serverPin" | "loadPin" | "pinning"> {
  const taskset = findOnPath("taskset");
  const cpus = os.availableParallelism();
  if (taskset === undefined) {
    return { serverPin: [], loadPin: [], pinning: "NOT pinned: taskset not found (Debian: util-linux)" };
  }
  if (cpus < 2) return { serverPin: [], loadPin: [], pinning: `NOT pinned: only ${cpus} CPU` };
  return {
    serverPin: [taskset, "-c", "0"],
    loadPin: [taskset, "-c", "1"],
    pinning: "server on CPU 0, load generator on CPU 1 (taskset)",
  };
}

function compileC(cc: string, file: string, workDir: string): Found {
  const source = requireSource(file);
  if (typeof source !== "string") return source;
  const out = path.join(workDir, path.basename(file, ".c"));
  const result = spawnSync(cc, ["-O2", "-o", out, source], { encoding: "utf8" });
  if (result.status !== 0) return { missing: `${cc} failed on ${file}: ${result.stderr || result.error}` };
  const version = spawnSync(cc, ["-dumpfullversion"], { encoding: "utf8" }).stdout.trim();
  return { path: out, version: `${path.basename(cc)} ${version} -O2` };
}

function buildGo(workDir: string): Found {
  const go = findOnPath("go") ?? ["/usr/lib/go/bin/go"].find(isExecutable);
  if (go === undefined) return { missing: "go not found on PATH (Debian: apt-get install golang-go)" };
  const source = requireSource("echo.go");
  if (typeof source !== "string") return source;
  const out = path.join(workDir, "echo_go");
  const env = {
    ...process.env,
    GOCACHE: path.join(workDir, "gocache"),
    GOPATH: path.join(workDir, "gopath"),
    GOPROXY: "off", // the server uses the standard library only: never download
    GOFLAGS: "",
    GOTOOLCHAIN: "local",
    GOTELEMETRY: "off",
    CGO_ENABLED: "0",
  };
  const result = spawnSync(go, ["build", "-o", out, source], { cwd: workDir, env, encoding: "utf8" });
  if (result.status !== 0) return { missing: `go build failed: ${result.stderr || result.error}` };
  const version = spawnSync(go, ["version"], { encoding: "utf8" }).stdout.trim().split(" ")[2] ?? "?";
  return { path: out, version };
}

function checkUvloop(python: string): Found {
  if (!isExecutable(python)) return { missing: `${python} not found (Debian: apt-get install python3-uvloop)` };
  const probe = "import platform, uvloop; print(f'uvloop {uvloop.__version__}, Python {platform.python_version()}')";
  const result = spawnSync(python, ["-c", probe], { encoding: "utf8" });
  if (result.status !== 0) return { missing: `${python} has no uvloop (Debian: apt-get install python3-uvloop)` };
  return { path: python, version: result.stdout.trim() };
}

function requireSource(file: string): string | { missing: string } {
  const source = path.join(SOURCES, file);
  return existsSync(source) ? source : { missing: `${source} not found (run from the repository)` };
}

function findOnPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  return dirs.map((dir) => path.join(dir, name)).find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
