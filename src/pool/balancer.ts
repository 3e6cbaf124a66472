import { isOutlier, type OutlierSettings } from "./outliers.js";
import type { Replica } from "./replica.js";

/** A number in [0, 1), as `Math.random` gives; tests may pass their own. */
export type Random = () => number;

/**
 * Weighted power of two choices (Mitzenmacher; Envoy's and Finagle's least-request
 * balancer): draws two distinct replicas at random, each with a chance proportional to its
 * effective weight (SRV weight × warm-up), and takes the one with fewer borrows in flight
 * per unit of weight. A tie goes to the first drawn, so while nothing is in flight (one
 * request at a time) the shares follow the weights exactly, and under load in-flight counts
 * grow in proportion to the weights. Pure: it reads the replicas and changes nothing.
 *
 * Two choices rather than the least loaded of all keep a replica that fails fast (and so
 * looks idle) from drawing every request, and cost O(n) per pick with no sorting.
 */
export function pickReplica(
  candidates: readonly Replica[],
  warmupBorrows: number,
  random: Random = Math.random,
): Replica | undefined {
  const n = candidates.length;
  if (n <= 1) return candidates[0];
  let total = 0;
  for (const r of candidates) total += r.effectiveWeight(warmupBorrows);
  const first = draw(candidates, warmupBorrows, random() * total, undefined);
  const second = draw(candidates, warmupBorrows, random() * (total - first.effectiveWeight(warmupBorrows)), first);
  return load(second, warmupBorrows) < load(first, warmupBorrows) ? second : first;
}

/** The replica at `point` along the weights laid end to end, skipping `skip`. */
function draw(
  candidates: readonly Replica[],
  warmupBorrows: number,
  point: number,
  skip: Replica | undefined,
): Replica {
  let last: Replica | undefined;
  for (const r of candidates) {
    if (r === skip) continue;
    last = r;
    point -= r.effectiveWeight(warmupBorrows);
    if (point < 0) return r;
  }
  return last as Replica; // rounding left a sliver past the end
}

function load(r: Replica, warmupBorrows: number): number {
  return r.inFlight / r.effectiveWeight(warmupBorrows);
}

/**
 * The replica for a service's next attempt, skipping `skip` (replicas this acquire tried):
 * an ejected one whose time is up, marked `probing` (its one probe borrow); else the better
 * of two ({@link pickReplica}) among the active replicas of the best priority that has a
 * healthy one left (an outlier kept in rotation by the ejection cap does not hold traffic
 * in its priority), or of the best priority left. In panic (no active replica is healthy)
 * every replica counts, ejected ones too; once every active replica was tried, the ejected
 * ones are the last resort. Draining replicas never count. Its only write is `probing`.
 */
export function chooseReplica(
  replicas: ReadonlyMap<string, Replica>,
  skip: ReadonlySet<Replica>,
  now: number,
  s: OutlierSettings & { readonly warmupBorrows: number },
): Replica | undefined {
  let best = Number.POSITIVE_INFINITY;
  let bestHealthy = Number.POSITIVE_INFINITY;
  for (const r of replicas.values()) {
    if (skip.has(r)) continue;
    if (r.state === "ejected" && !r.probing && now >= r.ejectedUntil) {
      r.probing = true;
      return r;
    }
    if (r.state !== "active") continue;
    best = Math.min(best, r.priority);
    if (!isOutlier(r, s)) bestHealthy = Math.min(bestHealthy, r.priority);
  }
  const priority = Number.isFinite(bestHealthy) ? bestHealthy : best;
  const normal = Number.isFinite(priority) && !inPanic(replicas, s);
  const candidates: Replica[] = [];
  for (const r of replicas.values()) {
    if (skip.has(r) || r.state === "draining" || r.probing) continue;
    if (!normal || (r.state === "active" && r.priority === priority)) candidates.push(r);
  }
  return pickReplica(candidates, s.warmupBorrows);
}

/** No active replica is healthy (every one is ejected, draining or an outlier kept by the cap). */
export function inPanic(replicas: ReadonlyMap<string, Replica>, s: OutlierSettings): boolean {
  for (const r of replicas.values()) if (r.state === "active" && !isOutlier(r, s)) return false;
  return true;
}
