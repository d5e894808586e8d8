/*
 * The anchor for spawn overhead: a bare posix_spawn loop, timing the same trivial program the
 * supervisor spawns, with the same child setup a job gets from our spawner: stdio on /dev/null and
 * a new session (the job is a process-group leader), no shell.
 *
 *   bare-spawn <count> [--status-fd=N] <program> [args...]
 *
 * For each spawn prints one line "<exec_ns> <reaped_ns>": nanoseconds from the call to
 * posix_spawn until it returned (glibc's posix_spawn returns only after the child has exec'd:
 * CLONE_VFORK) and until waitpid reaped the child. Exits 1 on any failure.
 *
 * With --status-fd=N the child also gets the write end of a pipe at fd N, and "exec" is when that
 * pipe reaches EOF instead: the lf-exec shim's protocol (it marks the fd close-on-exec, so EOF
 * means the job's program was exec'd). This times the shim in C, without Node.
 *
 * Built by test/src/bench/bare-spawn.ts into a temporary directory; never committed as a binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bare-spawn <count> <program> [args...]\n");
    return 2;
  }
  long count = strtol(argv[1], NULL, 10);
  if (count <= 0 || count > 10000000) {
    fprintf(stderr, "bare-spawn: bad count %s\n", argv[1]);
    return 2;
  }
  int prog = 2, status_fd = -1;
  if (strncmp(argv[2], "--status-fd=", 12) == 0) {
    status_fd = (int)strtol(argv[2] + 12, NULL, 10);
    prog = 3;
    if (status_fd < 3 || status_fd > 9 || argc < 4) {
      fprintf(stderr, "bare-spawn: --status-fd must be 3..9 and a program must follow\n");
      return 2;
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  static char buf[1 << 16];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  for (long i = 0; i < count; i++) {
    pid_t pid;
    int rd = -1, wr = -1;
    posix_spawn_file_actions_t fa_i = fa;
    long long t0 = now_ns();
    if (status_fd >= 0) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) {
        perror("bare-spawn: pipe2");
        return 1;
      }
      /* Above 9, so the dup2 to status_fd never has equal fds. */
      rd = fcntl(p[0], F_DUPFD_CLOEXEC, 10);
      wr = fcntl(p[1], F_DUPFD_CLOEXEC, 10);
      close(p[0]);
      close(p[1]);
      posix_spawn_file_actions_init(&fa_i);
      posix_spawn_file_actions_addopen(&fa_i, 0, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&fa_i, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&fa_i, 2, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_adddup2(&fa_i, wr, status_fd);
    }
    int rc = posix_spawn(&pid, argv[prog], &fa_i, &attr, &argv[prog], environ);
    if (rc != 0) {
      fprintf(stderr, "bare-spawn: posix_spawn %s: %s\n", argv[prog], strerror(rc));
      return 1;
    }
    if (status_fd >= 0) {
      close(wr);
      char b[512];
      ssize_t n;
      while ((n = read(rd, b, sizeof b)) != 0) {
        if (n < 0 && errno != EINTR) break;
        if (n > 0 && b[0] == 'F') {
          fprintf(stderr, "bare-spawn: the shim reported a failure: %.*s\n", (int)n, b);
          return 1;
        }
      }
      close(rd);
      posix_spawn_file_actions_destroy(&fa_i);
    }
    long long t1 = now_ns();
    int status;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        perror("bare-spawn: waitpid");
        return 1;
      }
    }
    long long t2 = now_ns();
    printf("%lld %lld\n", t1 - t0, t2 - t0);
  }
  fflush(stdout);
  return 0;
}
