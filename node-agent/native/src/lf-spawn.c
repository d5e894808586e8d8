/*
 * lfnative spawn: start the lf-exec shim with posix_spawn instead of libuv's fork, and reap the
 * children it started. Part of the lfnative addon (lfnative.c calls lf_spawn_init).
 *
 * Why: libuv 1.46 (Node 20) fork()s the whole agent (clone without CLONE_VM|CLONE_VFORK) and
 * blocks the event loop until the child execs; the cost grows with the agent's memory
 * (test/bench/RESULTS.md, "What limits the rest"). glibc's posix_spawn uses
 * clone(CLONE_VM|CLONE_VFORK): no page tables are copied, and the loop waits only for the exec.
 *
 * Exports (added to the addon's exports object by lf_spawn_init):
 *   spawn(path, argv, envp, fds) -> { pid, statusFd }
 *     path: the shim's path; argv: string[] (argv[0] included); envp: "K=V" strings, exactly the
 *     child's environment; fds: the sources of the child's fds 0..n-1, in order (-1 = /dev/null).
 *     The child also gets one end of a new AF_UNIX stream socketpair at fd n (the lf-exec status
 *     channel); the other end, close-on-exec, is returned as statusFd (the caller owns it).
 *     The child starts in a new session (POSIX_SPAWN_SETSID where defined), with every signal at
 *     its default disposition (SETSIGDEF), an empty signal mask (SETSIGMASK) and cwd "/"
 *     (addchdir_np on glibc >= 2.29). Where one of these is missing, `capabilities` says so and
 *     the caller asks lf-exec to do it (--setsid, --reset-cwd).
 *     Fd map without collisions: every source is first duplicated in the agent, close-on-exec,
 *     above the highest target (F_DUPFD_CLOEXEC), and the child's file actions dup2 those
 *     copies down onto 0..n; dup2 clears close-on-exec on the targets only. The copies are closed
 *     in the agent right after the spawn. Every other fd of the agent reaches lf-exec only if it
 *     lacks close-on-exec, and lf-exec closes every fd above its status fd first thing anyway.
 *     Throws an Error with code = errno name (E2BIG, ENOENT, EAGAIN, EBADF...) when no child
 *     was started; nothing is left open then.
 *   onExit(cb)  cb(pid, code, signal) for each child started by spawn() when it is reaped:
 *     code = exit status or -1, signal = the terminating signal number or 0. One callback per
 *     environment (a later call replaces it). Reaping: a libuv SIGCHLD watcher (libuv allows
 *     several per signal) that calls waitpid(pid, WNOHANG) for each pid spawn() started and not
 *     yet reaped: never waitpid(-1), which would steal the children of child_process. libuv 1.46
 *     reaps its own children the same way (uv__wait_children: waitpid per known pid), so neither
 *     steals the other's. The watcher keeps the event loop alive only while children are
 *     unreaped (like a ChildProcess handle).
 *   capabilities: { setsid: bool, chdir: bool }  what posix_spawn does itself on this build.
 *   kill(target, signal) -> 0 or errno  kill(2) that reports instead of throwing (js_kill).
 */
#ifdef __linux__
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lf-spawn.h"

int lf_spawn_init(napi_env env, napi_value exports);

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
#define LF_HAVE_ADDCHDIR 1
#else
#define LF_HAVE_ADDCHDIR 0
#endif
#ifdef POSIX_SPAWN_SETSID
#define LF_HAVE_SETSID 1
#else
#define LF_HAVE_SETSID 0
#endif

/* Limits on what one spawn takes from JS: far above any real job, bounded against bad input. */
#define MAX_STRINGS (1 << 20)
#define MAX_FDS 4096


/* Per-environment state: the children not yet reaped and the SIGCHLD watcher. Allocated once,
 * freed after the watcher's uv_close (or never, if the watcher was never started). */
struct reaper {
  napi_env env;
  uv_signal_t sig;
  int sig_started; /* uv_signal_init done */
  int sig_active;  /* uv_signal_start done */
  int closing;
  napi_ref cb;
  napi_async_context actx;
  pid_t *pids;
  size_t npids, cap;
};

