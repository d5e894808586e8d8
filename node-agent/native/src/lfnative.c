/*
 * lfnative: the socket primitives launchd-style on-demand sockets need, which Node cannot do:
 * a listening socket the agent holds WITHOUT a libuv listener (libuv would accept and steal the
 * job's connections), a readability watch that never accepts or reads, and raw fds to hand to
 * the job at 3..n.
 *
 * Exports (node_api.h only):
 *   listen(opts) -> { fd, address?, port?, path? }
 *     opts.family: "ipv4" | "ipv6" | "unix"; opts.type: "stream" | "dgram" | "seqpacket"
 *     ipv4/ipv6: opts.address (numeric; default any), opts.port (0 = any), opts.multicast
 *                (no SO_REUSEADDR), IPV6_V6ONLY=1 on v6.
 *     unix: opts.path, opts.mode (default 0700), opts.uid / opts.gid (chown; -1 = unchanged).
 *           The socket is bound in a fresh 0700 directory beside the path, chmod/chown'ed and
 *           put in listen state there, then renamed onto the path: nobody can connect before
 *           the mode is right, and this needs no process-wide umask change (which would race
 *           with libuv's threads). An existing socket at the path is replaced; any other kind
 *           of file there is refused with EEXIST.
 *     stream/seqpacket sockets listen (opts.backlog, default SOMAXCONN); dgram sockets are bound.
 *     Every fd is close-on-exec (the agent passes fds to jobs explicitly) and blocking.
 *   watchReadable(fd, cb) -> { stop() }
 *     One-shot: on the first readability (a pending connection or datagram) the watch stops
 *     and cb(null) is called; cb(err) on a poll error. Never accepts or reads. libuv's uv_poll
 *     sets O_NONBLOCK on the fd (shared with any child holding it), so the original flag is
 *     restored when the watch stops. stop() is idempotent.
 *   close(fd) (stops a watch armed on fd first), setNonBlocking(fd, bool), isNonBlocking(fd) -> bool,
 *   pendingConnections(fd) -> number | null  (Linux TCP listeners: the accept queue length)
 *   accept(fd) -> number | null
 *     One accept(2) that never blocks, for inetd Wait=false (the agent accepts on the job's
 *     behalf). null when nothing is pending (EAGAIN, or the client already went away:
 *     ECONNABORTED/EPROTO). The listener's O_NONBLOCK flag is restored afterwards. The new fd is
 *     close-on-exec and blocking (BSDs inherit O_NONBLOCK from the listener; inetd programs
 *     expect a blocking stdin).
 *   joinMulticast(fd, group, v6)  (MulticastGroup: IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP, any interface)
 *   spawn(path, argv, envp, fds), onExit(cb), capabilities: posix_spawn of the lf-exec shim and
 *     the reaping of its children, described in lf-spawn.c; spawnJob(options, envp, fds): the
 *     direct spawn (one exec per start), described in lf-direct.c.
 *   userByName(name), userById(uid), groupByName(name): the account database on the thread
 *     pool, described in lf-users.c.
 *   pidfdOpen(pid) -> fd
 *     Linux pidfd_open(2) (close-on-exec): an fd that stays bound to that one process and polls
 *     readable when it exits, for watching a process that is not the agent's child (a job adopted
 *     from the previous agent, docs/upgrades.md) with watchReadable instead of polling /proc.
 *     Throws ENOSYS where there is none (not Linux, a kernel before 5.3), ESRCH if the pid is gone.
 *   releaseFreeMemory() -> bool
 *     Gives the C heap's free pages back to the system: glibc's malloc_trim(0) (free chunks in
 *     every arena, not only the top of the heap), macOS's malloc_zone_pressure_relief; false
 *     where there is neither. Freed memory otherwise stays resident after a burst (loading every
 *     plist at boot: about 5 MB for 1,000 jobs, test/bench/RESULTS.md).
 * Errors are JS Errors with code = errno name (e.g. "EADDRINUSE"), errno, and syscall.
 */
#ifdef __linux__
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#elif defined(__APPLE__)
#include <malloc/malloc.h>
#endif

