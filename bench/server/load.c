/*
 * The closed-loop load generator of bench/server, in C so that it costs as little as a client
 * can: one thread, epoll, one receive per readiness event, and the echo is discarded in the
 * kernel (recv with MSG_TRUNC, which TCP supports) instead of copied out, since only its
 * length is checked. Loopback TCP still costs the sender about what it costs the receiver,
 * so against the fastest servers both cores end up busy: the JSON line reports the load
 * generator's CPU so that the output can say where.
 *
 *   load --port P --conns C --size S --warmup-ms W --ms T [--server-pid PID]
 *
 * C connections to 127.0.0.1:P each send an S-byte message, wait until all S bytes have
 * come back, and send the next. After W ms of warm-up it counts for T ms, then prints one
 * JSON line (the same shape as the Node fallback, bench/server/load.ts):
 *
 *   {"requests":N,"seconds":s,"rps":r,"p50":ms,"p99":ms,"loadCpuUs":u,"serverCpuUs":u,"busyCpuUs":u}
 *
 * requests: echoes completed in the window; p50/p99: their latencies (send start to last
 * byte back). loadCpuUs: this process's CPU time in the window (getrusage); serverCpuUs:
 * the server's, from /proc/PID/stat (all its threads), or -1 without --server-pid;
 * busyCpuUs: the busy time of all CPUs together, from /proc/stat (-1 if unreadable), so
 * that what other work took during the window is busyCpuUs - loadCpuUs - serverCpuUs. On a
 * failed connection, or a server that closes one, it prints why on stderr and exits 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_SIZE (256 * 1024)
#define MAX_EVENTS 256

struct options {
  int port;
  int conns;
  size_t size;
  long warmup_ms;
  long window_ms;
  long server_pid; /* 0: unknown */
};

/* One connection's request in flight: `sent` and `received` count bytes of the current
 * message and of its echo (received <= sent <= size); `wants_out` mirrors whether EPOLLOUT
 * is in its epoll interest, which is the case exactly while sent < size after a short write. */
struct conn {
  int fd;
  size_t sent;
  size_t received;
  uint64_t started_ns;
  int wants_out;
};

/* Latencies of the requests completed in the window, in ns (capped at UINT32_MAX). */
struct latencies {
  uint32_t *ns;
  size_t len;
  size_t cap;
};

static struct options opt;
static char *message;
static int ep;

