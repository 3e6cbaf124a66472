import type { IntervalHistogram } from "node:perf_hooks";
import type { Exposition } from "./exposition.js";

/** When this process started, in seconds since the epoch (fixed at load: it never changes). */
const START_TIME = Math.round(Date.now() / 1000 - process.uptime());

/**
 * The standard process metrics (`process_…`, as every Prometheus client names them) and
 * Node's (`nodejs_…`, as prom-client names them), so existing dashboards find them. With an
 * enabled `monitorEventLoopDelay()` histogram, its percentiles as a summary: the caller owns
 * it (enables it, and disables it when done); it is read, never reset.
 */
export function processMetrics(out: Exposition, eventLoopDelay?: IntervalHistogram): void {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const counter = (name: string, help: string, v: number) => out.sample(name, "counter", help, {}, v);
  const gauge = (name: string, help: string, v: number) => out.sample(name, "gauge", help, {}, v);
  counter("process_cpu_user_seconds_total", "User CPU time spent, in seconds.", cpu.user / 1e6);
  counter("process_cpu_system_seconds_total", "System CPU time spent, in seconds.", cpu.system / 1e6);
  counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", (cpu.user + cpu.system) / 1e6);
  gauge("process_resident_memory_bytes", "Resident memory size, in bytes.", mem.rss);
  gauge("process_start_time_seconds", "Start time of the process since the epoch, in seconds.", START_TIME);
  gauge("nodejs_heap_size_total_bytes", "V8 heap size, in bytes.", mem.heapTotal);
  gauge("nodejs_heap_size_used_bytes", "V8 heap in use, in bytes.", mem.heapUsed);
  gauge("nodejs_external_memory_bytes", "Memory of C++ objects bound to JavaScript objects, in bytes.", mem.external);
  const help = "Node.js version, in the label.";
  out.sample("nodejs_version_info", "gauge", help, { version: process.version }, 1);
  if (eventLoopDelay === undefined) return;
  // The histogram holds nanoseconds; an empty one reports NaN for its mean and huge minimum.
  const count = eventLoopDelay.count;
  const seconds = (ns: number) => (count === 0 ? 0 : ns / 1e9);
  const quantiles: Array<[number, number]> = [0.5, 0.9, 0.99].map((q) => [
    q,
    seconds(eventLoopDelay.percentile(q * 100)),
  ]);
  const sum = seconds(eventLoopDelay.mean * count);
  out.summary(
    "nodejs_eventloop_delay_seconds",
    "Event loop delay, in seconds (monitorEventLoopDelay).",
    quantiles,
    sum,
    count,
  );
}