#define CHECK(call)                                                                                      \
  do {                                                                                                   \
    if ((call) != napi_ok) {                                                                             \
      throw_status(env, #call);                                                                          \
      return NULL;                                                                                       \
    }                                                                                                    \
  } while (0)

static void throw_status(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_LFNATIVE", what);
}

static napi_value make_errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  char msg[512];
  napi_value code, message, error, num, sc;
  const char *name = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s %s: %s%s%s", syscall, name, strerror(err), detail ? " " : "", detail ? detail : "");
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  napi_throw(env, make_errno_error(env, err, syscall, detail));
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  return NULL;
}

/* Reads opts[key] as a string into buf; 0 absent, 1 present, -1 wrong type/too long. */
static int get_string(napi_env env, napi_value obj, const char *key, char *buf, size_t cap) {
  napi_value v;
  napi_valuetype t;
  size_t len = 0;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len + 1 > cap) return -1;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -1;
  if (strlen(buf) != len) return -1; /* embedded NUL */
  return 1;
}

static int get_int(napi_env env, napi_value obj, const char *key, int64_t min, int64_t max, int64_t *out) {
  napi_value v;
  napi_valuetype t;
  double d;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) return -1;
  if (d != d || d < (double)min || d > (double)max || d != (double)(int64_t)d) return -1;
  *out = (int64_t)d;
  return 1;
}

static int get_bool(napi_env env, napi_value obj, const char *key, bool *out) {
  napi_value v;
  napi_valuetype t;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) return 0;
  if (t != napi_boolean || napi_get_value_bool(env, v, out) != napi_ok) return -1;
  return 1;
}

static int get_fd_arg(napi_env env, napi_callback_info info, size_t want, napi_value *args, int *fd) {
  size_t argc = want;
  napi_valuetype t;
  int32_t v;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc < want) return -1;
  if (napi_typeof(env, args[0], &t) != napi_ok || t != napi_number) return -1;
  if (napi_get_value_int32(env, args[0], &v) != napi_ok || v < 0) return -1;
  *fd = v;
  return 0;
}

static int new_socket(int domain, int type) {
#ifdef SOCK_CLOEXEC
  return socket(domain, type | SOCK_CLOEXEC, 0);
#else
  int fd = socket(domain, type, 0);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#endif
}

static napi_value set_num(napi_env env, napi_value obj, const char *key, double n) {
  napi_value v;
  napi_create_double(env, n, &v);
  napi_set_named_property(env, obj, key, v);
  return obj;
}

static napi_value set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
  return obj;
}

static napi_value listen_inet(napi_env env, napi_value opts, int v6, int type) {
  char addr[INET6_ADDRSTRLEN + 1] = "";
  int64_t port = 0, backlog = SOMAXCONN;
  bool multicast = false;
  struct sockaddr_storage ss;
  socklen_t slen;
  int one = 1, fd;
  memset(&ss, 0, sizeof ss);
  if (get_string(env, opts, "address", addr, sizeof addr) < 0) return throw_type(env, "address must be a numeric IP string");
  if (get_int(env, opts, "port", 0, 65535, &port) < 0) return throw_type(env, "port must be an integer 0..65535");
  if (get_int(env, opts, "backlog", 0, INT_MAX, &backlog) < 0) return throw_type(env, "backlog must be a non-negative integer");
  if (get_bool(env, opts, "multicast", &multicast) < 0) return throw_type(env, "multicast must be a boolean");
  if (v6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    s6->sin6_addr = in6addr_any;
    if (addr[0] && inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1) return throw_type(env, "address is not a numeric IPv6 address");
    slen = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    s4->sin_addr.s_addr = htonl(INADDR_ANY);
    if (addr[0] && inet_pton(AF_INET, addr, &s4->sin_addr) != 1) return throw_type(env, "address is not a numeric IPv4 address");
    slen = sizeof *s4;
  }
  fd = new_socket(v6 ? AF_INET6 : AF_INET, type);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  if (!multicast && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail_setsockopt;
  if (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) goto fail_setsockopt;
  if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
    int err = errno;
    char detail[INET6_ADDRSTRLEN + 16];
    snprintf(detail, sizeof detail, "%s port %d", addr[0] ? addr : (v6 ? "::" : "0.0.0.0"), (int)port);
    close(fd);
    return throw_errno(env, err, "bind", detail);
  }
  if (type != SOCK_DGRAM && listen(fd, (int)backlog) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "listen", NULL);
  }
  slen = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &slen) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "getsockname", NULL);
  }
  {
    napi_value out;
    char buf[INET6_ADDRSTRLEN];
    if (napi_create_object(env, &out) != napi_ok) {
      close(fd);
      return NULL;
    }
    if (v6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
      set_num(env, out, "port", ntohs(s6->sin6_port));
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
      set_num(env, out, "port", ntohs(s4->sin_port));
    }
    set_str(env, out, "address", buf);
    return set_num(env, out, "fd", fd);
  }
