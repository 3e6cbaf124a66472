/**
 * sockpool/metrics: pools', servers' and channels' stats, and the process's, in Prometheus's
 * text exposition format. Node built-ins only.
 */
export { escapeLabelValue, PROMETHEUS_CONTENT_TYPE } from "./exposition.js";
export { type PrometheusSources, renderPrometheus, type StatsSource } from "./render.js";
