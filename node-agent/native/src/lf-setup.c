/*
 * lf-setup: the job's child setup shared by the lf-exec shim and the addon's direct spawn. The
 * split between the parent-side preparation and the async-signal-safe child is described in
 * lf-setup.h; the option syntax and the status records in lf-exec.c.
 *
 * Why raw syscalls in the child (Linux): the direct spawn's child shares the agent's memory
 * (CLONE_VM|CLONE_VFORK, as glibc's posix_spawn does). glibc's setuid/setgid/setgroups are
 * "setxid" calls that make every thread of the process change its credentials, and glibc's
 * thread list in that shared memory names the agent's threads: the child would ask the agent's
 * threads to change theirs. The kernel's credentials are per task, so the raw syscalls change
 * exactly the child. The same holds for rt_sigaction (glibc refuses its reserved signals 32/33,
 * which its posix_spawn leaves ignored) and for close_range and ioprio_set (no glibc wrapper).
 */
#ifdef __linux__
#define _GNU_SOURCE
#endif
#include "lf-setup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#define LF_MAX_GROUPS 1024
#define LF_PID_SLOT 24

/* ---------------------------------------------------------------------------------------------
 * Async-signal-safe helpers (used in the child)
 * ------------------------------------------------------------------------------------------- */

static size_t lf_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static int lf_has_slash(const char *s) {
  for (; *s; s++)
    if (*s == '/') return 1;
  return 0;
}

/* Appends s (TABs and line breaks as spaces) while it fits; the last byte stays free. */
static void put_field(char *buf, size_t *len, size_t cap, const char *s) {
  if (!s) return;
  for (; *s && *len + 1 < cap; s++) buf[(*len)++] = (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s;
}

static void put_int(char *buf, size_t *len, size_t cap, long long v) {
  char tmp[24];
  size_t n = 0;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u && n < sizeof tmp);
  if (v < 0 && *len + 1 < cap) buf[(*len)++] = '-';
  while (n > 0 && *len + 1 < cap) buf[(*len)++] = tmp[--n];
}

size_t lf_format_record(char *buf, size_t cap, char kind, const char *stage, int err, int exit_status,
                        const char *pre, const char *arg, const char *post) {
  size_t len = 0;
  /* The message is bounded so that a record always fits in LF_RECORD_MAX. */
  size_t msg_cap = cap > 1024 ? 1024 : cap;
  buf[len++] = kind;
  buf[len++] = '\t';
  put_field(buf, &len, cap - 64, stage);
  buf[len++] = '\t';
  put_int(buf, &len, cap - 1, err);
  buf[len++] = '\t';
  if (kind == 'F') {
    put_int(buf, &len, cap - 1, exit_status);
    buf[len++] = '\t';
  }
  {
    size_t start = len, lim = start + msg_cap < cap - 1 ? start + msg_cap : cap - 1;
    put_field(buf, &len, lim, pre);
    put_field(buf, &len, lim, arg);
    put_field(buf, &len, lim, post);
  }
  buf[len++] = '\n';
  return len;
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n;
#ifdef MSG_NOSIGNAL
    n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(fd, buf, len);
#else
    n = write(fd, buf, len);
#endif
    if (n < 0) {
      if (errno == EINTR) continue;
      return; /* EAGAIN (a full non-blocking pipe) or a closed reader: the record is lost */
    }
    buf += n;
    len -= (size_t)n;
  }
}

void lf_setup_record(struct lf_setup *s, char kind, const char *stage, int err, int exit_status, const char *pre,
                     const char *arg, const char *post) {
  char line[LF_RECORD_MAX];
  size_t len;
  if (s->status_fd < 0) return;
  if (kind == 'W' && s->status_written >= LF_STATUS_BUDGET) return;
  if (kind == 'S') { /* WaitForDebugger: the bare marker */
    s->status_written += 2;
    write_all(s->status_fd, "S\n", 2);
    return;
  }
  len = lf_format_record(line, sizeof line, kind, stage, err, exit_status, pre, arg, post);
  s->status_written += len;
  write_all(s->status_fd, line, len);
}

static void warn(struct lf_setup *s, const char *stage, int err, const char *pre, const char *arg, const char *post) {
  lf_setup_record(s, 'W', stage, err, 0, pre, arg, post);
}

static void fail_status(struct lf_setup *s, const char *stage, int err, int status, const char *pre, const char *arg,
                        const char *post) __attribute__((noreturn));