napi_value lf_spawn_error(napi_env env, int err, const char *syscall) {
  char msg[256];
  napi_value code, message, error, num, sc;
  const char *name = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s %s: %s", syscall, name, strerror(err));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

napi_value lf_type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

void lf_free_strings(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* A JS string array -> a NULL-terminated C vector; NULL with *bad set on a wrong type, an
 * embedded NUL or no memory. */
char **lf_string_vector(napi_env env, napi_value arr, size_t *count, const char **bad) {
  bool is_arr = false;
  uint32_t n = 0;
  char **v;
  if (napi_is_array(env, arr, &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, arr, &n) != napi_ok ||
      n > MAX_STRINGS) {
    *bad = "must be an array of strings";
    return NULL;
  }
  v = calloc((size_t)n + 1, sizeof *v);
  if (!v) {
    *bad = "out of memory";
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_valuetype t;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &e) != napi_ok || napi_typeof(env, e, &t) != napi_ok || t != napi_string ||
        napi_get_value_string_utf8(env, e, NULL, 0, &len) != napi_ok) {
      *bad = "must be an array of strings";
      lf_free_strings(v, i);
      return NULL;
    }
    v[i] = malloc(len + 1);
    if (!v[i]) {
      *bad = "out of memory";
      lf_free_strings(v, i);
      return NULL;
    }
    napi_get_value_string_utf8(env, e, v[i], len + 1, &len);
    if (strlen(v[i]) != len) {
      *bad = "strings must not contain NUL";
      lf_free_strings(v, i + 1);
      return NULL;
    }
  }
  *count = n;
  return v;
}

static void on_reaper_closed(uv_handle_t *h) {
  reaper *r = (reaper *)h->data;
  free(r->pids);
  free(r);
}

static void reaper_cleanup(void *arg) {
  reaper *r = (reaper *)arg;
  /* The environment is going away: no more JS calls; children are left to whoever reaps next. */
  r->closing = 1;
  if (r->sig_started) {
    uv_signal_stop(&r->sig);
    uv_close((uv_handle_t *)&r->sig, on_reaper_closed);
  } else {
    free(r->pids);
    free(r);
  }
}

static void deliver(reaper *r, pid_t pid, int status) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_value fn, recv, argv[3], result;
  bool pending = false;
  int code = -1, signo = 0;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) signo = WTERMSIG(status);
  if (!r->cb || napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, r->cb, &fn) == napi_ok && fn) {
    napi_get_global(env, &recv);
    napi_create_int32(env, (int32_t)pid, &argv[0]);
    napi_create_int32(env, code, &argv[1]);
    napi_create_int32(env, signo, &argv[2]);
    napi_make_callback(env, r->actx, recv, fn, 3, argv, &result);
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_sigchld(uv_signal_t *h, int signum) {
  reaper *r = (reaper *)h->data;
  (void)signum;
  if (r->closing) return;
  /* Collect first, then call JS: a callback may spawn (and grow the array) re-entrantly. */
  size_t n = r->npids, done = 0;
  pid_t *gone = n ? malloc(n * sizeof *gone) : NULL;
  int *st = n ? malloc(n * sizeof *st) : NULL;
  if (n && (!gone || !st)) {
    free(gone);
    free(st);
    return; /* out of memory: the next SIGCHLD retries (the zombies wait) */
  }
  for (size_t i = 0; i < r->npids;) {
    int status = 0;
    pid_t p;
    do
      p = waitpid(r->pids[i], &status, WNOHANG);
    while (p < 0 && errno == EINTR);
    if (p == 0 || (p < 0 && errno != ECHILD)) {
      i++;
      continue;
    }
    /* Reaped, or ECHILD (someone else reaped it: report it as killed, never hang the job). */
    gone[done] = r->pids[i];
    st[done] = p > 0 ? status : (int)SIGKILL;
    done++;
    r->pids[i] = r->pids[--r->npids];
  }
  if (r->npids == 0) uv_unref((uv_handle_t *)&r->sig);
  for (size_t i = 0; i < done && !r->closing; i++) deliver(r, gone[i], st[i]);
  free(gone);
  free(st);
}

/* Starts the watcher (unref'd while nothing is tracked) and appends pid; -1 and nothing
 * appended on failure. */
static int track_pid(reaper *r, uv_loop_t *loop, pid_t pid) {
  if (!r->sig_started) {
    if (uv_signal_init(loop, &r->sig) != 0) return -1;
    r->sig.data = r;
    r->sig_started = 1;
    uv_unref((uv_handle_t *)&r->sig);
  }
  if (!r->sig_active) {
    if (uv_signal_start(&r->sig, on_sigchld, SIGCHLD) != 0) return -1;
    r->sig_active = 1;
  }
  if (r->npids == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    pid_t *p = realloc(r->pids, cap * sizeof *p);
    if (!p) return -1;
    r->pids = p;
    r->cap = cap;
  }
  r->pids[r->npids++] = pid;
  uv_ref((uv_handle_t *)&r->sig);
  return 0;
}

int lf_reaper_reserve(reaper *r, uv_loop_t *loop) { return track_pid(r, loop, 0); }

void lf_reaper_commit(reaper *r, pid_t pid) { r->pids[r->npids - 1] = pid; }

void lf_reaper_cancel(reaper *r) {
  r->npids--;
  if (r->npids == 0) uv_unref((uv_handle_t *)&r->sig);
}

int lf_int_element(napi_env env, napi_value arr, uint32_t i, int32_t *out) {
  napi_value e;
  napi_valuetype t;
  if (napi_get_element(env, arr, i, &e) != napi_ok || napi_typeof(env, e, &t) != napi_ok || t != napi_number) return -1;
  return napi_get_value_int32(env, e, out) == napi_ok ? 0 : -1;
}

static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4], out, v;
  reaper *r = NULL;
  uv_loop_t *loop = NULL;
  char path[4096];
  size_t plen = 0, nargv = 0, nenv = 0;
  char **argv = NULL, **envp = NULL;
  const char *bad = NULL;
  bool is_arr = false;
  uint32_t nfds = 0;
  int sv[2] = {-1, -1}, devnull = -1, err = 0;
  int tmp[MAX_FDS + 1];
  size_t ntmp = 0;
  const char *failed = NULL;
  pid_t pid = -1;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int fa_ok = 0, attr_ok = 0;
  sigset_t all, none;
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;

  if (napi_get_cb_info(env, info, &argc, args, NULL, (void **)&r) != napi_ok || argc < 4 || !r)
    return lf_type_error(env, "spawn(path, argv, envp, fds)");
  if (napi_get_value_string_utf8(env, args[0], path, sizeof path, &plen) != napi_ok || plen == 0 ||
      plen >= sizeof path - 1 || strlen(path) != plen)
    return lf_type_error(env, "spawn: path must be a non-empty string without NUL");
  if (napi_is_array(env, args[3], &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, args[3], &nfds) != napi_ok ||
      nfds > MAX_FDS)
    return lf_type_error(env, "spawn: fds must be an array of at most 4096 fds");
  {
    int32_t fds[MAX_FDS];
    for (uint32_t i = 0; i < nfds; i++)
      if (lf_int_element(env, args[3], i, &fds[i]) != 0 || fds[i] < -1)
        return lf_type_error(env, "spawn: fds must be integers >= -1");
    argv = lf_string_vector(env, args[1], &nargv, &bad);
    if (!argv) return lf_type_error(env, bad);
    if (nargv == 0) {
      lf_free_strings(argv, 0);
      return lf_type_error(env, "spawn: argv must not be empty");
    }
    envp = lf_string_vector(env, args[2], &nenv, &bad);
    if (!envp) {
      lf_free_strings(argv, nargv);
      return lf_type_error(env, bad);
    }
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      failed = "napi_get_uv_event_loop";
      err = EINVAL;
      goto done;
    }

    /* The status channel: both ends close-on-exec; the child's end is dup2'ed to fd nfds. */
