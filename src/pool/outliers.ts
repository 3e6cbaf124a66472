import type { Replica } from "./replica.js";

/** The outlier-ejection options of SocketPoolOptions, after defaults. */
export interface OutlierSettings {
  /** Consecutive failures that eject a replica; 0 never ejects. */
  readonly ejectAfterFailures: number;
  /** Base ejection time (ms); the n-th ejection in a row lasts n times this. */
  readonly ejectionTime: number;
  /** Cap of one ejection (ms). */
  readonly maxEjectionTime: number;
  /** Share of a service's replicas that may be ejected at once (at least one, unless 0). */
  readonly maxEjectedShare: number;
}

/**
 * Envoy's consecutive-failure outlier detection, as pure rules over a replica's counts (the
 * Service applies them). A replica is an outlier once its consecutive failures reach
 * `ejectAfterFailures`. It is ejected only while fewer than {@link ejectionCap} replicas are:
 * past the cap an outlier stays in rotation (its failures move on to other replicas), so a
 * fault that hits many replicas at once cannot eject them all and pile the load on the rest.
 */
export function isOutlier(r: Replica, s: OutlierSettings): boolean {
  return s.ejectAfterFailures > 0 && r.consecutive >= s.ejectAfterFailures;
}

/** How many of `members` replicas may be ejected at once: the share rounded down, at least 1 (0 if the share is 0). */
export function ejectionCap(members: number, s: OutlierSettings): number {
  if (s.maxEjectedShare <= 0 || members === 0) return 0;
  return Math.max(1, Math.floor(members * s.maxEjectedShare));
}

/**
 * The streak an ejection at `now` continues: one more than the last, less one for each base
 * ejection time the replica has stayed in rotation since it returned (Envoy decrements its
 * multiplier per healthy interval). A probe that fails continues the streak undiminished.
 */
export function nextStreak(r: Replica, now: number, s: OutlierSettings, probeFailed: boolean): number {
  if (probeFailed || s.ejectionTime === 0) return r.streak + 1;
  const healthy = Math.floor((now - r.returnedAt) / s.ejectionTime);
  return Math.max(0, r.streak - healthy) + 1;
}

/** How long an ejection with this streak lasts (ms). */
export function ejectionLength(streak: number, s: OutlierSettings): number {
  return Math.min(s.maxEjectionTime, s.ejectionTime * streak);
}