static void fail_status(struct lf_setup *s, const char *stage, int err, int status, const char *pre, const char *arg,
                        const char *post) {
  lf_setup_record(s, 'F', stage, err, status, pre, arg, post);
  _exit(status);
}

static void fail(struct lf_setup *s, const char *stage, int err, const char *pre, const char *arg, const char *post)
    __attribute__((noreturn));
static void fail(struct lf_setup *s, const char *stage, int err, const char *pre, const char *arg, const char *post) {
  fail_status(s, stage, err, LF_EX_CONFIG, pre, arg, post);
}

/* ---- signals ---- */

#if defined(__linux__) && defined(SYS_rt_sigaction)
/* The kernel's struct sigaction: all zero is SIG_DFL, no flags, an empty mask, on every
 * architecture's layout. The size argument is the kernel's sigset size (_NSIG / 8). */
static void reset_signals(void) {
  unsigned long ksa[8] = {0};
  for (int sig = 1; sig < _NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)(_NSIG / 8));
  }
}
static void empty_signal_mask(void) {
  unsigned long set[2] = {0, 0};
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, NULL, (size_t)(_NSIG / 8));
}
#else
static void reset_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, NULL);
  }
}
static void empty_signal_mask(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}
#endif

/* ---- credentials ---- */

#ifdef __linux__
#ifdef SYS_setresuid32 /* 32-bit ABIs: the 16-bit-id calls are the unsuffixed ones */
#define LF_SYS_SETRESUID SYS_setresuid32
#define LF_SYS_SETRESGID SYS_setresgid32
#define LF_SYS_SETGROUPS SYS_setgroups32
#else
#define LF_SYS_SETRESUID SYS_setresuid
#define LF_SYS_SETRESGID SYS_setresgid
#define LF_SYS_SETGROUPS SYS_setgroups
#endif
static int set_gid(gid_t g) { return (int)syscall(LF_SYS_SETRESGID, g, g, g); }
static int set_uid(uid_t u) { return (int)syscall(LF_SYS_SETRESUID, u, u, u); }
static int set_groups(int n, const gid_t *g) { return (int)syscall(LF_SYS_SETGROUPS, (size_t)n, g); }
static pid_t my_pid(void) { return (pid_t)syscall(SYS_getpid); }
#else
static int set_gid(gid_t g) { return setgid(g); }
static int set_uid(uid_t u) { return setuid(u); }
static int set_groups(int n, const gid_t *g) { return setgroups(n, g); }
static pid_t my_pid(void) { return getpid(); }
#endif

/* ---- fds ---- */

#if defined(__linux__) && defined(SYS_getdents64)
struct lf_dirent64 {
  unsigned long long d_ino;
  long long d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};
/* Closes the fds listed in /proc/self/fd; 0 when the listing worked. */
static int close_listed(int from, int keep) {
  char buf[4096];
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(dfd);
      return -1;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct lf_dirent64 *e = (struct lf_dirent64 *)(void *)(buf + off);
      long fd = 0;
      int digits = 0;
      off += e->d_reclen;
      for (const char *c = e->d_name; *c >= '0' && *c <= '9' && fd < INT_MAX / 10; c++, digits++)
        fd = fd * 10 + (*c - '0');
      if (digits == 0 || e->d_name[digits] != '\0') continue;
      if (fd >= from && fd != keep && fd != dfd) close((int)fd);
    }
  }
  close(dfd);
  return 0;
}
#endif

/* Closes every fd >= from except keep (-1: none). */
static void close_from(int from, int keep, long open_max) {
#if defined(__linux__) && defined(SYS_close_range)
  if (keep >= from) {
    if ((keep == from || syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0) == 0) &&
        syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0)
      return;
  } else if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0) {
    return;
  }
#endif
#if defined(__linux__) && defined(SYS_getdents64)
  if (close_listed(from, keep) == 0) return;
#endif
  for (long fd = from; fd < open_max; fd++)
    if (fd != keep) close((int)fd);
}