#ifdef SOCK_CLOEXEC
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
#else
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || fcntl(sv[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(sv[1], F_SETFD, FD_CLOEXEC) != 0) {
#endif
      err = errno;
      failed = "socketpair";
      goto done;
    }
    /* Move every source above the highest target (nfds), close-on-exec, in the agent. */
    for (uint32_t i = 0; i <= nfds; i++) {
      int src = i < nfds ? fds[i] : sv[1];
      if (src == -1) {
        if (devnull < 0) {
          devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
          if (devnull < 0) {
            err = errno;
            failed = "open /dev/null";
            goto done;
          }
        }
        src = devnull;
      }
      tmp[ntmp] = fcntl(src, F_DUPFD_CLOEXEC, (int)nfds + 1);
      if (tmp[ntmp] < 0) {
        err = errno;
        failed = "fcntl F_DUPFD_CLOEXEC";
        goto done;
      }
      ntmp++;
    }
    if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
      failed = "posix_spawn_file_actions_init";
      goto done;
    }
    fa_ok = 1;
    for (size_t i = 0; i < ntmp; i++)
      if ((err = posix_spawn_file_actions_adddup2(&fa, tmp[i], (int)i)) != 0) {
        failed = "posix_spawn_file_actions_adddup2";
        goto done;
      }
#if LF_HAVE_ADDCHDIR
    if ((err = posix_spawn_file_actions_addchdir_np(&fa, "/")) != 0) {
      failed = "posix_spawn_file_actions_addchdir_np";
      goto done;
    }
#endif
    if ((err = posix_spawnattr_init(&attr)) != 0) {
      failed = "posix_spawnattr_init";
      goto done;
    }
    attr_ok = 1;
    sigfillset(&all);
    sigemptyset(&none);
