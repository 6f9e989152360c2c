/* A minimal C epoll echo server, only as a resident-memory reference for measure.sh:
 * level-triggered, one static 64 KiB buffer, no per-connection state at all (a short
 * write simply drops the rest, which the 16-byte messages of hold_connections.py never hit).
 * Build: cc -O2 -o c_echo c_echo.c; run: ./c_echo PORT */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 7401;
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1024)) {
    perror("listen");
    return 1;
  }
  int poller = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
  printf("c_echo listening on 127.0.0.1:%d\n", port);
  fflush(stdout);
  static struct epoll_event ready[256];
  static char buffer[65536];
  for (;;) {
    int count = epoll_wait(poller, ready, 256, -1);
    for (int i = 0; i < count; i++) {
      int fd = ready[i].data.fd;
      if (fd == listener) {
        for (int n = 0; n < 64; n++) {
          int client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (client < 0) break;
          struct epoll_event watch = {.events = EPOLLIN, .data.fd = client};
          epoll_ctl(poller, EPOLL_CTL_ADD, client, &watch);
        }
        continue;
      }
      ssize_t got = read(fd, buffer, sizeof buffer);
      if (got <= 0) {
        close(fd);
        continue;
      }
      (void)send(fd, buffer, (size_t)got, MSG_NOSIGNAL);
    }
  }
}