static void open_stdio(struct lf_setup *s, const char *stage, const char *path, int target, int flags) {
  /* O_NONBLOCK for the open only: a FIFO with no peer must not hang the spawn (stdin opens at
   * once; stdout/stderr fail with ENXIO); the job then gets an ordinary blocking descriptor. */
  int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, 0666);
  if (fd >= 0) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  if (fd < 0) {
    int err = errno;
    if (s->stdio_refuse) fail(s, stage, err, "cannot open ", path, "");
    warn(s, stage, err, "cannot open ", path, "; keeping the inherited stream");
    return;
  }
  if (fd != target) {
    if (dup2(fd, target) < 0) {
      int err = errno;
      close(fd);
      fail(s, stage, err, "dup2 failed for ", path, "");
    }
    close(fd);
  } else {
    fcntl(fd, F_SETFD, 0);
  }
}

/* ---- exec ---- */

/* execvp's fallback for a file the kernel cannot run (ENOEXEC): /bin/sh FILE ARG... */
static void exec_script(struct lf_setup *s, const char *file) {
  s->sh_argv[1] = (char *)file;
  execve("/bin/sh", s->sh_argv, s->envp);
}

/* execve, or execvp's PATH search over the final environment (glibc's __execvpe, by hand). */
static int exec_job(struct lf_setup *s) {
  const char *file = s->program;
  if (!s->search_path || lf_has_slash(file)) {
    execve(file, s->argv, s->envp);
    if (s->search_path && errno == ENOEXEC) exec_script(s, file);
    return errno;
  }
  if (*file == '\0') return ENOENT;
  {
    size_t flen = lf_strlen(file);
    int got_eacces = 0, err = ENOENT;
    const char *p = s->path_list;
    if (flen > NAME_MAX) return ENAMETOOLONG;
    for (;;) {
      const char *end = p;
      size_t dlen, len = 0;
      while (*end && *end != ':') end++;
      dlen = (size_t)(end - p);
      if (dlen + flen + 2 <= s->exec_buf_size) {
        for (size_t k = 0; k < dlen; k++) s->exec_buf[len++] = p[k];
        if (dlen > 0) s->exec_buf[len++] = '/'; /* an empty element is the current directory */
        for (size_t k = 0; k <= flen; k++) s->exec_buf[len++] = file[k];
        execve(s->exec_buf, s->argv, s->envp);
        err = errno;
        if (err == ENOEXEC) {
          exec_script(s, s->exec_buf);
          err = errno;
        }
        switch (err) {
          case EACCES:
            got_eacces = 1;
            break;
          case ENOENT:
          case ESTALE:
          case ENOTDIR:
          case ENODEV:
          case ETIMEDOUT:
            break;
          default:
            return err;
        }
      }
      if (*end == '\0') break;
      p = end + 1;
    }
    return got_eacces ? EACCES : err;
  }
}

/* ---------------------------------------------------------------------------------------------
 * The child: async-signal-safe only
 * ------------------------------------------------------------------------------------------- */

