/**
 * What bench/server reads from Linux's /proc, the same way for every server whatever its
 * language: a process's CPU time (all threads, user + system) and resident memory, and
 * how busy the whole machine was.
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

/**
 * Busy time of all CPUs together so far (user, nice, system, irq, softirq and steal from
 * the first line of /proc/stat), in µs (10 ms resolution).
 */
export function machineBusyMicros(): number {
  const [, ...ticks] = readFileSync("/proc/stat", "latin1").split("\n", 1)[0]?.split(/\s+/) ?? [];
  const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce((sum: number, t) => sum + (t ?? Number.NaN), 0);
  return (busy * 1_000_000) / USER_HZ;
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
