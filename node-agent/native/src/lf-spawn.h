/*
 * What lf-spawn.c (posix_spawn of the shim, and the reaping of the addon's children) shares with
 * lf-direct.c (the direct spawn): the per-environment reaper and the N-API argument helpers.
 */
#ifndef LF_SPAWN_H
#define LF_SPAWN_H

#include <node_api.h>
#include <sys/types.h>
#include <uv.h>

typedef struct reaper reaper;

/* Reserves a slot for a child about to be created (starts the SIGCHLD watcher first, so the
 * child's exit cannot be missed); 0, or -1 when out of memory / the watcher cannot start. */
int lf_reaper_reserve(reaper *r, uv_loop_t *loop);
/* Fills the reserved slot with the child's pid. */
void lf_reaper_commit(reaper *r, pid_t pid);
/* Gives the reserved slot back (no child was created). */
void lf_reaper_cancel(reaper *r);

/* A JS string array -> a NULL-terminated C vector (NULL and *bad set on a wrong type, an
 * embedded NUL or no memory); freed with lf_free_strings. */
char **lf_string_vector(napi_env env, napi_value arr, size_t *count, const char **bad);
void lf_free_strings(char **v, size_t n);
/* Element i of a JS array as an int32; 0, or -1 when it is not a number. */
int lf_int_element(napi_env env, napi_value arr, uint32_t i, int32_t *out);
/* Throws an Error with code = errno name, errno, syscall; returns NULL. */
napi_value lf_spawn_error(napi_env env, int err, const char *syscall);
/* Throws a TypeError (ERR_INVALID_ARG_VALUE); returns NULL. */
napi_value lf_type_error(napi_env env, const char *msg);

/* lf-direct.c: adds spawnJob() and the `direct` capability to exports. 0 or -1. */
int lf_direct_init(napi_env env, napi_value exports, reaper *r);

#endif