void lf_setup_child(struct lf_setup *s) {
  int ntarget = s->src_fds ? s->nsrc : 3 + (int)s->nfds;

  /* No handler of the parent may run here: every disposition back to the default (the direct
   * spawn's parent blocked every signal before creating this child). */
  reset_signals();

  /* The fds: sources into 0..n-1 (direct spawn), then nothing of the agent beyond them. */
  if (s->src_fds)
    for (int i = 0; i < s->nsrc; i++)
      if (dup2(s->src_fds[i], i) < 0) fail(s, "fds", errno, "dup2 failed", "", "");
  /* launchd's jobs start in "/": relative paths below (RootDirectory, stdio) resolve from it. */
  if (s->reset_cwd && chdir("/") != 0) fail(s, "cwd", errno, "chdir / failed", "", "");
  close_from(ntarget, s->status_fd, s->open_max);

  /* 1. Nice */
  if (s->has_nice && setpriority(PRIO_PROCESS, 0, (int)s->nice) != 0) warn(s, "nice", errno, "setpriority failed", "", "");

  /* 2. Resource limits (computed by prepare: only the given half replaced). */
  for (int k = 0; k < s->nlimits; k++) {
    struct lf_limit *l = &s->limits[k];
    if (l->get_errno) warn(s, "rlimit", l->get_errno, "getrlimit failed for ", l->spec, "");
    else if (setrlimit(l->resource, &l->final) != 0) warn(s, "rlimit", errno, "setrlimit failed for ", l->spec, "");
  }

  /* 3. A session of its own (SessionCreate; every launchd job leads its own group). */
  if (s->do_setsid && getsid(0) != my_pid() && setsid() < 0) warn(s, "session", errno, "setsid failed", "", "");

  /* 4. I/O priority */
  if (s->low_io) {
#if defined(__linux__) && defined(SYS_ioprio_set)
    /* IOPRIO_WHO_PROCESS = 1, IOPRIO_CLASS_IDLE = 3, class shift 13 */
    if (syscall(SYS_ioprio_set, 1, 0, (3 << 13) | 0) != 0) warn(s, "iopolicy", errno, "ioprio_set failed", "", "");
#elif defined(__APPLE__)
    if (setiopolicy_np(IOPOL_TYPE_DISK, IOPOL_SCOPE_PROCESS, IOPOL_THROTTLE) != 0)
      warn(s, "iopolicy", errno, "setiopolicy_np failed", "", "");
#endif
  }

  /* 5. RootDirectory. chdir into it first and chroot("."): the cwd never stays outside the root
   * (842's chroot + chdir(".") keeps launchd's cwd, which is "/" of the host only by luck). */
  if (s->root) {
    if (chdir(s->root) != 0) fail(s, "chroot", errno, "cannot chdir to ", s->root, "");
    if (chroot(".") != 0) fail(s, "chroot", errno, "chroot to ", s->root, " failed");
    if (chdir("/") != 0) fail(s, "chroot", errno, "chdir / in ", s->root, " failed");
  }

  /* 6. Credentials: group, supplementary groups, user; then check they took and stick. */
  if (s->uid >= 0) {
    uid_t uid = (uid_t)s->uid;
    gid_t gid = (gid_t)s->gid;
    if (s->change_creds) {
      if (set_gid(gid) != 0) fail(s, "group", errno, "setgid failed", "", "");
      if (set_groups(s->ngroups, s->groups) != 0) fail(s, "group", errno, "setgroups failed", "", "");
#ifdef __APPLE__
      if (s->user && setlogin(s->user) != 0) warn(s, "user", errno, "setlogin ", s->user, " failed");
#endif
      if (set_uid(uid) != 0) fail(s, "user", errno, "setuid failed", "", "");
    }
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
      fail(s, "user", EPERM, "credentials did not take", "", "");
    if (uid != 0 && set_uid(0) == 0) fail(s, "user", EPERM, "could regain root after dropping privileges", "", "");
  }

  /* 7. WorkingDirectory: a warning, the job still runs (842 core.c:5182). */
  if (s->cwd && chdir(s->cwd) != 0) warn(s, "cwd", errno, "non-existent or inaccessible working directory ", s->cwd, "");

  /* 8. Umask */
  if (s->umask_v >= 0) umask((mode_t)s->umask_v);

  /* 9. Standard streams, opened as the job user with its umask. */
  if (s->in_path) open_stdio(s, "stdin", s->in_path, 0, O_RDONLY | O_NOCTTY);
  if (s->out_path) open_stdio(s, "stdout", s->out_path, 1, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY);
  if (s->err_path) open_stdio(s, "stderr", s->err_path, 2, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY);

  /* 10. The job leads its own process group (pgid == pid); a session leader already does. */
  if (getpgrp() != my_pid() && setpgid(0, 0) != 0) fail(s, "pgroup", errno, "setpgid failed", "", "");

  /* 11. LISTEN_PID is this process's own pid: written into the slot prepare reserved. */
  if (s->listen_pid_digits) {
    char *d = s->listen_pid_digits;
    size_t len = 0;
    put_int(d, &len, LF_PID_SLOT, (long long)my_pid());
    d[len] = '\0';
  }

  /* 12. The shim's own steps (glob, WaitForDebugger). */
  if (s->before_exec) s->before_exec(s);

  empty_signal_mask();
  {
    int err = exec_job(s);
    fail_status(s, "exec", err, err, "cannot execute ", s->program, "");
  }
}

/* ---------------------------------------------------------------------------------------------
 * Options and preparation (the parent side: may allocate)
 * ------------------------------------------------------------------------------------------- */

void lf_setup_init(struct lf_setup *s) {
  memset(s, 0, sizeof *s);
  s->status_fd = -1;
  s->uid = s->gid = s->umask_v = -1;
  s->stdio_refuse = 1;
}