fail_setsockopt : {
  int err = errno;
  close(fd);
  return throw_errno(env, err, "setsockopt", NULL);
}
}

static napi_value listen_unix(napi_env env, napi_value opts, int type) {
  struct sockaddr_un sun;
  char path[sizeof sun.sun_path + 1];
  char dir[sizeof sun.sun_path + 16];
  char tmp[sizeof sun.sun_path + 16];
  int64_t mode = 0700, uid = -1, gid = -1, backlog = SOMAXCONN;
  struct stat st;
  int fd = -1, err;
  const char *failed = NULL;
  int r = get_string(env, opts, "path", path, sizeof sun.sun_path);
  if (r < 0) return throw_errno(env, ENAMETOOLONG, "bind", "unix socket path is not a string or too long");
  if (r == 0 || !path[0]) return throw_type(env, "path is required for a unix socket");
  if (get_int(env, opts, "mode", 0, 07777, &mode) < 0) return throw_type(env, "mode must be an integer 0..07777");
  if (get_int(env, opts, "uid", -1, UINT_MAX - 1, &uid) < 0) return throw_type(env, "uid must be an integer");
  if (get_int(env, opts, "gid", -1, UINT_MAX - 1, &gid) < 0) return throw_type(env, "gid must be an integer");
  if (get_int(env, opts, "backlog", 0, INT_MAX, &backlog) < 0) return throw_type(env, "backlog must be a non-negative integer");
  if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) return throw_errno(env, EEXIST, "bind", path);
  {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  }
  if ((size_t)snprintf(tmp, sizeof tmp, "%s/.lfXXXXXX", dir) + 2 >= sizeof sun.sun_path)
    return throw_errno(env, ENAMETOOLONG, "bind", "unix socket path too long for the private bind directory");
  if (!mkdtemp(tmp)) return throw_errno(env, errno, "mkdtemp", dir);
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, tmp, strlen(tmp)); /* fits: checked above */
  memcpy(sun.sun_path + strlen(tmp), "/s", 3);
  fd = new_socket(AF_UNIX, type);
  if (fd < 0) failed = "socket";
  else if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) failed = "bind";
  else if (chmod(sun.sun_path, (mode_t)mode) != 0) failed = "chmod";
  else if ((uid >= 0 || gid >= 0) && chown(sun.sun_path, (uid_t)uid, (gid_t)gid) != 0) failed = "chown";
  else if (type != SOCK_DGRAM && listen(fd, (int)backlog) != 0) failed = "listen";
  else if (rename(sun.sun_path, path) != 0) failed = "rename";
  err = errno;
  if (failed) {
    if (fd >= 0) close(fd);
    unlink(sun.sun_path);
    rmdir(tmp);
    return throw_errno(env, err, failed, path);
  }
  rmdir(tmp);
  {
    napi_value out;
    if (napi_create_object(env, &out) != napi_ok) {
      close(fd);
      return NULL;
    }
    set_str(env, out, "path", path);
    return set_num(env, out, "fd", fd);
  }
}

static napi_value js_listen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value opts;
  napi_valuetype t;
  char family[16], type_s[16];
  int type;
  CHECK(napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
  if (argc < 1 || napi_typeof(env, opts, &t) != napi_ok || t != napi_object) return throw_type(env, "listen(opts): opts must be an object");
  if (get_string(env, opts, "family", family, sizeof family) != 1) return throw_type(env, "family must be ipv4, ipv6 or unix");
  if (get_string(env, opts, "type", type_s, sizeof type_s) != 1) return throw_type(env, "type must be stream, dgram or seqpacket");
  if (strcmp(type_s, "stream") == 0) type = SOCK_STREAM;
  else if (strcmp(type_s, "dgram") == 0) type = SOCK_DGRAM;
  else if (strcmp(type_s, "seqpacket") == 0) type = SOCK_SEQPACKET;
  else return throw_type(env, "type must be stream, dgram or seqpacket");
  if (strcmp(family, "ipv4") == 0) return listen_inet(env, opts, 0, type);
  if (strcmp(family, "ipv6") == 0) return listen_inet(env, opts, 1, type);
  if (strcmp(family, "unix") == 0) return listen_unix(env, opts, type);
  return throw_type(env, "family must be ipv4, ipv6 or unix");
}

