/**
 * The idle-memory measurement of bench/server: the growth of each server's resident memory
 * (VmRSS) while it holds N idle connections, each having echoed one byte, divided by N. The
 * Node servers collect garbage before each reading and also report their JS heap. Rounds
 * interleave the servers in a rotating order, like the throughput runs.
 */
import { rotate } from "../lib/stats.js";
import { holdIdleConnections } from "./load-runner.js";
import type { ServerSpec } from "./peers.js";
import { RunningServer } from "./running-server.js";

/** Per server id: bytes per idle connection, one entry per successful round. */
export interface MemorySamples {
  rss: Map<string, number[]>;
  /** JS heap bytes per connection, for servers that answer "gc" (the Node ones). */
  heap: Map<string, number[]>;
}

export interface MemoryPlan {
  servers: ServerSpec[];
  idle: number;
  repeats: number;
  serverPin: string[];
  loadPin: string[];
}

export async function measureMemory(plan: MemoryPlan): Promise<MemorySamples> {
  const samples: MemorySamples = { rss: new Map(), heap: new Map() };
  const add = (map: Map<string, number[]>, id: string, v: number) => map.set(id, [...(map.get(id) ?? []), v]);
  for (let round = 0; round < plan.repeats; round++) {
    for (const spec of rotate(plan.servers, round)) {
      const where = `[memory round ${round + 1}/${plan.repeats}] ${spec.name}`;
      try {
        const { rss, heap } = await measureOnce(plan, spec);
        add(samples.rss, spec.id, rss);
        if (heap !== undefined) add(samples.heap, spec.id, heap);
        console.error(`${where}: ${Math.round(rss)} RSS bytes/conn`);
      } catch (err) {
        console.error(`${where} FAILED: ${(err as Error).message}`);
      }
    }
  }
  return samples;
}

async function measureOnce(plan: MemoryPlan, spec: ServerSpec): Promise<{ rss: number; heap?: number }> {
  const server = await RunningServer.start(spec, plan.serverPin);
  try {
    const heapBefore = await server.collectGarbage();
    const rssBefore = server.residentBytes();
    const holder = await holdIdleConnections(plan.loadPin, server.port, plan.idle);
    try {
      const heapAfter = await server.collectGarbage();
      const rss = (server.residentBytes() - rssBefore) / plan.idle;
      if (heapBefore === undefined || heapAfter === undefined) return { rss };
      return { rss, heap: (heapAfter - heapBefore) / plan.idle };
    } finally {
      await holder.stop();
    }
  } finally {
    await server.stop();
  }
}
