/*
 * lfnative direct spawn: the job's own process, set up by the addon and exec'd once. Part of the
 * lfnative addon (lf-spawn.c calls lf_direct_init). The setup is lf-setup.c's, the same code the
 * lf-exec shim runs, but in a child of the agent instead of a second program: one exec per start.
 *
 * Export:
 *   spawnJob(options, envp, fds) -> { pid, status }
 *     options: the shim's options (lf-exec.c), then "--", PROGRAM, ARGV0, ARG... (without
 *       --status-fd; --glob and --suspend are refused: they need a process of their own, the
 *       shim). envp: "K=V" strings, the job's environment before the account variables and
 *       LISTEN_*. fds: the sources of the job's fds 0..n-1 (n >= 3; -1 = /dev/null); fds 3..n-1
 *       are the passed ones (--nfds is n - 3).
 *     pid: the job's pid, or 0 when the request failed before any process existed.
 *     status: the status records (lf-setup.h): empty or warnings only = the job exec'd; an F
 *       line = it did not (the child _exited; it is reaped and reported to onExit like any
 *       other child of the addon, and the caller drops that exit).
 *     Throws an Error with code = errno name when no child could be created (EAGAIN, ENOMEM,
 *     EMFILE...); nothing is left open then.
 *
 * How (Linux): clone(CLONE_VM | CLONE_VFORK) on a stack of its own, as glibc's posix_spawn and
 * musl's do: no page tables are copied, whatever the agent's size, and the call returns once the
 * child has exec'd or exited. Everything that may allocate or take a lock ran before, in
 * lf_setup_prepare; the child makes async-signal-safe calls only (lf_setup_child). Around the
 * clone the calling thread blocks every signal, so that none of the agent's handlers (libuv's
 * signal pipe, V8's) runs in the child before it has reset every disposition; the mask is
 * restored right after. The status channel is a close-on-exec pipe whose write end is
 * non-blocking in the child, and the child writes at most LF_STATUS_BUDGET + one record to it, so
 * it never blocks on a full pipe while the agent waits for it. When clone returns, every record
 * the child will ever write is in the pipe: the parent reads it to EOF (the exec or the exit
 * closes the child's end), which is what libuv's uv_spawn does too.
 *
 * A credential change (setresuid in the child) makes the kernel mark the shared memory
 * non-dumpable; the parent restores its own dumpable flag afterwards (prctl), so that the agent
 * keeps its core dumps and /proc ownership. The window between the child's setresuid and its exec
 * is the same as in libuv's child: a process of the job's user could stop it there, and the
 * agent waits (as it would for Node's own spawn with a uid).
 *
 * Elsewhere (macOS, the BSDs): fork(), then the same async-signal-safe child. Not compiled on a
 * Mac yet: macOS has no close_range, ioprio_set or prctl, which are behind #ifdef __linux__.
 */
#ifdef __linux__
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <sys/prctl.h>
#endif

#include "lf-setup.h"
#include "lf-spawn.h"

#define MAX_FDS 4096
#define STATUS_MAX 16384
/* The child's stack (Linux): the setup needs a few KB (a status record, a getdents buffer). */
#define CHILD_STACK (256 * 1024)

typedef struct direct {
  reaper *r;
  void *stack; /* mmap'ed on first use; its lowest page is a guard */
  size_t stack_size;
} direct;

static void direct_cleanup(void *arg) {
  direct *d = (direct *)arg;
  if (d->stack) munmap(d->stack, d->stack_size);
  free(d);
}

#ifdef __linux__
static int child_main(void *arg) {
  lf_setup_child((struct lf_setup *)arg);
  return 127; /* not reached */
}

static char *child_stack_top(direct *d) {
  if (!d->stack) {
    long page = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (page > 0) mprotect(p, (size_t)page, PROT_NONE);
    d->stack = p;
    d->stack_size = CHILD_STACK;
  }
  return (char *)d->stack + d->stack_size;
}
#endif

