/*
 * lfnative users: the account database through the C library (getpwnam_r, getpwuid_r,
 * getgrnam_r), on libuv's thread pool. NSS answers (files, LDAP, sssd; Directory Services on
 * macOS) exactly as for `getent`, without starting a process: the agent used to run `getent` for
 * a job's first start when its user cache was empty, a fork of the agent on the path of a cold
 * socket activation (test/bench/RESULTS.md, "First activation after load"). A lookup that blocks
 * (a slow directory server) holds a pool thread, never the event loop.
 *
 * Exports (added by lf_users_init):
 *   userByName(name) -> Promise<{ name, uid, gid, home, shell } | null>
 *   userById(uid)    -> Promise<... | null>
 *   groupByName(name) -> Promise<{ name, gid } | null>
 *   null: no such account, or the lookup failed (the caller's cache asks again later).
 */
#include <node_api.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int lf_users_init(napi_env env, napi_value exports);

enum kind { USER_BY_NAME, USER_BY_ID, GROUP_BY_NAME };

typedef struct lookup {
  napi_async_work work;
  napi_deferred deferred;
  enum kind kind;
  char key[256];
  unsigned long id;
  /* the answer */
  int found;
  char *name, *home, *shell;
  unsigned long uid, gid;
} lookup;

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static void execute(napi_env env, void *data) {
  lookup *l = (lookup *)data;
  size_t size = 16384;
  (void)env;
  for (int tries = 0; tries < 5; tries++, size *= 4) {
    char *buf = malloc(size);
    int r;
    if (!buf) return;
    if (l->kind == GROUP_BY_NAME) {
      struct group gr, *res = NULL;
      r = getgrnam_r(l->key, &gr, buf, size, &res);
      if (r == 0 && res) {
        l->found = 1;
        l->name = dup_or_empty(res->gr_name);
        l->gid = (unsigned long)res->gr_gid;
      }
    } else {
      struct passwd pw, *res = NULL;
      r = l->kind == USER_BY_NAME ? getpwnam_r(l->key, &pw, buf, size, &res)
                                  : getpwuid_r((uid_t)l->id, &pw, buf, size, &res);
      if (r == 0 && res) {
        l->found = 1;
        l->name = dup_or_empty(res->pw_name);
        l->home = dup_or_empty(res->pw_dir);
        l->shell = dup_or_empty(res->pw_shell);
        l->uid = (unsigned long)res->pw_uid;
        l->gid = (unsigned long)res->pw_gid;
      }
    }
    free(buf);
    if (r != ERANGE) return;
  }
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value ? value : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_number(napi_env env, napi_value obj, const char *key, unsigned long value) {
  napi_value v;
  napi_create_double(env, (double)value, &v);
  napi_set_named_property(env, obj, key, v);
}

static void complete(napi_env env, napi_status status, void *data) {
  lookup *l = (lookup *)data;
  napi_value out;
  if (status == napi_ok && l->found && (l->kind == GROUP_BY_NAME || (l->name && l->home && l->shell)) &&
      napi_create_object(env, &out) == napi_ok) {
    set_string(env, out, "name", l->name);
    if (l->kind == GROUP_BY_NAME) {
      set_number(env, out, "gid", l->gid);
    } else {
      set_number(env, out, "uid", l->uid);
      set_number(env, out, "gid", l->gid);
      set_string(env, out, "home", l->home);
      set_string(env, out, "shell", l->shell);
    }
  } else {
    napi_get_null(env, &out);
  }
  napi_resolve_deferred(env, l->deferred, out);
  napi_delete_async_work(env, l->work);
  free(l->name);
  free(l->home);
  free(l->shell);
  free(l);
}

static napi_value start(napi_env env, napi_callback_info info, enum kind kind) {
  size_t argc = 1;
  napi_value arg, promise, name;
  napi_valuetype t;
  lookup *l;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_typeof(env, arg, &t) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "one argument expected");
    return NULL;
  }
  l = calloc(1, sizeof *l);
  if (!l) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  l->kind = kind;
  if (kind == USER_BY_ID) {
    double id = -1;
    if (t != napi_number || napi_get_value_double(env, arg, &id) != napi_ok || id < 0 || id > 4294967294.0 ||
        id != (double)(unsigned long)id) {
      free(l);
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "userById: uid must be an integer 0..4294967294");
      return NULL;
    }
    l->id = (unsigned long)id;
  } else {
    size_t len = 0;
    if (t != napi_string || napi_get_value_string_utf8(env, arg, l->key, sizeof l->key, &len) != napi_ok ||
        len == 0 || len >= sizeof l->key - 1 || strlen(l->key) != len) {
      free(l);
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "a non-empty name under 255 bytes without NUL expected");
      return NULL;
    }
  }
  if (napi_create_promise(env, &l->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "lfnative.users", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, l, &l->work) != napi_ok ||
      napi_queue_async_work(env, l->work) != napi_ok) {
    free(l);
    napi_throw_error(env, "ERR_LFNATIVE", "cannot queue the lookup");
    return NULL;
  }
  return promise;
}

static napi_value js_user_by_name(napi_env env, napi_callback_info info) { return start(env, info, USER_BY_NAME); }
static napi_value js_user_by_id(napi_env env, napi_callback_info info) { return start(env, info, USER_BY_ID); }
static napi_value js_group_by_name(napi_env env, napi_callback_info info) { return start(env, info, GROUP_BY_NAME); }

int lf_users_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"userByName", NULL, js_user_by_name, NULL, NULL, NULL, napi_enumerable, NULL},
      {"userById", NULL, js_user_by_id, NULL, NULL, NULL, napi_enumerable, NULL},
      {"groupByName", NULL, js_group_by_name, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props) == napi_ok ? 0 : -1;
}
