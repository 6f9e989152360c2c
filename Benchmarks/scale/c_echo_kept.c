/* A C epoll echo server that keeps what a short write leaves, as an instruction-count
 * reference beside c_echo.c (which drops it). It does, in plain C, the least of what the
 * echo-server promises on its hot path, and nothing more:
 *   - a short write's remainder is queued per connection and sent when the socket is
 *     writable again (EPOLLOUT watched only while something is queued; reading paused then);
 *   - each registration carries a generation in the event's data, checked against the
 *     fd-indexed table, so an event for a connection closed earlier in the same batch is
 *     dropped rather than applied to a new connection on the same fd number;
 *   - bytes in, bytes out, connections accepted and closed are counted;
 *   - TCP_NODELAY is set on the listening socket, which accepted connections inherit on
 *     Linux, as the echo-server does.
 * No timers, no idle timeout, no memory budget, no drain, no handler indirection.
 * Build: cc -O2 -o c_echo_kept c_echo_kept.c; run: ./c_echo_kept PORT */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TABLE_SIZE 65536

struct connection {
  uint32_t generation;
  int open;
  char *pending; /* malloc'd; NULL when nothing is queued */
  size_t pending_start, pending_end;
};

static struct connection table[TABLE_SIZE];
static struct {
  uint64_t accepted, closed, bytes_in, bytes_out;
} counts;
static int poller;

static uint64_t token(int fd) { return (uint64_t)(uint32_t)fd | (uint64_t)table[fd].generation << 32; }

static void watch(int fd, uint32_t events, int op) {
  struct epoll_event event = {.events = events, .data.u64 = token(fd)};
  epoll_ctl(poller, op, fd, &event);
}

static void end(int fd) {
  free(table[fd].pending);
  table[fd].pending = NULL;
  table[fd].open = 0;
  counts.closed++;
  close(fd); /* also leaves the epoll set: the fd is not shared */
}

/* Queues what send did not take; watches for room instead of input meanwhile. */
static int keep(int fd, const char *bytes, size_t count) {
  struct connection *c = &table[fd];
  char *grown = realloc(c->pending, c->pending_end + count);
  if (!grown) return -1;
  memcpy(grown + c->pending_end, bytes, count);
  c->pending = grown;
  c->pending_end += count;
  watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
  return 0;
}

static void flush(int fd) {
  struct connection *c = &table[fd];
  ssize_t sent = send(fd, c->pending + c->pending_start, c->pending_end - c->pending_start, MSG_NOSIGNAL);
  if (sent < 0) {
    end(fd);
    return;
  }
  counts.bytes_out += (uint64_t)sent;
  c->pending_start += (size_t)sent;
  if (c->pending_start < c->pending_end) return;
  free(c->pending);
  c->pending = NULL;
  c->pending_start = c->pending_end = 0;
  watch(fd, EPOLLIN, EPOLL_CTL_MOD);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 7401;
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  setsockopt(listener, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1024)) {
    perror("listen");
    return 1;
  }
  poller = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event listening = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(poller, EPOLL_CTL_ADD, listener, &listening);
  printf("c_echo_kept listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  static struct epoll_event ready[256];
  static char buffer[65536];
  for (;;) {
    int count = epoll_wait(poller, ready, 256, -1);
    for (int i = 0; i < count; i++) {
      uint64_t data = ready[i].data.u64;
      if (data == UINT64_MAX) {
        for (int n = 0; n < 64; n++) {
          int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client < 0) break;
          if (client >= TABLE_SIZE) {
            close(client);
            continue;
          }
          table[client].generation++;
          table[client].open = 1;
          counts.accepted++;
          watch(client, EPOLLIN, EPOLL_CTL_ADD);
        }
        continue;
      }
      int fd = (int)(uint32_t)data;
      /* An event for a connection closed (and perhaps replaced) earlier in this batch. */
      if (!table[fd].open || table[fd].generation != (uint32_t)(data >> 32)) continue;
      uint32_t events = ready[i].events;
      if (table[fd].pending) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) flush(fd);
        continue;
      }
      ssize_t got = read(fd, buffer, sizeof buffer);
      if (got <= 0) {
        end(fd);
        continue;
      }
      counts.bytes_in += (uint64_t)got;
      ssize_t sent = send(fd, buffer, (size_t)got, MSG_NOSIGNAL);
      if (sent < 0) sent = 0;
      counts.bytes_out += (uint64_t)sent;
      if (sent < got && keep(fd, buffer + sent, (size_t)(got - sent)) < 0) end(fd);
    }
  }
}
