/*
 * The job of the socket benchmarks (socket-activation, inetd-overhead): the same binary under our
 * agent and under systemd-socket-activate. It answers one connection with one line and exits:
 *
 *   pid=<pid> start=<ns> ready=<ns>
 *
 * pid tells which process served; start (first thing in main, i.e. after exec and dynamic
 * linking) and ready (connection in hand, just before the write) are CLOCK_MONOTONIC in ns, the
 * clock of Node's process.hrtime, so the client can split its latency into activator + exec,
 * the job's own accept, and delivery.
 *
 *   LISTEN_FDS >= 1 (launchd Sockets / systemd Accept=no): accept one connection on fd 3.
 *   otherwise (inetd Wait=false / systemd --inetd): the connection is already fd 1.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
  long long start = now_ns();
  const char *fds = getenv("LISTEN_FDS");
  int fd = 1;
  if (fds != NULL && atoi(fds) >= 1) {
    /* The listener may be non-blocking (it shares O_NONBLOCK with the activator's copy). */
    for (;;) {
      fd = accept(3, NULL, NULL);
      if (fd >= 0) break;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        perror("socket-bench-responder: accept");
        return 1;
      }
      struct pollfd p = {.fd = 3, .events = POLLIN};
      if (poll(&p, 1, 10000) <= 0) {
        fprintf(stderr, "socket-bench-responder: nothing to accept within 10 s\n");
        return 1;
      }
    }
  }
  char line[96];
  int n = snprintf(line, sizeof line, "pid=%d start=%lld ready=%lld\n", (int)getpid(), start, now_ns());
  for (int off = 0; off < n;) {
    ssize_t w = write(fd, line + off, (size_t)(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    off += (int)w;
  }
  return 0;
}
