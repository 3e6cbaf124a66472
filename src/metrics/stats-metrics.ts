import type { EndpointStats, PoolStats } from "../pool/index.js";
import type { ChannelStats, RpcServerStats } from "../rpc/index.js";
import type { ServerStats } from "../server/index.js";
import type { Exposition, Labels } from "./exposition.js";

/** A counter or gauge read from a stats snapshot: name (after the prefix), type, help, value. */
type Field<S> = readonly [name: string, type: "counter" | "gauge", help: string, read: (s: S) => number];

const POOL: readonly Field<EndpointStats>[] = [
  ["pool_pending_acquires", "gauge", "Acquires waiting for a socket.", (s) => s.pending],
  ["pool_sockets_created_total", "counter", "Sockets the pool opened.", (s) => s.created],
  ["pool_acquires_total", "counter", "Sockets lent to borrowers.", (s) => s.acquired],
  ["pool_reuses_total", "counter", "Acquires served by a socket that had served before.", (s) => s.reused],
  ["pool_releases_total", "counter", "Sockets given back by borrowers.", (s) => s.released],
  ["pool_acquire_timeouts_total", "counter", "Acquires that timed out.", (s) => s.timeouts],
  ["pool_connect_errors_total", "counter", "Dial attempts that failed.", (s) => s.connectErrors],
  ["pool_retries_total", "counter", "use() calls run again after a reused socket died.", (s) => s.retries],
];

/** Every pool metric of one endpoint's stats. */
export function poolMetrics(out: Exposition, labels: Labels, s: EndpointStats): void {
  for (const state of ["idle", "borrowed", "dialing"] as const) {
    out.sample(
      "sockpool_pool_sockets",
      "gauge",
      "Sockets open or being opened, by state.",
      { ...labels, state },
      s[state],
    );
  }
  fields(out, labels, s, POOL);
  for (const [reason, n] of Object.entries(s.destroyedBy)) {
    const help = "Sockets the pool closed, by reason.";
    out.sample("sockpool_pool_sockets_destroyed_total", "counter", help, { ...labels, reason }, n ?? 0);
  }
  out.durations("sockpool_pool_acquire_wait_seconds", "Time acquires waited for a socket.", labels, s.waitMs);
  out.durations("sockpool_pool_hold_seconds", "Time borrowers held a socket, acquire to release.", labels, s.holdMs);
  out.durations("sockpool_pool_dial_seconds", "Time dials took to connect, retries included.", labels, s.dialMs);
}

/** A pool's metrics, one series per endpoint (labels `pool`, `endpoint`). */
export function poolsMetrics(out: Exposition, pool: string, s: PoolStats): void {
  for (const [endpoint, e] of Object.entries(s.endpoints)) poolMetrics(out, { pool, endpoint }, e);
}

const SERVER: readonly Field<ServerStats>[] = [
  ["server_connections", "gauge", "Clients connected now.", (s) => s.current],
  [
    "server_handshaking",
    "gauge",
    "Clients accepted and still in their TLS handshake or PROXY header.",
    (s) => s.handshaking,
  ],
  ["server_connections_accepted_total", "counter", "Clients accepted.", (s) => s.total],
  ["server_connections_rejected_total", "counter", "Clients closed at once for a connection limit.", (s) => s.rejected],
  ["server_received_bytes_total", "counter", "Bytes read from clients.", (s) => s.bytesIn],
  ["server_sent_bytes_total", "counter", "Bytes written to clients.", (s) => s.bytesOut],
  ["server_broadcasts_dropped_total", "counter", "Broadcast messages skipped for slow clients.", (s) => s.dropped],
  ["server_slow_disconnects_total", "counter", "Clients closed for being slow.", (s) => s.slowDisconnects],
  ["server_idle_timeouts_total", "counter", "Clients closed for idling.", (s) => s.idleTimeouts],
  ["server_line_timeouts_total", "counter", "Clients closed for a line left unfinished.", (s) => s.lineTimeouts],
  ["server_lines_too_long_total", "counter", "Lines longer than the limit.", (s) => s.linesTooLong],
  ["server_handler_errors_total", "counter", "Handler or protocol errors.", (s) => s.handlerErrors],
  ["server_client_errors_total", "counter", "Handlers ended by the client's reset or close.", (s) => s.clientErrors],
  ["server_tls_errors_total", "counter", "TLS handshakes that failed or timed out.", (s) => s.tlsErrors],
  [
    "server_proxy_refused_total",
    "counter",
    "Connections closed for their PROXY header: untrusted, missing, malformed or late.",
    (s) => s.proxyRefused,
  ],
  [
    "server_proxy_local_total",
    "counter",
    "PROXY headers with the LOCAL command: the balancer's own connections.",
    (s) => s.proxyLocal,
  ],
  [
    "server_proxy_vanished_total",
    "counter",
    "PROXY connections whose peer reset before its address could be read: closed, never served.",
    (s) => s.proxyVanished,
  ],
];

