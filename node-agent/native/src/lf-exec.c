/*
 * lf-exec: the job exec shim. It does in the child what launchd's job_setup_attributes and
 * xpcproxy do (docs/launchd-semantics.md §2.3 "Child setup order"), then execs the job in place, so the job's
 * pid is the pid Node's child_process saw.
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
 *   --search-path          execvp using PATH of the final environment, else execv
 *                          (docs/launchd-semantics.md §7 D16)
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
 * THE SETUP ITSELF is lf-setup.c, shared with the addon's direct spawn (lf-direct.c), which does
 * the same in a child of the agent and needs no second exec. This program adds what only a
 * process of its own can do: glob(3) (it allocates) and WaitForDebugger (it stops itself before
 * exec, which a child whose parent waits for its exec cannot do).
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
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lf-setup.h"

extern char **environ;

/* glob(3) each argv element, after dropping privileges so "~" is the job user's home, then
 * WaitForDebugger: both run in lf_setup_child right before the exec. */
static void before_exec(struct lf_setup *s) {
  if (s->do_glob) {
    glob_t g;
    int flags = GLOB_NOSORT | GLOB_NOCHECK | GLOB_TILDE;
    memset(&g, 0, sizeof g);
    for (int k = 0; s->argv[k]; k++) {
      int r = glob(s->argv[k], flags, NULL, &g);
      if (r != 0 && r != GLOB_NOMATCH) {
        lf_setup_record(s, 'F', "glob", r == GLOB_NOSPACE ? ENOMEM : EINVAL, LF_EX_CONFIG, "glob failed on ", s->argv[k], "");
        _exit(LF_EX_CONFIG);
      }
      flags |= GLOB_APPEND;
    }
    if (lf_setup_set_argv(s, g.gl_pathv) != 0) {
      lf_setup_record(s, 'F', "glob", ENOMEM, LF_EX_CONFIG, "out of memory", "", "");
      _exit(LF_EX_CONFIG);
    }
  }
  if (s->suspend) {
    lf_setup_record(s, 'S', "", 0, 0, "", "", "");
    raise(SIGSTOP);
  }
}

static void fail(struct lf_setup *s, const char *stage, int err, const char *pre, const char *arg, const char *post) {
  lf_setup_record(s, 'F', stage, err, LF_EX_CONFIG, pre, arg, post);
  _exit(LF_EX_CONFIG);
}

int main(int argc, char **argv) {
  struct lf_setup s;
  struct lf_failure f;
  const char *bad = NULL;
  int i;

  lf_setup_init(&s);
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    }
    if (lf_setup_option(&s, argv[i]) != 0 && !bad) bad = argv[i];
  }
  if (s.status_fd < 0) {
    fprintf(stderr, "lf-exec: --status-fd is required (this program is run by the Launchfleet agent)\n");
    return LF_EX_CONFIG;
  }
  /* A successful exec closes the channel with nothing written but warnings. */
  fcntl(s.status_fd, F_SETFD, FD_CLOEXEC);
  if (bad) fail(&s, "args", EINVAL, "bad option ", bad, "");
  if (i + 1 >= argc) fail(&s, "args", EINVAL, "missing PROGRAM and ARGV0 after --", "", "");
  s.program = argv[i];
  s.argv = argv + i + 1;
  if (lf_setup_prepare(&s, environ, &f) != 0) fail(&s, f.stage, f.err, f.pre, f.arg, f.post);
  if (s.do_glob || s.suspend) s.before_exec = before_exec;
  lf_setup_child(&s);
}
