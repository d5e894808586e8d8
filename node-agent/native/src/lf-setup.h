/*
 * lf-setup: the job's child setup (docs/launchd-semantics.md §2.3 "Child setup order"), one implementation
 * for both ways a job is started:
 *
 *   - the lf-exec shim (lf-exec.c): a process of its own, started by posix_spawn or libuv, that
 *     sets itself up and execs the job (two execs per start);
 *   - the addon's direct spawn (lf-direct.c): a vfork-style child of the agent that sets itself
 *     up and execs the job (one exec per start).
 *
 * The work is split in three so that the second case is safe:
 *
 *   lf_setup_option   parses one shim option ("--name=value", the protocol in lf-exec.c);
 *   lf_setup_prepare  everything that may allocate, lock or read the account database: the
 *                     final environment, supplementary groups (getgrouplist), the passwd entry
 *                     for HOME/USER/LOGNAME/SHELL, the final rlimits, the PATH search buffers.
 *                     Runs in the parent (direct spawn) or in the shim before its setup;
 *   lf_setup_child    the setup itself and the exec: only async-signal-safe calls (raw syscalls
 *                     where glibc's wrappers are not safe in a CLONE_VM child: setgroups,
 *                     setresgid, setresuid, rt_sigaction, close_range, ioprio_set). It writes
 *                     its warnings and a failure on the status fd in the shim's record format and
 *                     never returns: it execs the job or _exits.
 *
 * Status records (one line each, TAB-separated; TABs and newlines in messages become spaces):
 *   W <stage> <errno> <message>                a warning; setup continues
 *   F <stage> <errno> <exit-status> <message>  a failure; the child then _exits(exit-status)
 *   S                                          about to stop itself (WaitForDebugger, shim only)
 * The exit status is 78 (EX_CONFIG) for setup failures and the errno for an exec failure (842).
 */
#ifndef LF_SETUP_H
#define LF_SETUP_H

#include <sys/resource.h>
#include <sys/types.h>

#define LF_EX_CONFIG 78
#define LF_MAX_LIMITS 16
/* Writes to the status fd stop at this many bytes (warnings), so that a child whose parent is
 * suspended until its exec (vfork semantics) can never fill a pipe of the smallest size (one
 * page) and block; the failure record (at most LF_RECORD_MAX) always fits after them. */
#define LF_STATUS_BUDGET 2048
#define LF_RECORD_MAX 1536

struct lf_limit {
  const char *spec; /* "name:soft:hard", for messages */
  int resource;
  int set_soft, set_hard;
  rlim_t soft, hard;
  /* prepared: the limits to set, or get_errno when getrlimit failed (a warning) */
  struct rlimit final;
  int get_errno;
};

struct lf_setup {
  /* ---- options (lf_setup_option) ---- */
  const char *label;
  int status_fd; /* -1 = none */
  long long nfds;
  int has_nice;
  long long nice;
  struct lf_limit limits[LF_MAX_LIMITS];
  int nlimits;
  int do_setsid, reset_cwd, low_io, no_initgroups, stdio_refuse;
  int search_path, do_glob, listen_pid, suspend;
  long long uid, gid, umask_v;
  const char *root, *user, *cwd, *in_path, *out_path, *err_path, *fdnames;
  /* the job: program and argv (argv[0] included, NULL-terminated) */
  const char *program;
  char **argv;

  /* ---- set by the caller before lf_setup_child ---- */
  /* Direct spawn: the sources of fds 0..nsrc-1, every one above nsrc-1 (no collisions); the
   * child dup2s them into place. NULL for the shim (its fds are already in place). */
  const int *src_fds;
  int nsrc;
  /* The shim's extra steps right before exec (glob, WaitForDebugger); NULL for the direct spawn. */
  void (*before_exec)(struct lf_setup *s);

  /* ---- prepared (lf_setup_prepare) ---- */
  int change_creds; /* 0 when the agent already runs as uid/gid and is not root */
  gid_t *groups;
  int ngroups;
  char **envp;              /* the job's final environment */
  char *listen_pid_digits;  /* inside envp's LISTEN_PID entry: the child writes its pid here */
  const char *path_list;    /* the PATH searched (search_path) */
  char *exec_buf;           /* candidate paths of the PATH search */
  size_t exec_buf_size;
  char **sh_argv;           /* ENOEXEC fallback: /bin/sh FILE ARG... (execvp's) */
  long open_max;            /* loop bound of the last-resort fd closing */
  size_t status_written;
  /* what prepare allocated, freed by lf_setup_release */
  char *owned_strings[8];
  int nowned;
};

/* A failure found before the child exists (bad options, too many groups, no memory). */
struct lf_failure {
  const char *stage;
  int err;
  const char *pre, *arg, *post; /* message = pre + arg + post */
};

/* Zeroes *s and sets the defaults (status_fd -1, uid/gid/umask -1, stdio refuse). */
void lf_setup_init(struct lf_setup *s);

/* Parses one option; 0 on success, -1 when it is unknown or its value is bad. */
int lf_setup_option(struct lf_setup *s, const char *arg);

/* Prepares in the parent (may allocate and read the account database). env_in: the environment
 * the job starts from (NULL-terminated "K=V"). 0 on success, -1 with *f set. */
int lf_setup_prepare(struct lf_setup *s, char *const *env_in, struct lf_failure *f);

/* Rebuilds the exec buffers for a new argv (the shim after globbing; may allocate). 0 or -1. */
int lf_setup_set_argv(struct lf_setup *s, char **argv);

/* Frees what lf_setup_prepare allocated. */
void lf_setup_release(struct lf_setup *s);

/* Formats one status record into buf (cap >= 64); returns its length, newline included. */
size_t lf_format_record(char *buf, size_t cap, char kind, const char *stage, int err, int exit_status,
                        const char *pre, const char *arg, const char *post);

/* The setup and the exec: async-signal-safe only. Never returns. */
void lf_setup_child(struct lf_setup *s) __attribute__((noreturn));

/* Writes a record on s->status_fd within the budget (async-signal-safe). */
void lf_setup_record(struct lf_setup *s, char kind, const char *stage, int err, int exit_status, const char *pre,
                     const char *arg, const char *post);

#endif
