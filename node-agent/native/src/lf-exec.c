/*
 * lf-exec: the job exec shim. It does in the child what launchd's job_setup_attributes and
 * xpcproxy do (SPEC §2.3 "Child setup order"), then execs the job in place, so the job's pid is
 * the pid Node's child_process saw.
 *
 * INVOCATION (argv only; nothing is read from the environment, so the job's environment is
 * exactly the one the agent passed to spawn):
 *
 *   lf-exec [OPTION...] -- PROGRAM ARGV0 [ARG...]
 *
 * Each OPTION is one argv element, "--name" or "--name=value"; a value is the raw bytes after
 * the first '=' (argv cannot hold NUL, so no escaping is needed for paths):
 *
 *   --label=L              job label, only used in messages
 *   --status-fd=N          REQUIRED. The status channel (a pipe or socketpair). Set close-on-exec
 *                          here, so a successful exec closes it with nothing written but warnings.
 *   --nfds=K               the passed fds are already at 3..3+K-1 (Node's spawn dup2s them there);
 *                          every other fd >= 3 is closed, except the status fd
 *   --nice=N               setpriority(PRIO_PROCESS, 0, N); failure is a warning
 *   --rlimit=NAME:SOFT:HARD  NAME in core cpu data fsize memlock nofile nproc rss stack;
 *                          SOFT/HARD decimal, "inf", or "-" (keep that half); failure is a warning
 *   --setsid               a new session (skipped when already a session leader): for a spawner
 *                          whose posix_spawn has no POSIX_SPAWN_SETSID
 *   --reset-cwd            chdir("/") before anything else: for a spawner whose posix_spawn cannot
 *                          set the cwd (no posix_spawn_file_actions_addchdir_np)
 *   --low-priority-io      ioprio idle class (Linux), IOPOL_THROTTLE (macOS), no-op elsewhere
 *   --root=DIR             chroot(DIR), then chdir("/")
 *   --uid=N --gid=N        drop to these ids (verified afterwards)
 *   --user=NAME            the user name for the supplementary group list (initgroups)
 *   --no-initgroups        supplementary groups = just the gid
 *   --cwd=DIR              chdir; failure is a warning and the job still runs (842)
 *   --umask=OCTAL
 *   --stdin=PATH --stdout=PATH --stderr=PATH   opened after dropping privileges and umask
 *   --stdio-failure=refuse|warn   refuse (modern, default): fail with 78; warn (842): keep the fd
 *   --search-path          execvp using PATH of the final environment (SPEC D16); else execv
 *   --glob                 glob(3) each ARGV element (GLOB_NOSORT|GLOB_NOCHECK|GLOB_TILDE)
 *   --listen-pid           set LISTEN_PID=getpid() and LISTEN_FDS=K (systemd protocol)
 *   --listen-fdnames=A:B   also set LISTEN_FDNAMES
 *   --suspend              WaitForDebugger: report "S", raise(SIGSTOP), then exec on SIGCONT
 *
 * STATUS CHANNEL, one line per record, fields separated by TAB (TABs/newlines in messages are
 * replaced by spaces):
 *   W <stage> <errno> <message>                a warning; setup continues
 *   F <stage> <errno> <exit-status> <message>  a failure; the shim then _exit(exit-status)
 *   S                                          about to stop itself (WaitForDebugger)
 * errno is the number; the agent maps it to a name with its platform's errno table. The exit
 * status is 78 (EX_CONFIG) for setup failures and the errno for an exec failure (842 semantics).
 *
 * WHO SETS WHAT IN THE ENVIRONMENT: the agent (runtime) builds the job's complete environment.
 * The shim only adds HOME, USER, LOGNAME, SHELL (from the passwd entry of the final uid, looked
 * up before chroot) and TMPDIR (/tmp) when they are absent, like launchd's setenv(..., 0), and the
 * LISTEN_* variables when asked. Nothing else of the agent reaches the job: no fds beyond 0..2+K,
 * no environment variables, default signal dispositions and an empty signal mask (libuv resets
 * them before exec; the posix_spawn spawner asks for POSIX_SPAWN_SETSIGDEF|SETSIGMASK).
 */
#ifdef __linux__
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#include <dirent.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#ifdef __APPLE__
#include <sys/resource.h>
#endif