/* Creates the child; its pid, or -1 with errno. */
static pid_t start_child(direct *d, struct lf_setup *s) {
  sigset_t all, old;
  pid_t pid;
  int err;
#ifdef __linux__
  char *top = child_stack_top(d);
  int dumpable;
  if (!top) return -1;
  dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
#else
  (void)d;
#endif
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
#ifdef __linux__
  pid = clone(child_main, top, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
  err = errno;
  if (dumpable == 1 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#else
  pid = fork();
  if (pid == 0) lf_setup_child(s);
  err = errno;
#endif
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return pid;
}

/* Reads fd to EOF; what fits in buf is kept (NUL-terminated), the rest is drained. */
static size_t read_to_eof(int fd, char *buf, size_t cap) {
  size_t len = 0;
  char sink[512];
  for (;;) {
    ssize_t n = len + 1 < cap ? read(fd, buf + len, cap - 1 - len) : read(fd, sink, sizeof sink);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (len + 1 < cap) len += (size_t)n;
  }
  buf[len] = '\0';
  return len;
}

static napi_value result(napi_env env, pid_t pid, const char *status, size_t len) {
  napi_value out, v;
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  napi_create_int32(env, (int32_t)pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_string_utf8(env, status, len, &v);
  napi_set_named_property(env, out, "status", v);
  return out;
}

static napi_value js_spawn_job(napi_env env, napi_callback_info info) {
  size_t argc = 3, nopt = 0, nenv = 0;
  napi_value args[3], out = NULL;
  direct *d = NULL;
  uv_loop_t *loop = NULL;
  char **opts = NULL, **envp = NULL;
  const char *bad = NULL, *failed = NULL;
  bool is_arr = false;
  uint32_t n = 0;
  int32_t src[MAX_FDS];
  int tmp[MAX_FDS], ntmp = 0, p[2] = {-1, -1}, sfd = -1, devnull = -1, err = 0;
  struct lf_setup s;
  struct lf_failure f;
  char status[STATUS_MAX];
  size_t len = 0, i;
  pid_t pid = -1;

  if (napi_get_cb_info(env, info, &argc, args, NULL, (void **)&d) != napi_ok || argc < 3 || !d)
    return lf_type_error(env, "spawnJob(options, envp, fds)");
  if (napi_is_array(env, args[2], &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, args[2], &n) != napi_ok ||
      n < 3 || n > MAX_FDS)
    return lf_type_error(env, "spawnJob: fds must be an array of 3 to 4096 fds");
  for (uint32_t k = 0; k < n; k++)
    if (lf_int_element(env, args[2], k, &src[k]) != 0 || src[k] < -1)
      return lf_type_error(env, "spawnJob: fds must be integers >= -1");
  if (!(opts = lf_string_vector(env, args[0], &nopt, &bad))) return lf_type_error(env, bad);
  if (!(envp = lf_string_vector(env, args[1], &nenv, &bad))) {
    lf_free_strings(opts, nopt);
    return lf_type_error(env, bad);
  }

  lf_setup_init(&s);
  bad = NULL;
  for (i = 0; i < nopt && strcmp(opts[i], "--") != 0; i++) {
    int refused = strncmp(opts[i], "--status-fd", 11) == 0 || strcmp(opts[i], "--glob") == 0 ||
                  strcmp(opts[i], "--suspend") == 0;
    if ((refused || lf_setup_option(&s, opts[i]) != 0) && !bad) bad = opts[i];
  }
  if (bad) {
    len = lf_format_record(status, sizeof status, 'F', "args", EINVAL, LF_EX_CONFIG, "bad option ", bad,
                           " (for the direct spawn)");
    out = result(env, 0, status, len);
    goto done;
  }
  if (i + 2 < nopt) { /* "--" PROGRAM ARGV0 at least */
    s.program = opts[i + 1];
    s.argv = opts + i + 2;
  }
  s.nfds = (long long)n - 3;
  s.do_setsid = 1;  /* every job leads a session and group of its own */
  s.reset_cwd = 1;  /* launchd's jobs start in "/" */
  if (lf_setup_prepare(&s, envp, &f) != 0) {
    len = lf_format_record(status, sizeof status, 'F', f.stage, f.err, LF_EX_CONFIG, f.pre, f.arg, f.post);
    out = result(env, 0, status, len);
    goto done;
  }
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    err = EINVAL;
    failed = "napi_get_uv_event_loop";
    goto done;
  }

  /* The status pipe: close-on-exec both ends; the child's end non-blocking (see the top). */
#ifdef __linux__
  if (pipe2(p, O_CLOEXEC) != 0) {
#else
  if (pipe(p) != 0 || fcntl(p[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(p[1], F_SETFD, FD_CLOEXEC) != 0) {
#endif
    err = errno;
    failed = "pipe";
    goto done;
  }
  if (fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) {
    err = errno;
    failed = "fcntl O_NONBLOCK";
    goto done;
  }
  /* Every source and the status fd above the highest target: no dup2 in the child can
   * overwrite a source it still needs. */
  for (uint32_t k = 0; k < n; k++) {
    int from = src[k];
    if (from == -1) {
      if (devnull < 0 && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        err = errno;
        failed = "open /dev/null";
        goto done;
      }
      from = devnull;
    }
    if ((tmp[ntmp] = fcntl(from, F_DUPFD_CLOEXEC, (int)n)) < 0) {
      err = errno;
      failed = "fcntl F_DUPFD_CLOEXEC";
      goto done;
    }
    ntmp++;
  }
  if ((sfd = fcntl(p[1], F_DUPFD_CLOEXEC, (int)n)) < 0) {
    err = errno;
    failed = "fcntl F_DUPFD_CLOEXEC";
    goto done;
  }
  s.status_fd = sfd;
  s.src_fds = tmp;
  s.nsrc = (int)n;

  /* Reserve the reaper's slot before the child exists: its exit cannot be missed. */
  if (lf_reaper_reserve(d->r, loop) != 0) {
    err = ENOMEM;
    failed = "uv_signal_start";
    goto done;
  }
  pid = start_child(d, &s);
  if (pid < 0) {
    err = errno;
    lf_reaper_cancel(d->r);
#ifdef __linux__
    failed = "clone";
#else
    failed = "fork";
#endif
    goto done;
  }
  lf_reaper_commit(d->r, pid);
  /* Only the child's copies of the write end remain, closed by its exec or exit. */
  close(sfd);
  sfd = -1;
  close(p[1]);
  p[1] = -1;
  len = read_to_eof(p[0], status, sizeof status);
  out = result(env, pid, status, len);

done:
  for (int k = 0; k < ntmp; k++) close(tmp[k]);
  if (sfd >= 0) close(sfd);
  if (devnull >= 0) close(devnull);
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
  lf_setup_release(&s);
  lf_free_strings(opts, nopt);
  lf_free_strings(envp, nenv);
  if (failed) return lf_spawn_error(env, err, failed);
  return out;
}

int lf_direct_init(napi_env env, napi_value exports, reaper *r) {
  direct *d = calloc(1, sizeof *d);
  napi_value fn, caps, b;
  if (!d) return -1;
  d->r = r;
  if (napi_add_env_cleanup_hook(env, direct_cleanup, d) != napi_ok) {
    free(d);
    return -1;
  }
  if (napi_create_function(env, "spawnJob", NAPI_AUTO_LENGTH, js_spawn_job, d, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "spawnJob", fn) != napi_ok ||
      napi_get_named_property(env, exports, "capabilities", &caps) != napi_ok)
    return -1;
  napi_get_boolean(env, true, &b);
  return napi_set_named_property(env, caps, "direct", b) == napi_ok ? 0 : -1;
}