#if LF_HAVE_SETSID
    flags |= POSIX_SPAWN_SETSID;
#endif
#ifdef POSIX_SPAWN_CLOEXEC_DEFAULT
    /* macOS: close every fd not named in the file actions. */
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    if ((err = posix_spawnattr_setsigdefault(&attr, &all)) != 0 || (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (err = posix_spawnattr_setflags(&attr, flags)) != 0) {
      failed = "posix_spawnattr";
      goto done;
    }
    /* Reserve the pid slot and start the watcher before the child exists: it cannot be missed. */
    if (lf_reaper_reserve(r, loop) != 0) {
      err = ENOMEM;
      failed = "uv_signal_start";
      goto done;
    }
    err = posix_spawn(&pid, path, &fa, &attr, argv, envp);
    if (err != 0) {
      lf_reaper_cancel(r);
      failed = "posix_spawn";
      goto done;
    }
    lf_reaper_commit(r, pid);
  }
done:
  if (fa_ok) posix_spawn_file_actions_destroy(&fa);
  if (attr_ok) posix_spawnattr_destroy(&attr);
  for (size_t i = 0; i < ntmp; i++) close(tmp[i]);
  if (devnull >= 0) close(devnull);
  if (sv[1] >= 0) close(sv[1]);
  lf_free_strings(argv, nargv);
  lf_free_strings(envp, nenv);
  if (failed) {
    if (sv[0] >= 0) close(sv[0]);
    return lf_spawn_error(env, err, failed);
  }
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  napi_create_int32(env, (int32_t)pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_int32(env, sv[0], &v);
  napi_set_named_property(env, out, "statusFd", v);
  return out;
}

static napi_value js_on_exit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value fn, name;
  napi_valuetype t;
  reaper *r = NULL;
  if (napi_get_cb_info(env, info, &argc, &fn, NULL, (void **)&r) != napi_ok || argc < 1 || !r ||
      napi_typeof(env, fn, &t) != napi_ok || t != napi_function)
    return lf_type_error(env, "onExit(cb): cb must be a function");
  if (r->cb) napi_delete_reference(env, r->cb);
  r->cb = NULL;
  if (!r->actx) {
    if (napi_create_string_utf8(env, "lfnative.spawn", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &r->actx) != napi_ok)
      return lf_type_error(env, "onExit: N-API failure");
  }
  if (napi_create_reference(env, fn, 1, &r->cb) != napi_ok) return lf_type_error(env, "onExit: N-API failure");
  return NULL;
}

/*
 * kill(target, signal) -> 0 or the errno: kill(2) without an exception. The supervisor signals
 * a job's process group after every exit (job_reap), and the group is usually gone by then:
 * process.kill builds and throws an ErrnoException for that ESRCH each time. target 0 and -1
 * (the agent's own group, every process) are refused with EINVAL.
 */
static napi_value js_kill(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2], out;
  int32_t target, signo;
  int err = 0;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, args[0], &target) != napi_ok ||
      napi_get_value_int32(env, args[1], &signo) != napi_ok || signo < 0 || signo >= NSIG)
    return lf_type_error(env, "kill(target, signal): two integers, a valid signal number");
  if (target == 0 || target == -1)
    err = EINVAL;
  else if (kill((pid_t)target, signo) != 0)
    err = errno;
  if (napi_create_int32(env, err, &out) != napi_ok) return lf_type_error(env, "kill: N-API failure");
  return out;
}

int lf_spawn_init(napi_env env, napi_value exports) {
  reaper *r = calloc(1, sizeof *r);
  napi_value caps, b, fn;
  if (!r) return -1;
  r->env = env;
  if (napi_add_env_cleanup_hook(env, reaper_cleanup, r) != napi_ok) {
    free(r);
    return -1;
  }
  if (napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, js_spawn, r, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "spawn", fn) != napi_ok ||
      napi_create_function(env, "onExit", NAPI_AUTO_LENGTH, js_on_exit, r, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "onExit", fn) != napi_ok ||
      napi_create_function(env, "kill", NAPI_AUTO_LENGTH, js_kill, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "kill", fn) != napi_ok || napi_create_object(env, &caps) != napi_ok)
    return -1;
  napi_get_boolean(env, LF_HAVE_SETSID, &b);
  napi_set_named_property(env, caps, "setsid", b);
  napi_get_boolean(env, LF_HAVE_ADDCHDIR, &b);
  napi_set_named_property(env, caps, "chdir", b);
  if (napi_set_named_property(env, exports, "capabilities", caps) != napi_ok) return -1;
  return lf_direct_init(env, exports, r);
}