/* ---- readability watch ---- */

typedef struct watcher watcher;

/* Per-environment list of armed watches, so close(fd) can stop a watch on that fd first:
 * otherwise the fd number could be reused and the restore of O_NONBLOCK would hit another file. */
typedef struct instance {
  watcher *armed;
} instance;

struct watcher {
  uv_poll_t poll;
  instance *inst;
  watcher *next, *prev;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  int fd;
  int saved_flags;
  int stopped;    /* poll stopped, flags restored, refs released */
  int closed;     /* uv handle closed */
  int js_gone;    /* the JS handle object was finalized */
};

static void unlink_watch(watcher *w) {
  if (!w->inst) return;
  if (w->prev) w->prev->next = w->next;
  else w->inst->armed = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  w->inst = NULL;
}

static void maybe_free(watcher *w) {
  if (w->closed && w->js_gone) free(w);
}

static void on_closed(uv_handle_t *h) {
  watcher *w = (watcher *)h->data;
  w->closed = 1;
  maybe_free(w);
}

static void cleanup_hook(void *arg);

/* Stops polling, restores O_NONBLOCK as it was, releases the callback. Returns the callback
 * reference to the caller (who deletes it) so a final call can still be made. */
static napi_ref stop_watch(watcher *w) {
  napi_ref cb = w->cb;
  if (w->stopped) return NULL;
  w->stopped = 1;
  unlink_watch(w);
  uv_poll_stop(&w->poll);
  if (w->saved_flags >= 0) fcntl(w->fd, F_SETFL, w->saved_flags);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  napi_remove_env_cleanup_hook(w->env, cleanup_hook, w);
  w->cb = NULL;
  return cb;
}

static void release(napi_env env, watcher *w, napi_ref cb) {
  if (cb) napi_delete_reference(env, cb);
  if (w->actx) {
    napi_async_destroy(env, w->actx);
    w->actx = NULL;
  }
}

static void cleanup_hook(void *arg) {
  watcher *w = (watcher *)arg;
  /* The environment is going away: no JS calls; just stop the OS-level watch. */
  if (w->stopped) return;
  w->stopped = 1;
  unlink_watch(w);
  uv_poll_stop(&w->poll);
  if (w->saved_flags >= 0) fcntl(w->fd, F_SETFL, w->saved_flags);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  watcher *w = (watcher *)h->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value fn, recv, arg, result;
  napi_async_context actx = w->actx;
  napi_ref cb;
  (void)events;
  if (w->stopped) return;
  cb = stop_watch(w);
  if (!cb) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, cb, &fn) == napi_ok && fn) {
    napi_status st;
    napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
    if (status < 0) arg = make_errno_error(env, -status, "poll", NULL);
    else napi_get_null(env, &arg);
    bool pending = false;
    st = napi_make_callback(env, actx, recv, fn, 1, &arg, &result);
    (void)st;
    /* An exception from the callback (or from N-API itself) becomes an uncaught exception,
     * like any other event callback's, instead of staying pending for the next N-API call. */
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
  release(env, w, cb);
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  void *data;
  watcher *w;
  napi_value self;
  size_t argc = 0;
  CHECK(napi_get_cb_info(env, info, &argc, NULL, &self, &data));
  w = (watcher *)data;
  if (w && !w->stopped) release(env, w, stop_watch(w));
  return NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  watcher *w = (watcher *)data;
  (void)env;
  (void)hint;
  w->js_gone = 1;
  maybe_free(w);
}

