#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt --optimize-for-size --no-flush-bytecode
// The agent's Node/V8 flags, with the reasons for each: node-agent/src/agent/node-flags.ts (the one
// list; its test fails when this line differs). A launcher must run this file, not `node` on it,
// for all of them to apply (deploy/agent/INSTALL.md); the agent logs which it runs without.
import '../dist/main.js';