const BUS: readonly Field<NonNullable<ServerStats["bus"]>>[] = [
  [
    "server_bus_up",
    "gauge",
    "1 while the broadcast bus carries messages both ways.",
    (b) => (b.state === "up" ? 1 : 0),
  ],
  ["server_bus_queued_messages", "gauge", "Messages published here not yet accepted by the bus.", (b) => b.queued],
  ["server_bus_relayed_messages_total", "counter", "Messages published here that the bus accepted.", (b) => b.relayed],
  ["server_bus_received_messages_total", "counter", "Messages from other members.", (b) => b.received],
  ["server_bus_dropped_messages_total", "counter", "Messages published here and dropped.", (b) => b.dropped],
  ["server_bus_outages_total", "counter", "Outages of the bus.", (b) => b.outages],
];

const RPC: readonly Field<RpcServerStats>[] = [
  ["rpc_server_running_handlers", "gauge", "RPC handlers running now.", (s) => s.running],
  ["rpc_server_requests_total", "counter", "RPC requests read.", (s) => s.requests],
  ["rpc_server_replies_total", "counter", "RPC replies written, error replies excluded.", (s) => s.replies],
  ["rpc_server_error_replies_total", "counter", "RPC error replies written.", (s) => s.errorReplies],
  ["rpc_server_cancelled_total", "counter", "RPC requests cancelled before their reply.", (s) => s.cancelled],
  ["rpc_server_protocol_errors_total", "counter", "Connections closed for bad frames.", (s) => s.protocolErrors],
  [
    "rpc_server_slow_reader_pauses_total",
    "counter",
    "Reads paused for a client not reading.",
    (s) => s.slowReaderPauses,
  ],
];

/** A server's metrics (label `server`); an RPC server's and a bus's too when present. */
export function serverMetrics(out: Exposition, server: string, s: ServerStats | RpcServerStats): void {
  const labels = { server };
  fields(out, labels, s, SERVER);
  if (s.bus !== undefined) fields(out, labels, s.bus, BUS);
  if ("requests" in s) fields(out, labels, s, RPC);
}

const CHANNEL: readonly Field<ChannelStats>[] = [
  [
    "channel_open",
    "gauge",
    "1 while the channel is open, 0 once closing or closed.",
    (s) => (s.state === "open" ? 1 : 0),
  ],
  ["channel_in_flight_requests", "gauge", "Requests written and not yet settled.", (s) => s.inFlight],
  ["channel_waiting_requests", "gauge", "Requests waiting for a slot or for bytes to drain.", (s) => s.waiting],
  ["channel_unsent_bytes", "gauge", "Bytes written and not yet taken by the kernel.", (s) => s.unsentBytes],
  ["channel_requests_total", "counter", "Requests sent.", (s) => s.sent],
  ["channel_replies_total", "counter", "Replies received, error replies excluded.", (s) => s.replies],
  ["channel_error_replies_total", "counter", "Error replies received.", (s) => s.errorReplies],
  ["channel_request_timeouts_total", "counter", "Requests that timed out.", (s) => s.timeouts],
  ["channel_request_aborts_total", "counter", "Requests aborted by their signal.", (s) => s.aborts],
  ["channel_requests_failed_total", "counter", "Requests rejected because the connection was lost.", (s) => s.failed],
  ["channel_cancels_sent_total", "counter", "Cancels sent for timed-out or aborted requests.", (s) => s.cancelsSent],
  ["channel_late_replies_total", "counter", "Replies for requests no longer outstanding.", (s) => s.lateReplies],
  ["channel_pings_sent_total", "counter", "Heartbeat pings sent.", (s) => s.pingsSent],
  [
    "channel_pongs_skipped_total",
    "counter",
    "Pings left without a pong while sending was stopped.",
    (s) => s.pongsSkipped,
  ],
  ["channel_drain_waits_total", "counter", "Times sending stopped for unsent bytes.", (s) => s.drainWaits],
];

/** A channel's metrics (label `channel`). */
export function channelMetrics(out: Exposition, channel: string, s: ChannelStats): void {
  fields(out, { channel }, s, CHANNEL);
}

function fields<S>(out: Exposition, labels: Labels, s: S, list: readonly Field<S>[]): void {
  for (const [name, type, help, read] of list) out.sample(`sockpool_${name}`, type, help, labels, read(s));
}
