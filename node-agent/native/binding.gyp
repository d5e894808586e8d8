# Built by node-agent/scripts/build-native.mjs (node-gyp rebuild). Two targets:
#   lf-exec   the job exec shim (a plain C executable, no Node symbols; the setup is lf-setup.c)
#   lfnative  the N-API addon (node_api.h + uv.h): sockets (lfnative.c), posix_spawn of the shim
#             (lf-spawn.c), the direct spawn (lf-direct.c + lf-setup.c: one exec per start) and
#             account lookups on the thread pool (lf-users.c)
{
  "targets": [
    {
      "target_name": "lf-exec",
      "type": "executable",
      "sources": ["src/lf-exec.c", "src/lf-setup.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"] }
    },
    {
      "target_name": "lfnative",
      "sources": ["src/lfnative.c", "src/lf-spawn.c", "src/lf-direct.c", "src/lf-setup.c", "src/lf-users.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"] }
    }
  ]
}
