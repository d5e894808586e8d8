# Built by node-agent/scripts/build-native.mjs (node-gyp rebuild). Two targets:
#   lf-exec   the job exec shim (a plain C executable, no Node symbols)
#   lfnative  the N-API socket addon (node_api.h only)
{
  "targets": [
    {
      "target_name": "lf-exec",
      "type": "executable",
      "sources": ["src/lf-exec.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"] }
    },
    {
      "target_name": "lfnative",
      "sources": ["src/lfnative.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"] }
    }
  ]
}
