/**
 * Scenario 8 in code: one name, many replicas. Sends requests to a service through one pool
 * and prints how they spread, and what happened to each replica on the way.
 *
 *   for p in 7001 7002 7003; do node bin/sockpool.js serve echo --port $p & done
 *   npm run build && node dist/examples/replicas.js 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 300
 *
 * The same code takes a name that DNS keeps up to date (pass the DNS server as a third
 * argument, IP:PORT, or leave it out for the system's):
 *
 * - Consul answers DNS on 127.0.0.1:8600 with the healthy instances of a service, ports
 *   included, in SRV records: `srv:web.service.consul`, or in RFC 2782 form
 *   `srv:_web._tcp.service.consul` (a tag in place of `tcp` filters by tag; add the
 *   datacenter as in `srv:web.service.dc2.consul`). Its default TTL is 0, so the pool
 *   re-resolves every `resolveMinInterval` (1 s by default).
 *
 *     node dist/examples/replicas.js srv:_web._tcp.service.consul 300 127.0.0.1:8600
 *
 * - A Kubernetes headless Service (`clusterIP: None`) has an A record per ready pod, and an
 *   SRV record per named port: `dns:cache.prod.svc.cluster.local:6379` (every pod on one
 *   port) or `srv:_redis._tcp.cache.prod.svc.cluster.local` (the port named "redis").
 *   Inside the cluster the system resolver is already the cluster DNS, so no third
 *   argument. A pod that stops being ready leaves the records and is drained: no new
 *   borrows, its sockets closed as they come back.
 *
 * In your project: import { SocketPool } from "sockpool";
 */
import dns from "node:dns";
import { type ReplicaEvent, SocketPool } from "../src/index.js";

async function main(target: string, count: number, resolverAt: string | undefined): Promise<void> {
  let resolver: dns.promises.Resolver | undefined;
  if (resolverAt !== undefined) {
    resolver = new dns.promises.Resolver();
    resolver.setServers([resolverAt]);
  }
  await using pool = new SocketPool({ maxSocketsPerEndpoint: 4, resolver });
  for (const event of ["join", "eject", "return", "drain", "leave"] as const) {
    pool.on(event, (e: ReplicaEvent) => console.log(`${event}: ${e.endpoint} (${e.state})`));
  }

  // An echo is idempotent: if a socket dies before the reply, the request may run again on
  // another replica. Connect failures move on to another replica either way.
  const ask = (i: number) =>
    pool.use(
      target,
      async (conn) => {
        await conn.write(`request ${i}\n`);
        return conn.readLine();
      },
      { retryOnStale: true },
    );
  for (let i = 0; i < count; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, j) => ask(i + j)));
  }

  const [service] = Object.values(pool.stats().services);
  for (const [endpoint, r] of Object.entries(service?.replicas ?? {})) {
    const share = ((r.acquired / count) * 100).toFixed(1);
    console.log(`${endpoint}: ${r.acquired} requests (${share}%), ${r.failures} failures, ${r.state}`);
  }
}

main(
  process.argv[2] ?? "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
  Number(process.argv[3] ?? 300),
  process.argv[4],
).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
