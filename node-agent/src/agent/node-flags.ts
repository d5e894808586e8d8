/**
 * The Node/V8 flags the agent runs with: the one list. Each way of starting the agent carries it:
 * - node-agent/bin/launchfleet-agent.js on its `#!` line (a `#!` line cannot import; node-flags.test.ts
 *   fails when the two differ), which the Docker image and scripts/local-fleet.sh run directly;
 * - the single-file agent in its sea-config `execArgv` (node-agent/scripts/bundle-agent.mjs reads
 *   this module's build), which the Node 22 and 24 we build with honour and Node 20 ignores;
 * - whatever else (`node launchfleet-agent.js`, an old Node's single file): at its start the agent
 *   sets the flags V8 still honours then, and logs which it runs without (`applyAgentNodeFlags`).
 *
 * Each flag was measured with 1,000 jobs or on the first activation (test/bench/RESULTS.md):
 * - --max-semi-space-size=1 caps V8's young generation at 1 MB per semi-space (loading 1,000
 *   plists at once otherwise grows it to its maximum; "Where the memory goes");
 * - --no-opt leaves TurboFan out (its code and compile zones cost 4 MB resident; the agent's own
 *   JavaScript is a small part of a spawn, and Sparkplug still compiles hot functions);
 * - --optimize-for-size makes V8's heap sizing favour memory;
 * - --no-flush-bytecode keeps the bytecode V8 drops by default from a function not run for 5-6
 *   major GCs, such as the socket activation path the agent compiles at its load ("Issue 19,
 *   twelfth session").
 */
import { setFlagsFromString } from 'node:v8';

export const AGENT_NODE_FLAGS = [
  '--max-semi-space-size=1',
  '--no-opt',
  '--optimize-for-size',
  '--no-flush-bytecode',
] as const;

/**
 * The flags V8 honours when set after the process started (v8.setFlagsFromString), checked on
 * Node 20, 22 and 24: a function run before the call is not flushed after 10 major GCs, and a hot
 * function is not optimized. The young generation's size is fixed when the heap is made, and
 * --optimize-for-size was not checked: both only work on the command line.
 */
const SETTABLE_AFTER_START: ReadonlySet<string> = new Set(['--no-opt', '--no-flush-bytecode']);

/** Which of the agent's flags the process has, and how (invariant: the three lists partition the flags). */
export interface NodeFlagsReport {
  /** On its command line (`#!` line, `node FLAGS`, the single file's execArgv) or in NODE_OPTIONS. */
  readonly given: readonly string[];
  /** Set by the agent at its start: the process started without them. */
  readonly setAtStart: readonly string[];
  /** Missing: only the command line sets them. */
  readonly missing: readonly string[];
}

/** Splits the agent's flags by whether the process started with them (`startFlags`). */
export function planNodeFlags(startFlags: readonly string[]): NodeFlagsReport {
  const given: string[] = [];
  const setAtStart: string[] = [];
  const missing: string[] = [];
  for (const f of AGENT_NODE_FLAGS) {
    if (startFlags.includes(f)) given.push(f);
    else if (SETTABLE_AFTER_START.has(f)) setAtStart.push(f);
    else missing.push(f);
  }
  return { given, setAtStart, missing };
}

/** The flags a process started with: its execArgv and the words of NODE_OPTIONS. */
export function startFlagsOf(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/).filter(Boolean)];
}

/** Sets the agent's flags the process started without (those V8 still honours); says what it did. */
export function applyAgentNodeFlags(
  startFlags: readonly string[] = startFlagsOf(process.execArgv, process.env['NODE_OPTIONS']),
  set: (flags: string) => void = setFlagsFromString,
): NodeFlagsReport {
  const report = planNodeFlags(startFlags);
  for (const f of report.setAtStart) set(f);
  return report;
}

/** The start log's line for `report`: its level, and its text. */
export function describeNodeFlags(report: NodeFlagsReport): { level: 'info' | 'warn'; text: string } {
  const parts = [`node flags: ${report.given.join(' ') || '(none)'}`];
  if (report.setAtStart.length > 0) parts.push(`set at start: ${report.setAtStart.join(' ')}`);
  if (report.missing.length > 0)
    parts.push(
      `running without: ${report.missing.join(' ')} (only a command line sets them: run the bin itself, not node on it, or a single file built with Node 22 or 24)`,
    );
  const complete = report.setAtStart.length === 0 && report.missing.length === 0;
  return { level: complete ? 'info' : 'warn', text: parts.join('; ') };
}
