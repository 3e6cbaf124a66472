/**
 * What bench/server reads about a running process from Linux's /proc, the same way for
 * every server whatever its language: CPU time (all threads, user + system) and resident
 * memory.
 */
import { readFileSync } from "node:fs";

/**
 * Clock ticks per second in /proc/<pid>/stat: USER_HZ, which Linux fixes at 100 for user
 * space on every architecture Node runs on (the C load generator asks sysconf instead).
 */
const USER_HZ = 100;

/** User + system CPU time of every thread of `pid` so far, in µs (10 ms resolution). */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  // The command name (field 2) may hold spaces and parentheses: count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return ((utime + stime) * 1_000_000) / USER_HZ;
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
