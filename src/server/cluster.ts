import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { InvalidArgumentError, quote } from "../errors.js";
import { deferred } from "../internal/deferred.js";
import { validateOptions } from "../internal/validate.js";
import { type Bus, checkBus, offerBus, withdrawBus } from "./bus.js";
import { ClusterRelay, type RelayStats, WorkerBus } from "./cluster-bus.js";
import type { Server } from "./server.js";

export interface ClusterOptions {
  /** Worker processes to run; each calls `start`. An integer ≥ 1. */
  workers: number;
  /**
   * Runs in each worker: creates a server and resolves once it listens. The first `Server`
   * it creates without a `bus` option joins the workers' room (the cluster bus): its
   * `broadcast()` reaches the clients of every worker.
   */
  start: () => Promise<Pick<Server, "address" | "close" | "destroy">>;
  /** How long each worker's `server.close()` lets handlers finish. Default 10 000 ms. */
  closeTimeout?: number | undefined;
  /**
   * A bus to other hosts (such as `redisBus` from `sockpool/redis`), joined by the primary
   * only: it relays between this host's workers and the bus's other members. Workers must
   * not join it themselves. The primary closes it once every worker has exited.
   */
  bus?: Bus | undefined;
}

/** A running cluster, as seen from the primary (or, in a worker, from that worker). */
export interface ClusterHandle {
  readonly isPrimary: boolean;
  /** Where the workers listen (the same address for all). */
  readonly address: AddressInfo | string | null;
  /** Worker process ids (primary), or this worker's own. */
  readonly pids: number[];
  /**
   * Graceful shutdown across the workers: each closes its server (see `Server.close`) and
   * exits. Resolves once every worker has exited. Idempotent.
   */
  close(): Promise<void>;
  /** Kills every worker at once (SIGKILL): the second Ctrl-C. */
  destroy(): void;
  /** Resolves when every worker has exited (by `close()` or otherwise) and `bus` is closed. */
  readonly closed: Promise<void>;
  /** The primary's relay between workers: counts (undefined in a worker). */
  relayStats(): RelayStats | undefined;
}

const READY = "sockpool:ready";
const SHUTDOWN = "sockpool:shutdown";

/**
 * Runs `workers` processes via `node:cluster` that share one listening port. Call it from
 * the program's entry point: in the primary it forks the workers (which re-run the program
 * and reach this call again) and resolves once all of them listen; in a worker it runs
 * `start()` and serves until the primary asks it to close. A worker whose primary dies
 * (SIGKILL, OOM) stops accepting, finishes its in-flight work up to `closeTimeout`, then
 * exits. Rejects with InvalidArgumentError on bad options, or with the error of a worker
 * that exits before it listens.
 */
export async function runCluster(options: ClusterOptions): Promise<ClusterHandle> {
  validateOptions("cluster options", options, {
    workers: "count",
    start: "function",
    closeTimeout: "ms?",
    bus: "object",
  });
  if (options.workers === undefined)
    throw new InvalidArgumentError(`cluster options.workers is required, got ${quote(undefined)}`);
  if (options.bus !== undefined) checkBus("cluster options.bus", options.bus);
  return cluster.isPrimary ? runPrimary(options.workers, options.bus) : runWorker(options);
}

async function runPrimary(count: number, upstream: Bus | undefined): Promise<ClusterHandle> {
  const relay = new ClusterRelay(upstream);
  await upstream?.join((bytes) => relay.fromUpstream(bytes));
  const workers: Worker[] = [];
  const exits: Promise<void>[] = [];
  let address: AddressInfo | string | null = null;
  for (let i = 0; i < count; i++) {
    const w = cluster.fork();
    relay.add(w);
    workers.push(w);
    exits.push(once(w, "exit").then(() => undefined));
  }
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const onExit = (code: number) =>
            reject(new Error(`worker ${w.process.pid} exited with ${code} before listening`));
          w.once("exit", onExit);
          w.on("message", (m: { type?: string; address?: AddressInfo | string | null }) => {
            if (m?.type !== READY) return;
            address = m.address ?? null;
            w.off("exit", onExit);
            resolve();
          });
        }),
    ),
  ).catch(async (err) => {
    for (const w of workers) w.kill();
    await upstream?.close();
    throw err;
  });
  const closed = Promise.all(exits).then(() => upstream?.close());
  let closing: Promise<void> | undefined;
  return {
    isPrimary: true,
    address,
    pids: workers.map((w) => w.process.pid as number),
    closed,
    close() {
      closing ??= (async () => {
        for (const w of workers) if (w.isConnected()) w.send({ type: SHUTDOWN });
        await closed;
      })();
      return closing;
    },
    destroy() {
      for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
    },
    relayStats: () => relay.stats(),
  };
}

async function runWorker(options: ClusterOptions): Promise<ClusterHandle> {
  // The server start() makes joins the workers' room unless it was given a bus of its own.
  const bus = new WorkerBus();
  offerBus(bus);
  let server: Awaited<ReturnType<ClusterOptions["start"]>>;
  try {
    server = await options.start();
  } finally {
    withdrawBus(bus);
  }
  const worker = cluster.worker as Worker;
  const closed = deferred<void>();
  let closing: Promise<void> | undefined;
  let orphaned = false;
  const close = () => {
    closing ??= server.close({ timeout: options.closeTimeout }).then(() => {
      closed.resolve();
      if (orphaned) exitSoon();
      else worker.disconnect(); // the process exits once nothing else holds the loop
    });
    return closing;
  };
  worker.on("message", (m: { type?: string }) => {
    if (m?.type === SHUTDOWN) void close();
  });
  // The primary went away (SIGKILL, OOM): its IPC channel closed without a disconnect().
  // Node's cluster worker then calls process.exit() at once, in its own 'disconnect' listener,
  // unless `exitedAfterDisconnect` is set (documented in node:cluster). This listener runs
  // first and sets it, so the worker can stop accepting and finish its in-flight work up to
  // the close timeout; it exits after that (see exitSoon).
  process.prependListener("disconnect", () => {
    if (worker.exitedAfterDisconnect) return; // a disconnect we or the primary asked for
    orphaned = true;
    worker.exitedAfterDisconnect = true;
  });
  // Then close gracefully rather than serve orphaned. Ctrl-C reaches the whole process
  // group: a worker closes gracefully instead of dying mid-reply.
  worker.on("disconnect", () => void close());
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void close());
  worker.send({ type: READY, address: server.address() });
  return {
    isPrimary: false,
    address: server.address(),
    pids: [process.pid],
    close,
    destroy: () => server.destroy(),
    closed: closed.promise,
    relayStats: () => undefined,
  };
}

/**
 * An orphaned worker exits once its server has closed, as Node's cluster would have at once:
 * at the end of this turn if something else (the application's own handles) still holds the
 * event loop, otherwise as soon as the loop empties, with `process.exitCode`.
 */
function exitSoon(): void {
  setImmediate(() => process.exit()).unref();
}