static void die(const char *what) {
  fprintf(stderr, "load: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void die_msg(const char *msg) {
  fprintf(stderr, "load: %s\n", msg);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static long long own_cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (long long)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

/* User + system time of every thread of `pid` so far, in µs; -1 if unknown. */
static long long process_cpu_us(long pid) {
  if (pid <= 0) return -1;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  unsigned long long utime, stime;
  /* After ") ": field 3 (state) to 13, then utime and stime (fields 14 and 15), in ticks. */
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (long long)((utime + stime) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* Busy time (user, nice, system, irq, softirq, steal) of all CPUs together so far, in µs; -1 if unknown. */
static long long machine_busy_us(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL) return -1;
  unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle, &iowait, &irq,
                 &softirq, &steal);
  fclose(f);
  if (n != 8) return -1;
  unsigned long long busy = user + nice + system + irq + softirq + steal;
  return (long long)(busy * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static void parse_options(int argc, char **argv) {
  opt = (struct options){.conns = 10, .size = 1024, .warmup_ms = 500, .window_ms = 2000};
  for (int i = 1; i + 1 < argc; i += 2) {
    long v = atol(argv[i + 1]);
    if (strcmp(argv[i], "--port") == 0) opt.port = (int)v;
    else if (strcmp(argv[i], "--conns") == 0) opt.conns = (int)v;
    else if (strcmp(argv[i], "--size") == 0) opt.size = (size_t)v;
    else if (strcmp(argv[i], "--warmup-ms") == 0) opt.warmup_ms = v;
    else if (strcmp(argv[i], "--ms") == 0) opt.window_ms = v;
    else if (strcmp(argv[i], "--server-pid") == 0) opt.server_pid = v;
    else die_msg("unknown option (see the comment at the top of load.c)");
  }
  if (opt.port <= 0 || opt.conns <= 0 || opt.size == 0 || opt.window_ms <= 0 || opt.warmup_ms < 0)
    die_msg("--port, --conns, --size and --ms must be positive, --warmup-ms not negative");
}

static void set_interest(struct conn *c, int wants_out) {
  if (c->wants_out == wants_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (wants_out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
  c->wants_out = wants_out;
}

static void write_some(struct conn *c) {
  while (c->sent < opt.size) {
    ssize_t n = write(c->fd, message + c->sent, opt.size - c->sent);
    if (n > 0) c->sent += (size_t)n;
    else if (n < 0 && errno == EAGAIN) break;
    else if (!(n < 0 && errno == EINTR)) die("write");
  }
  set_interest(c, c->sent < opt.size);
}

static void start_request(struct conn *c, uint64_t now) {
  c->sent = 0;
  c->received = 0;
  c->started_ns = now;
  write_some(c);
}

/* Receives (and discards) once; returns 1 when the whole echo of the current message is in. */
static int read_some(struct conn *c) {
  ssize_t n = recv(c->fd, NULL, RECV_SIZE, MSG_TRUNC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n < 0) die("recv");
  if (n == 0) die_msg("the server closed a connection");
  c->received += (size_t)n;
  if (c->received > c->sent) die_msg("the server sent more bytes than it was sent");
  return c->received == opt.size;
}

static struct conn *open_connections(void) {
  struct conn *conns = calloc((size_t)opt.conns, sizeof *conns);
  if (conns == NULL) die("calloc");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < opt.conns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }
  return conns;
}

static void record(struct latencies *l, uint64_t ns) {
  if (l->len == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 1 << 16;
    l->ns = realloc(l->ns, l->cap * sizeof *l->ns);
    if (l->ns == NULL) die("realloc");
  }
  l->ns[l->len++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int by_value(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted latencies, in ms. */
static double percentile_ms(const struct latencies *l, double p) {
  if (l->len == 0) return 0;
  size_t rank = (size_t)((p / 100.0) * (double)l->len + 0.999999);
  return l->ns[rank > 0 ? rank - 1 : 0] / 1e6;
}

int main(int argc, char **argv) {
  parse_options(argc, argv);
  message = malloc(opt.size);
  if (message == NULL) die("malloc");
  memset(message, 'a', opt.size);
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct conn *conns = open_connections();
  for (int i = 0; i < opt.conns; i++) start_request(&conns[i], now_ns());

  struct latencies lat = {0};
  struct epoll_event events[MAX_EVENTS];
  int counting = 0;
  uint64_t phase_end = now_ns() + (uint64_t)opt.warmup_ms * 1000000u, window_start = 0;
  long long load_cpu0 = 0, server_cpu0 = 0, busy0 = 0;
  for (;;) {
    uint64_t now = now_ns();
    if (now >= phase_end) {
      if (counting) break;
      counting = 1;
      window_start = now;
      phase_end = now + (uint64_t)opt.window_ms * 1000000u;
      load_cpu0 = own_cpu_us();
      server_cpu0 = process_cpu_us(opt.server_pid);
      busy0 = machine_busy_us();
    }
    int n = epoll_wait(ep, events, MAX_EVENTS, (int)((phase_end - now + 999999) / 1000000));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if ((events[i].events & EPOLLOUT) && c->sent < opt.size) write_some(c);
      if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || !read_some(c)) continue;
      uint64_t done = now_ns();
      if (counting) record(&lat, done - c->started_ns);
      start_request(c, done);
    }
  }
  double seconds = (double)(now_ns() - window_start) / 1e9;
  long long load_cpu = own_cpu_us() - load_cpu0;
  long long server_cpu1 = process_cpu_us(opt.server_pid);
  long long server_cpu = server_cpu0 < 0 || server_cpu1 < 0 ? -1 : server_cpu1 - server_cpu0;
  long long busy1 = machine_busy_us();
  long long busy = busy0 < 0 || busy1 < 0 ? -1 : busy1 - busy0;
  qsort(lat.ns, lat.len, sizeof *lat.ns, by_value);
  printf("{\"requests\":%zu,\"seconds\":%.6f,\"rps\":%.1f,\"p50\":%.4f,\"p99\":%.4f,", lat.len, seconds,
         (double)lat.len / seconds, percentile_ms(&lat, 50), percentile_ms(&lat, 99));
  printf("\"loadCpuUs\":%lld,\"serverCpuUs\":%lld,\"busyCpuUs\":%lld}\n", load_cpu, server_cpu, busy);
  return 0;
}