static napi_value js_watch_readable(napi_env env, napi_callback_info info) {
  napi_value args[2], obj, stop_fn, name;
  napi_valuetype t;
  uv_loop_t *loop;
  watcher *w;
  int fd, r;
  if (get_fd_arg(env, info, 2, args, &fd) != 0) return throw_type(env, "watchReadable(fd, cb): fd must be a non-negative integer");
  if (napi_typeof(env, args[1], &t) != napi_ok || t != napi_function) return throw_type(env, "watchReadable(fd, cb): cb must be a function");
  CHECK(napi_get_uv_event_loop(env, &loop));
  w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "watchReadable", NULL);
  w->env = env;
  w->fd = fd;
  w->saved_flags = fcntl(fd, F_GETFL);
  if (w->saved_flags < 0) {
    int err = errno;
    free(w);
    return throw_errno(env, err, "fcntl", NULL);
  }
  r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    fcntl(fd, F_SETFL, w->saved_flags);
    free(w);
    return throw_errno(env, -r, "uv_poll_init", NULL);
  }
  w->poll.data = w;
  r = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (r != 0) {
    fcntl(fd, F_SETFL, w->saved_flags);
    w->stopped = 1;
    w->js_gone = 1;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return throw_errno(env, -r, "uv_poll_start", NULL);
  }
  if (napi_create_reference(env, args[1], 1, &w->cb) != napi_ok ||
      napi_create_string_utf8(env, "lfnative.watchReadable", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->actx) != napi_ok || napi_create_object(env, &obj) != napi_ok ||
      napi_create_function(env, "stop", NAPI_AUTO_LENGTH, js_stop, w, &stop_fn) != napi_ok ||
      napi_set_named_property(env, obj, "stop", stop_fn) != napi_ok ||
      napi_add_finalizer(env, stop_fn, w, finalize_handle, NULL, NULL) != napi_ok) {
    w->js_gone = 1;
    release(env, w, stop_watch(w));
    throw_status(env, "watchReadable: N-API failure");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, cleanup_hook, w);
  {
    instance *inst = NULL;
    if (napi_get_instance_data(env, (void **)&inst) == napi_ok && inst) {
      w->inst = inst;
      w->next = inst->armed;
      if (inst->armed) inst->armed->prev = w;
      inst->armed = w;
    }
  }
  return obj;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value args[1];
  int fd;
  instance *inst = NULL;
  if (get_fd_arg(env, info, 1, args, &fd) != 0) return throw_type(env, "close(fd): fd must be a non-negative integer");
  /* Stop any watch on this fd first (its callback is not called). */
  if (napi_get_instance_data(env, (void **)&inst) == napi_ok && inst) {
    watcher *w = inst->armed;
    while (w) {
      watcher *next = w->next;
      if (w->fd == fd) release(env, w, stop_watch(w));
      w = next;
    }
  }
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close", NULL);
  return NULL;
}

static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  napi_value args[2];
  bool on;
  int fd, fl;
  if (get_fd_arg(env, info, 2, args, &fd) != 0 || napi_get_value_bool(env, args[1], &on) != napi_ok)
    return throw_type(env, "setNonBlocking(fd, on): fd integer, on boolean");
  fl = fcntl(fd, F_GETFL);
  if (fl < 0) return throw_errno(env, errno, "fcntl", NULL);
  if (fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) != 0) return throw_errno(env, errno, "fcntl", NULL);
  return NULL;
}

static napi_value js_is_nonblocking(napi_env env, napi_callback_info info) {
  napi_value args[1], out;
  int fd, fl;
  if (get_fd_arg(env, info, 1, args, &fd) != 0) return throw_type(env, "isNonBlocking(fd): fd must be a non-negative integer");
  fl = fcntl(fd, F_GETFL);
  if (fl < 0) return throw_errno(env, errno, "fcntl", NULL);
  CHECK(napi_get_boolean(env, (fl & O_NONBLOCK) != 0, &out));
  return out;
}

static napi_value js_pending_connections(napi_env env, napi_callback_info info) {
  napi_value args[1], out;
  int fd;
  if (get_fd_arg(env, info, 1, args, &fd) != 0) return throw_type(env, "pendingConnections(fd): fd must be a non-negative integer");
#if defined(__linux__) && defined(TCP_INFO)
  {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int listening = 0;
    socklen_t llen = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) == 0 && listening &&
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
      /* For a listener, tcpi_unacked is the current accept-queue length. */
      CHECK(napi_create_uint32(env, ti.tcpi_unacked, &out));
      return out;
    }
  }
#endif
  CHECK(napi_get_null(env, &out));
  return out;
}