#define EX_CONFIG_STATUS 78
#define MAX_LIMITS 16
#define MAX_GROUPS 1024

extern char **environ;

struct limit_req {
  const char *spec;
  int resource;
  int set_soft, set_hard;
  rlim_t soft, hard;
};

static int status_fd = -1;
static const char *label = "";

static void put_field(char *buf, size_t *len, size_t cap, const char *s) {
  for (; *s && *len + 1 < cap; s++) buf[(*len)++] = (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s;
}

static void write_all(const char *buf, size_t len) {
  if (status_fd < 0) return;
  while (len > 0) {
    ssize_t n;
#ifdef MSG_NOSIGNAL
    n = send(status_fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(status_fd, buf, len);
#else
    n = write(status_fd, buf, len);
#endif
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

static void record(char kind, const char *stage, int err, int exit_status, const char *fmt, const char *arg) {
  char msg[1024];
  char line[2048];
  size_t len = 0;
  snprintf(msg, sizeof msg, fmt, arg ? arg : "");
  line[len++] = kind;
  line[len++] = '\t';
  put_field(line, &len, sizeof line, stage);
  len += (size_t)snprintf(line + len, sizeof line - len, "\t%d\t", err);
  if (kind == 'F') len += (size_t)snprintf(line + len, sizeof line - len, "%d\t", exit_status);
  if (len >= sizeof line) len = sizeof line - 1;
  put_field(line, &len, sizeof line - 1, msg);
  line[len++] = '\n';
  write_all(line, len);
}

static void warn(const char *stage, int err, const char *fmt, const char *arg) {
  record('W', stage, err, 0, fmt, arg);
}

static void fail_status(const char *stage, int err, int exit_status, const char *fmt, const char *arg) {
  record('F', stage, err, exit_status, fmt, arg);
  _exit(exit_status);
}

static void fail(const char *stage, int err, const char *fmt, const char *arg) {
  fail_status(stage, err, EX_CONFIG_STATUS, fmt, arg);
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
static int parse_limit(const char *v, struct limit_req *out) {
  const char *c1 = strchr(v, ':');
  const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (!c1 || !c2) return -1;
  out->resource = resource_by_name(v, (size_t)(c1 - v));
  if (out->resource < 0) return -1;
  if (parse_rlim(c1 + 1, (size_t)(c2 - c1 - 1), &out->set_soft, &out->soft) != 0) return -1;
  if (parse_rlim(c2 + 1, strlen(c2 + 1), &out->set_hard, &out->hard) != 0) return -1;
  return 0;
}

/* Closes every fd >= from except `keep`. */
static void close_from(int from, int keep) {
#if defined(__linux__) && defined(SYS_close_range)
  if (keep >= from) {
    if (keep > from && syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0) != 0) goto slow;
    if (syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) != 0) goto slow;
  } else if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) != 0) {
    goto slow;
  }
  return;
slow:
#endif
  {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 1 << 20) max = 1 << 20;
    /* Listing /dev/fd is cheaper than looping to a large limit when it works. */
    DIR *d = opendir("/dev/fd");
    if (d) {
      int dfd = dirfd(d);
      int fds[4096];
      size_t n = 0;
      struct dirent *e;
      int complete = 1;
      while ((e = readdir(d)) != NULL) {
        long long fd;
        if (parse_long(e->d_name, 0, INT_MAX, &fd) != 0) continue;
        if (fd < from || fd == keep || fd == dfd) continue;
        if (n == sizeof fds / sizeof fds[0]) {
          complete = 0;
          break;
        }
        fds[n++] = (int)fd;
      }
      closedir(d);
      for (size_t i = 0; i < n; i++) close(fds[i]);
      if (complete) return;
    }
    for (int fd = from; fd < max; fd++)
      if (fd != keep) close(fd);
  }
}

static void open_stdio(const char *stage, const char *path, int target, int flags, int refuse) {
  /* O_NONBLOCK for the open only: a FIFO with no peer must not hang the spawn (stdin opens at
   * once; stdout/stderr fail with ENXIO); the job then gets an ordinary blocking descriptor. */
  int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, 0666);
  if (fd >= 0) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  if (fd < 0) {
    int err = errno;
    if (refuse) fail(stage, err, "cannot open %s", path);
    warn(stage, err, "cannot open %s; keeping the inherited stream", path);
    return;
  }
  if (fd != target) {
    if (dup2(fd, target) < 0) {
      int err = errno;
      close(fd);
      fail(stage, err, "dup2 failed for %s", path);
    }
    close(fd);
  } else {
    fcntl(fd, F_SETFD, 0);
  }
}

