#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt --optimize-for-size --no-flush-bytecode
// Node/V8 flags for a small resident agent, each measured with 1,000 jobs (test/bench/RESULTS.md,
// "Where the memory goes"): --max-semi-space-size=1 caps V8's young generation at 1 MB per
// semi-space (loading 1,000 plists at once otherwise grows it to its maximum); --no-opt leaves
// TurboFan out (its code and compile zones cost 4 MB resident; the agent's own JavaScript is a
// small part of a spawn, and Sparkplug still compiles hot functions); --optimize-for-size makes
// V8's heap sizing favour memory; --no-flush-bytecode keeps the bytecode V8 drops by default from
// a function not run for 5 major GCs, such as the socket activation path the agent compiles at its
// load (RESULTS.md, "Issue 19, twelfth session"). A launcher must run this file, not `node` on it,
// for the flags to apply (deploy/agent/INSTALL.md).
import '../dist/main.js';