static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value args[1], out;
  int fd, fl, c, err;
  if (get_fd_arg(env, info, 1, args, &fd) != 0) return throw_type(env, "accept(fd): fd must be a non-negative integer");
  fl = fcntl(fd, F_GETFL);
  if (fl < 0) return throw_errno(env, errno, "fcntl", NULL);
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return throw_errno(env, errno, "fcntl", NULL);
  do {
    c = accept(fd, NULL, NULL);
  } while (c < 0 && errno == EINTR);
  err = errno;
  if (!(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
  if (c < 0) {
    if (err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED || err == EPROTO) {
      CHECK(napi_get_null(env, &out));
      return out;
    }
    return throw_errno(env, err, "accept", NULL);
  }
  fcntl(c, F_SETFD, FD_CLOEXEC);
  fl = fcntl(c, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(c, F_SETFL, fl & ~O_NONBLOCK);
  CHECK(napi_create_int32(env, c, &out));
  return out;
}

static napi_value js_join_multicast(napi_env env, napi_callback_info info) {
  napi_value args[3];
  char group[INET6_ADDRSTRLEN + 1];
  size_t len = 0;
  bool v6 = false;
  int fd;
  if (get_fd_arg(env, info, 3, args, &fd) != 0 ||
      napi_get_value_string_utf8(env, args[1], group, sizeof group, &len) != napi_ok ||
      napi_get_value_bool(env, args[2], &v6) != napi_ok)
    return throw_type(env, "joinMulticast(fd, group, v6): fd integer, group numeric address, v6 boolean");
  if (v6) {
    struct ipv6_mreq m;
    memset(&m, 0, sizeof m);
    if (inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr) != 1) return throw_type(env, "joinMulticast: not an IPv6 address");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) != 0) return throw_errno(env, errno, "setsockopt", "IPV6_JOIN_GROUP");
  } else {
    struct ip_mreq m;
    memset(&m, 0, sizeof m);
    if (inet_pton(AF_INET, group, &m.imr_multiaddr) != 1) return throw_type(env, "joinMulticast: not an IPv4 address");
    m.imr_interface.s_addr = htonl(INADDR_ANY);
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) return throw_errno(env, errno, "setsockopt", "IP_ADD_MEMBERSHIP");
  }
  return NULL;
}

static void free_instance(napi_env env, void *data, void *hint) {
  instance *inst = (instance *)data;
  (void)env;
  (void)hint;
  /* Watches still armed were stopped by their cleanup hooks; forget the list. */
  for (watcher *w = inst->armed; w; w = w->next) w->inst = NULL;
  free(inst);
}

static napi_value js_release_free_memory(napi_env env, napi_callback_info info) {
  napi_value out;
  bool released = false;
  (void)info;
#if defined(__GLIBC__)
  released = malloc_trim(0) == 1;
#elif defined(__APPLE__)
  released = malloc_zone_pressure_relief(NULL, 0) > 0;
#endif
  napi_get_boolean(env, released, &out);
  return out;
}

/* lf-spawn.c: spawn(), onExit(), capabilities. */
int lf_spawn_init(napi_env env, napi_value exports);
/* lf-users.c: userByName(), userById(), groupByName(). */
int lf_users_init(napi_env env, napi_value exports);

static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1], out;
  int64_t pid;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 1 || napi_get_value_int64(env, args[0], &pid) != napi_ok || pid <= 0 || pid > INT_MAX)
    return throw_type(env, "pidfdOpen(pid): pid must be a positive integer");
#ifdef __linux__
  {
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0) return throw_errno(env, errno, "pidfd_open", NULL);
    CHECK(napi_create_int32(env, fd, &out));
    return out;
  }
#else
  (void)out;
  return throw_errno(env, ENOSYS, "pidfd_open", NULL);
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  instance *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, free_instance, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, "ERR_LFNATIVE", "lfnative: cannot allocate instance data");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchReadable", NULL, js_watch_readable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNonBlocking", NULL, js_set_nonblocking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"isNonBlocking", NULL, js_is_nonblocking, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pendingConnections", NULL, js_pending_connections, NULL, NULL, NULL, napi_enumerable, NULL},
      {"accept", NULL, js_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"joinMulticast", NULL, js_join_multicast, NULL, NULL, NULL, napi_enumerable, NULL},
      {"releaseFreeMemory", NULL, js_release_free_memory, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (lf_spawn_init(env, exports) != 0) {
    throw_status(env, "lfnative: cannot set up spawn");
    return NULL;
  }
  if (lf_users_init(env, exports) != 0) {
    throw_status(env, "lfnative: cannot set up user lookups");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