int main(int argc, char **argv) {
  struct limit_req limits[MAX_LIMITS];
  int nlimits = 0;
  long long nfds = 0, nice_v = 0, uid = -1, gid = -1, umask_v = -1;
  int has_nice = 0, do_setsid = 0, low_io = 0, no_initgroups = 0, stdio_refuse = 1;
  int search_path = 0, do_glob = 0, listen_pid = 0, suspend = 0, reset_cwd = 0;
  const char *root = NULL, *user = NULL, *cwd = NULL, *in_path = NULL, *out_path = NULL,
             *err_path = NULL, *fdnames = NULL;
  const char *bad = NULL;
  int i;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    const char *v = eq ? eq + 1 : NULL;
    size_t klen = eq ? (size_t)(eq - a) : strlen(a);
    long long n;
#define IS(k) (klen == sizeof(k) - 1 && strncmp(a, k, klen) == 0)
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (IS("--status-fd") && parse_long(v, 3, INT_MAX, &n) == 0) {
      status_fd = (int)n;
      fcntl(status_fd, F_SETFD, FD_CLOEXEC);
    } else if (IS("--label") && v) {
      label = v;
    } else if (IS("--nfds") && parse_long(v, 0, 1 << 16, &nfds) == 0) {
    } else if (IS("--nice") && parse_long(v, -40, 40, &nice_v) == 0) {
      has_nice = 1;
    } else if (IS("--rlimit") && v && nlimits < MAX_LIMITS && parse_limit(v, &limits[nlimits]) == 0) {
      limits[nlimits++].spec = v;
    } else if (IS("--setsid") && !v) {
      do_setsid = 1;
    } else if (IS("--reset-cwd") && !v) {
      reset_cwd = 1;
    } else if (IS("--low-priority-io") && !v) {
      low_io = 1;
    } else if (IS("--root") && v && *v) {
      root = v;
    } else if (IS("--uid") && parse_long(v, 0, (long long)UINT_MAX - 1, &uid) == 0) {
    } else if (IS("--gid") && parse_long(v, 0, (long long)UINT_MAX - 1, &gid) == 0) {
    } else if (IS("--user") && v && *v) {
      user = v;
    } else if (IS("--no-initgroups") && !v) {
      no_initgroups = 1;
    } else if (IS("--cwd") && v && *v) {
      cwd = v;
    } else if (IS("--umask") && v && *v && strlen(v) <= 4 && strspn(v, "01234567") == strlen(v)) {
      umask_v = strtol(v, NULL, 8);
    } else if (IS("--stdin") && v && *v) {
      in_path = v;
    } else if (IS("--stdout") && v && *v) {
      out_path = v;
    } else if (IS("--stderr") && v && *v) {
      err_path = v;
    } else if (IS("--stdio-failure") && v && (strcmp(v, "refuse") == 0 || strcmp(v, "warn") == 0)) {
      stdio_refuse = strcmp(v, "refuse") == 0;
    } else if (IS("--search-path") && !v) {
      search_path = 1;
    } else if (IS("--glob") && !v) {
      do_glob = 1;
    } else if (IS("--listen-pid") && !v) {
      listen_pid = 1;
    } else if (IS("--listen-fdnames") && v) {
      fdnames = v;
    } else if (IS("--suspend") && !v) {
      suspend = 1;
    } else if (!bad) {
      bad = a;
    }
#undef IS
  }
  if (status_fd < 0) {
    fprintf(stderr, "lf-exec: --status-fd is required (this program is run by the Launchfleet agent)\n");
    return EX_CONFIG_STATUS;
  }
  if (bad) fail("args", EINVAL, "bad option %s", bad);
  if (i + 1 >= argc) fail("args", EINVAL, "missing PROGRAM and ARGV0 after --%s", "");
  if ((uid >= 0) != (gid >= 0)) fail("args", EINVAL, "--uid and --gid go together%s", "");
  const char *program = argv[i];
  char **job_argv = argv + i + 1;
  int job_argc = argc - i - 1;

  /* launchd's jobs start in "/": relative paths below (RootDirectory, stdio) resolve from it. */
  if (reset_cwd && chdir("/") != 0) fail("cwd", errno, "chdir / failed%s", "");

  /* Nothing of the agent beyond 0..2 + the passed fds reaches the job. */
  close_from(3 + (int)nfds, status_fd);

  /* The account facts are read before chroot, from the host's database. */
  char *pw_name = NULL, *pw_dir = NULL, *pw_shell = NULL;
  gid_t groups[MAX_GROUPS];
  int ngroups = 0;
  {
    uid_t who = uid >= 0 ? (uid_t)uid : geteuid();
    struct passwd *pw = getpwuid(who);
    if (pw) {
      pw_name = strdup(pw->pw_name);
      pw_dir = strdup(pw->pw_dir);
      pw_shell = strdup(pw->pw_shell);
    }
    if (uid >= 0 && user && !no_initgroups) {
      int cnt = MAX_GROUPS;
#ifdef __APPLE__
      if (getgrouplist(user, (int)gid, (int *)groups, &cnt) < 0)
#else
      if (getgrouplist(user, (gid_t)gid, groups, &cnt) < 0)
#endif
        fail("groups", E2BIG, "user %s is in too many groups", user);
      ngroups = cnt;
    } else if (uid >= 0) {
      groups[0] = (gid_t)gid;
      ngroups = 1;
    }
  }

  /* 1. Nice */
  if (has_nice && setpriority(PRIO_PROCESS, 0, (int)nice_v) != 0) warn("nice", errno, "setpriority failed%s", "");

  /* 2. Resource limits: replace only the given half. */
  for (int k = 0; k < nlimits; k++) {
    struct rlimit rl;
    if (getrlimit(limits[k].resource, &rl) != 0) {
      warn("rlimit", errno, "getrlimit failed for %s", limits[k].spec);
      continue;
    }
    if (limits[k].set_soft) rl.rlim_cur = limits[k].soft;
    if (limits[k].set_hard) rl.rlim_max = limits[k].hard;
    /* Only the hard half given, below the current soft: lower the soft with it, or setrlimit
     * fails with EINVAL and HardResourceLimits alone would never apply to an unlimited soft. */
    if (!limits[k].set_soft && rl.rlim_max != RLIM_INFINITY && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max))
      rl.rlim_cur = rl.rlim_max;
    if (setrlimit(limits[k].resource, &rl) != 0) warn("rlimit", errno, "setrlimit failed for %s", limits[k].spec);
  }

  /* 3. SessionCreate */
  if (do_setsid && getsid(0) != getpid() && setsid() < 0) warn("session", errno, "setsid failed%s", "");

  /* 4. I/O priority */
  if (low_io) {
#if defined(__linux__) && defined(SYS_ioprio_set)
    /* IOPRIO_WHO_PROCESS = 1, IOPRIO_CLASS_IDLE = 3, class shift 13 */
    if (syscall(SYS_ioprio_set, 1, 0, (3 << 13) | 0) != 0) warn("iopolicy", errno, "ioprio_set failed%s", "");
#elif defined(__APPLE__)
    if (setiopolicy_np(IOPOL_TYPE_DISK, IOPOL_SCOPE_PROCESS, IOPOL_THROTTLE) != 0)
      warn("iopolicy", errno, "setiopolicy_np failed%s", "");
#endif
  }

  /* 5. RootDirectory. chdir into it first and chroot("."): the cwd never stays outside the root
   * (842's chroot + chdir(".") keeps launchd's cwd, which is "/" of the host only by luck). */
  if (root) {
    if (chdir(root) != 0) fail("chroot", errno, "cannot chdir to %s", root);
    if (chroot(".") != 0) fail("chroot", errno, "chroot to %s failed", root);
    if (chdir("/") != 0) fail("chroot", errno, "chdir / in %s failed", root);
  }

  /* 6. Credentials, then the account variables launchd fills in only when unset. */
  if (uid >= 0) {
    int same = (uid_t)uid == getuid() && (gid_t)gid == getgid() && geteuid() != 0;
    if (!same) {
      if (setgid((gid_t)gid) != 0) fail("group", errno, "setgid failed%s", "");
      if (setgroups(ngroups, groups) != 0) fail("group", errno, "setgroups failed%s", "");
#ifdef __APPLE__
      if (user && setlogin(user) != 0) warn("user", errno, "setlogin %s failed", user);
#endif
      if (setuid((uid_t)uid) != 0) fail("user", errno, "setuid failed%s", "");
    }
    if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid || getgid() != (gid_t)gid || getegid() != (gid_t)gid)
      fail("user", EPERM, "credentials did not take%s", "");
    if (uid != 0 && setuid(0) == 0) fail("user", EPERM, "could regain root after dropping privileges%s", "");
  }
  if (pw_dir) setenv("HOME", pw_dir, 0);
  if (pw_name) {
    setenv("USER", pw_name, 0);
    setenv("LOGNAME", pw_name, 0);
  }
  if (pw_shell && *pw_shell) setenv("SHELL", pw_shell, 0);
  setenv("TMPDIR", "/tmp", 0);

  /* 7. WorkingDirectory: a warning, the job still runs (842 core.c:5182). */
  if (cwd && chdir(cwd) != 0) warn("cwd", errno, "non-existent or inaccessible working directory %s", cwd);

  /* 8. Umask */
  if (umask_v >= 0) umask((mode_t)umask_v);

  /* 9. Standard streams, opened as the job user with its umask. */
  if (in_path) open_stdio("stdin", in_path, 0, O_RDONLY | O_NOCTTY, stdio_refuse);
  if (out_path) open_stdio("stdout", out_path, 1, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, stdio_refuse);
  if (err_path) open_stdio("stderr", err_path, 2, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, stdio_refuse);

  /* 11. The job leads its own process group (pgid == pid). Node's detached spawn already made
   * us a session leader, which is also a group leader; setpgid would then fail with EPERM. */
  if (getpgrp() != getpid() && setpgid(0, 0) != 0) fail("pgroup", errno, "setpgid failed%s", "");

  if (listen_pid) {
    char num[32];
    snprintf(num, sizeof num, "%ld", (long)getpid());
    setenv("LISTEN_PID", num, 1);
    snprintf(num, sizeof num, "%lld", nfds);
    setenv("LISTEN_FDS", num, 1);
    if (fdnames) setenv("LISTEN_FDNAMES", fdnames, 1);
  }

  /* 12. Globbing, after dropping privileges so "~" is the job user's home. */
  if (do_glob) {
    glob_t g;
    int flags = GLOB_NOSORT | GLOB_NOCHECK | GLOB_TILDE;
    memset(&g, 0, sizeof g);
    for (int k = 0; k < job_argc; k++) {
      int r = glob(job_argv[k], flags, NULL, &g);
      if (r != 0 && r != GLOB_NOMATCH) fail("glob", r == GLOB_NOSPACE ? ENOMEM : EINVAL, "glob failed on %s", job_argv[k]);
      flags |= GLOB_APPEND;
    }
    job_argv = g.gl_pathv;
  }

  /* glibc's posix_spawn (the agent's default spawner) sets every signal in the SETSIGDEF set to
   * SIG_DFL, but glibc's sigfillset leaves out its internal signals (SIGCANCEL, SIGSETXID: 32 and
   * 33 on Linux), which its spawn child sets to SIG_IGN, and an ignored signal survives exec.
   * glibc's sigaction refuses those numbers, so reset the glibc-reserved range below SIGRTMIN
   * with the raw syscall. An all-zero kernel sigaction is SIG_DFL, no flags, an empty mask on
   * every architecture's layout. Handlers never survive exec, so only SIG_IGN matters here. */
#if defined(__linux__) && defined(SYS_rt_sigaction) && defined(SIGRTMIN)
  for (int sig = 32; sig < SIGRTMIN; sig++) {
    unsigned long ksa[8] = {0};
    syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)(_NSIG / 8));
  }
#endif

  /* 13. WaitForDebugger */
  if (suspend) {
    write_all("S\n", 2);
    raise(SIGSTOP);
  }

  if (search_path) execvp(program, job_argv);
  else execv(program, job_argv);
  {
    int err = errno;
    fail_status("exec", err, err, "cannot execute %s", program);
  }
  return 0;
}
