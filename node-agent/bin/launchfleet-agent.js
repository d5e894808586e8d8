#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2 caps V8's young generation at 2 MB per semi-space: loading 1,000
// plists at once otherwise grows it to the default maximum and the agent's RSS peaks ~20 MB
// higher until the next major GC (test/bench/RESULTS.md, section 1). It costs no start time there.
import '../dist/main.js';
