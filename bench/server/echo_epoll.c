/*
 * The limit for bench/server: a single-threaded epoll echo server in C. It reads into one
 * shared buffer and writes each read straight back; only the bytes a socket did not take
 * are copied (into that connection's own buffer), and reading from that connection stops
 * until they are out. Level-triggered, one read per readiness event unless the read
 * filled the whole buffer, so no read ends in EAGAIN on the common path.
 *
 * The peer contract of bench/server (bench/server/peers.ts): listens on 127.0.0.1 (port 0
 * unless a port is given as the first argument), prints the port on the first line of
 * stdout, and exits when stdin closes.
 *
 *   gcc -O2 -o echo_epoll echo_epoll.c && ./echo_epoll
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)
#define MAX_EVENTS 256

/* One client. `pending` holds bytes a write did not take (NULL when none): while it is set,
 * the socket waits for EPOLLOUT only, so at most one read's worth is ever held. */
struct conn {
  int fd;
  char *pending;
  size_t pending_len;
  size_t pending_off;
};

static char read_buf[READ_SIZE];
static int ep;
/* Tokens for the two non-client descriptors in the epoll set. */
static struct conn listener_token;
static struct conn stdin_token;

static void die(const char *what) {
  fprintf(stderr, "echo_epoll: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void watch(int op, int fd, unsigned events, struct conn *c) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, fd, &ev) < 0) die("epoll_ctl");
}

static void close_conn(struct conn *c) {
  close(c->fd); /* also leaves the epoll set */
  free(c->pending);
  free(c);
}

/* Writes data[0..len) as far as the socket takes it; keeps the rest. Returns -1 on error. */
static int write_or_keep(struct conn *c, const char *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(c->fd, data + off, len - off);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      break;
    } else if (!(n < 0 && errno == EINTR)) {
      return -1;
    }
  }
  if (off == len) return 0;
  c->pending = malloc(len - off);
  if (c->pending == NULL) return -1;
  memcpy(c->pending, data + off, len - off);
  c->pending_len = len - off;
  c->pending_off = 0;
  watch(EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
  return 0;
}

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, read_buf, READ_SIZE);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0 || write_or_keep(c, read_buf, (size_t)n) < 0) return close_conn(c);
    if (c->pending != NULL || n < READ_SIZE) return;
  }
}

static void on_writable(struct conn *c) {
  while (c->pending_off < c->pending_len) {
    ssize_t n = write(c->fd, c->pending + c->pending_off, c->pending_len - c->pending_off);
    if (n > 0) {
      c->pending_off += (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else if (!(n < 0 && errno == EINTR)) {
      return close_conn(c);
    }
  }
  free(c->pending);
  c->pending = NULL;
  watch(EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
}

static void accept_all(int listener) {
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      die("accept4");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) die("calloc");
    c->fd = fd;
    watch(EPOLL_CTL_ADD, fd, EPOLLIN, c);
  }
}

static int listen_on_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  return fd;
}

int main(int argc, char **argv) {
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  int listener = listen_on_loopback(argc > 1 ? atoi(argv[1]) : 0);
  watch(EPOLL_CTL_ADD, listener, EPOLLIN, &listener_token);
  watch(EPOLL_CTL_ADD, STDIN_FILENO, EPOLLIN, &stdin_token);
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == &listener_token) {
        accept_all(listener);
      } else if (c == &stdin_token) {
        if (read(STDIN_FILENO, read_buf, READ_SIZE) <= 0) return 0;
      } else if (c->pending != NULL) {
        on_writable(c);
      } else {
        on_readable(c);
      }
    }
  }
}