static int parse_long(const char *s, long long min, long long max, long long *out) {
  char *end;
  long long v;
  if (!s || !*s) return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int resource_by_name(const char *name, size_t n) {
  static const struct {
    const char *name;
    int resource;
  } table[] = {
      {"core", RLIMIT_CORE},     {"cpu", RLIMIT_CPU},       {"data", RLIMIT_DATA},
      {"fsize", RLIMIT_FSIZE},
#ifdef RLIMIT_MEMLOCK
      {"memlock", RLIMIT_MEMLOCK},
#endif
      {"nofile", RLIMIT_NOFILE},
#ifdef RLIMIT_NPROC
      {"nproc", RLIMIT_NPROC},
#endif
#ifdef RLIMIT_RSS
      {"rss", RLIMIT_RSS},
#endif
      {"stack", RLIMIT_STACK},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strlen(table[i].name) == n && strncmp(table[i].name, name, n) == 0) return table[i].resource;
  return -1;
}

static int parse_rlim(const char *s, size_t n, int *set, rlim_t *out) {
  char tmp[32];
  long long v;
  if (n == 1 && s[0] == '-') {
    *set = 0;
    return 0;
  }
  if (n == 0 || n >= sizeof tmp) return -1;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  *set = 1;
  if (strcmp(tmp, "inf") == 0) {
    *out = RLIM_INFINITY;
    return 0;
  }
  if (parse_long(tmp, 0, LLONG_MAX, &v) != 0) return -1;
  *out = (rlim_t)v;
  if (*out >= RLIM_INFINITY) *out = RLIM_INFINITY;
  return 0;
}

/* "name:soft:hard" */
static int parse_limit(const char *v, struct lf_limit *out) {
  const char *c1 = strchr(v, ':');
  const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (!c1 || !c2) return -1;
  out->resource = resource_by_name(v, (size_t)(c1 - v));
  if (out->resource < 0) return -1;
  if (parse_rlim(c1 + 1, (size_t)(c2 - c1 - 1), &out->set_soft, &out->soft) != 0) return -1;
  if (parse_rlim(c2 + 1, strlen(c2 + 1), &out->set_hard, &out->hard) != 0) return -1;
  out->spec = v;
  return 0;
}

int lf_setup_option(struct lf_setup *s, const char *a) {
  const char *eq = strchr(a, '=');
  const char *v = eq ? eq + 1 : NULL;
  size_t klen = eq ? (size_t)(eq - a) : strlen(a);
  long long n;
#define IS(k) (klen == sizeof(k) - 1 && strncmp(a, k, klen) == 0)
  if (IS("--status-fd") && parse_long(v, 3, INT_MAX, &n) == 0) s->status_fd = (int)n;
  else if (IS("--label") && v) s->label = v;
  else if (IS("--nfds") && parse_long(v, 0, 1 << 16, &n) == 0) s->nfds = n;
  else if (IS("--nice") && parse_long(v, -40, 40, &n) == 0) {
    s->nice = n;
    s->has_nice = 1;
  } else if (IS("--rlimit") && v && s->nlimits < LF_MAX_LIMITS && parse_limit(v, &s->limits[s->nlimits]) == 0)
    s->nlimits++;
  else if (IS("--setsid") && !v) s->do_setsid = 1;
  else if (IS("--reset-cwd") && !v) s->reset_cwd = 1;
  else if (IS("--low-priority-io") && !v) s->low_io = 1;
  else if (IS("--root") && v && *v) s->root = v;
  else if (IS("--uid") && parse_long(v, 0, (long long)UINT_MAX - 1, &n) == 0) s->uid = n;
  else if (IS("--gid") && parse_long(v, 0, (long long)UINT_MAX - 1, &n) == 0) s->gid = n;
  else if (IS("--user") && v && *v) s->user = v;
  else if (IS("--no-initgroups") && !v) s->no_initgroups = 1;
  else if (IS("--cwd") && v && *v) s->cwd = v;
  else if (IS("--umask") && v && *v && strlen(v) <= 4 && strspn(v, "01234567") == strlen(v))
    s->umask_v = strtol(v, NULL, 8);
  else if (IS("--stdin") && v && *v) s->in_path = v;
  else if (IS("--stdout") && v && *v) s->out_path = v;
  else if (IS("--stderr") && v && *v) s->err_path = v;
  else if (IS("--stdio-failure") && v && (strcmp(v, "refuse") == 0 || strcmp(v, "warn") == 0))
    s->stdio_refuse = strcmp(v, "refuse") == 0;
  else if (IS("--search-path") && !v) s->search_path = 1;
  else if (IS("--glob") && !v) s->do_glob = 1;
  else if (IS("--listen-pid") && !v) s->listen_pid = 1;
  else if (IS("--listen-fdnames") && v) s->fdnames = v;
  else if (IS("--suspend") && !v) s->suspend = 1;
  else return -1;
#undef IS
  return 0;
}

static char *own(struct lf_setup *s, char *p) {
  if (p && s->nowned < (int)(sizeof s->owned_strings / sizeof s->owned_strings[0])) s->owned_strings[s->nowned++] = p;
  return p;
}

/* "KEY=" + value (+ room for extra bytes after the value), owned by s. */
static char *env_entry(struct lf_setup *s, const char *key, const char *value, size_t room) {
  size_t k = strlen(key), v = strlen(value);
  char *e = malloc(k + 1 + v + room + 1);
  if (!e) return NULL;
  memcpy(e, key, k);
  e[k] = '=';
  memcpy(e + k + 1, value, v + 1);
  return own(s, e);
}

static int env_index(char **env, int n, const char *key) {
  size_t k = strlen(key);
  for (int i = 0; i < n; i++)
    if (strncmp(env[i], key, k) == 0 && env[i][k] == '=') return i;
  return -1;
}

#define FAIL(st, e, p, a, q)                                                                                           \
  do {                                                                                                                 \
    f->stage = (st);                                                                                                   \
    f->err = (e);                                                                                                      \
    f->pre = (p);                                                                                                      \
    f->arg = (a);                                                                                                      \
    f->post = (q);                                                                                                     \
    return -1;                                                                                                         \
  } while (0)

int lf_setup_set_argv(struct lf_setup *s, char **argv) {
  int argc = 0;
  char **sh;
  while (argv[argc]) argc++;
  sh = malloc(sizeof *sh * (size_t)(argc > 1 ? argc + 2 : 3));
  if (!sh) return -1;
  sh[0] = (char *)"/bin/sh";
  sh[1] = (char *)s->program;
  for (int i = 1; i < argc; i++) sh[i + 1] = argv[i];
  sh[argc > 1 ? argc + 1 : 2] = NULL;
  free(s->sh_argv);
  s->sh_argv = sh;
  s->argv = argv;
  return 0;
}

int lf_setup_prepare(struct lf_setup *s, char *const *env_in, struct lf_failure *f) {
  int n = 0, m;
  char **env;
  struct passwd pwbuf, *pw = NULL;
  char *pwmem = NULL;
  long max;

  if ((s->uid >= 0) != (s->gid >= 0)) FAIL("args", EINVAL, "--uid and --gid go together", "", "");
  if (!s->program || !s->argv || !s->argv[0]) FAIL("args", EINVAL, "missing PROGRAM and ARGV0 after --", "", "");

  /* Supplementary groups: read here, from the host's database, before any chroot. */
  if (s->uid >= 0) {
    s->change_creds = !((uid_t)s->uid == getuid() && (gid_t)s->gid == getgid() && geteuid() != 0);
    s->groups = malloc(sizeof *s->groups * LF_MAX_GROUPS);
    if (!s->groups) FAIL("groups", ENOMEM, "out of memory", "", "");
    if (s->user && !s->no_initgroups) {
      int cnt = LF_MAX_GROUPS;
#ifdef __APPLE__
      if (getgrouplist(s->user, (int)s->gid, (int *)s->groups, &cnt) < 0)
#else
      if (getgrouplist(s->user, (gid_t)s->gid, s->groups, &cnt) < 0)
#endif
        FAIL("groups", E2BIG, "user ", s->user, " is in too many groups");
      s->ngroups = cnt;
    } else {
      s->groups[0] = (gid_t)s->gid;
      s->ngroups = 1;
    }
  }

  /* Resource limits: the current ones are the child's too; replace only the given half. */
  for (int k = 0; k < s->nlimits; k++) {
    struct lf_limit *l = &s->limits[k];
    struct rlimit rl;
    if (getrlimit(l->resource, &rl) != 0) {
      l->get_errno = errno ? errno : EINVAL;
      continue;
    }
    if (l->set_soft) rl.rlim_cur = l->soft;
    if (l->set_hard) rl.rlim_max = l->hard;
    /* Only the hard half given, below the current soft: lower the soft with it, or setrlimit
     * fails with EINVAL and HardResourceLimits alone would never apply to an unlimited soft. */
    if (!l->set_soft && rl.rlim_max != RLIM_INFINITY && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max))
      rl.rlim_cur = rl.rlim_max;
    l->final = rl;
  }

  /* The environment: the given one, plus the account variables launchd fills in only when
   * unset (setenv(..., 0): from the final uid's passwd entry), TMPDIR, and LISTEN_*. */
  while (env_in && env_in[n]) n++;
  env = malloc(sizeof *env * (size_t)(n + 9));
  if (!env) FAIL("env", ENOMEM, "out of memory", "", "");
  for (int i = 0; i < n; i++) env[i] = env_in[i];
  m = n;
  s->envp = env;
  if (env_index(env, m, "HOME") < 0 || env_index(env, m, "USER") < 0 || env_index(env, m, "LOGNAME") < 0 ||
      env_index(env, m, "SHELL") < 0) {
    uid_t who = s->uid >= 0 ? (uid_t)s->uid : geteuid();
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    if (size < 4096) size = 16384;
    for (int tries = 0; tries < 4; tries++, size *= 4) {
      int r;
      free(pwmem);
      pwmem = malloc((size_t)size);
      if (!pwmem) break;
      r = getpwuid_r(who, &pwbuf, pwmem, (size_t)size, &pw);
      if (r != ERANGE) break;
      pw = NULL;
    }
    if (pw) {
      const char *vals[4] = {pw->pw_dir, pw->pw_name, pw->pw_name, pw->pw_shell};
      const char *keys[4] = {"HOME", "USER", "LOGNAME", "SHELL"};
      for (int k = 0; k < 4; k++) {
        if (!vals[k] || (k == 3 && !*vals[k]) || env_index(env, m, keys[k]) >= 0) continue;
        if (!(env[m] = env_entry(s, keys[k], vals[k], 0))) {
          free(pwmem);
          FAIL("env", ENOMEM, "out of memory", "", "");
        }
        m++;
      }
    }
    free(pwmem);
  }
  if (env_index(env, m, "TMPDIR") < 0) env[m++] = (char *)"TMPDIR=/tmp";
  if (s->listen_pid) {
    char num[24];
    size_t len = 0;
    char *e;
    int i;
    /* LISTEN_PID=<digits written by the child>: room for any pid. */
    if (!(e = env_entry(s, "LISTEN_PID", "", LF_PID_SLOT))) FAIL("env", ENOMEM, "out of memory", "", "");
    s->listen_pid_digits = e + strlen("LISTEN_PID=");
    if ((i = env_index(env, m, "LISTEN_PID")) >= 0) env[i] = e;
    else env[m++] = e;
    put_int(num, &len, sizeof num, s->nfds);
    num[len] = '\0';
    if (!(e = env_entry(s, "LISTEN_FDS", num, 0))) FAIL("env", ENOMEM, "out of memory", "", "");
    if ((i = env_index(env, m, "LISTEN_FDS")) >= 0) env[i] = e;
    else env[m++] = e;
    if (s->fdnames) {
      if (!(e = env_entry(s, "LISTEN_FDNAMES", s->fdnames, 0))) FAIL("env", ENOMEM, "out of memory", "", "");
      if ((i = env_index(env, m, "LISTEN_FDNAMES")) >= 0) env[i] = e;
      else env[m++] = e;
    }
  }
  env[m] = NULL;

  /* The PATH search (execvp's: the final environment's PATH, else the default path). */
  {
    int i = env_index(env, m, "PATH");
    s->path_list = i >= 0 ? env[i] + 5 : "/bin:/usr/bin";
    s->exec_buf_size = strlen(s->path_list) + strlen(s->program) + 2;
    s->exec_buf = malloc(s->exec_buf_size);
    if (!s->exec_buf) FAIL("exec", ENOMEM, "out of memory", "", "");
  }
  if (lf_setup_set_argv(s, s->argv) != 0) FAIL("exec", ENOMEM, "out of memory", "", "");

  max = sysconf(_SC_OPEN_MAX);
  s->open_max = max < 0 || max > 1 << 20 ? 1 << 20 : max;
  return 0;
}

void lf_setup_release(struct lf_setup *s) {
  for (int i = 0; i < s->nowned; i++) free(s->owned_strings[i]);
  s->nowned = 0;
  free(s->groups);
  free(s->envp);
  free(s->exec_buf);
  free(s->sh_argv);
  s->groups = NULL;
  s->envp = NULL;
  s->exec_buf = NULL;
  s->sh_argv = NULL;
}
