/**
 * Small argument helpers for lfctl's launchctl-style syntax: combined short flags (`-kp`),
 * a few long flags, `--` to end flags, and absolute paths from the caller's directory.
 */
import { resolve } from 'node:path';

export interface Parsed {
  /** Short flag letters given, and long flags without the dashes. */
  readonly flags: ReadonlySet<string>;
  /** Values of long options that take one (`--domain system`). */
  readonly values: ReadonlyMap<string, string>;
  readonly rest: readonly string[];
  /** A flag that is not allowed, if any. */
  readonly unknown?: string;
}

/**
 * Splits `args` into flags and operands. `short` lists the allowed letters, `long` the allowed
 * long flags, `withValue` the long options that take a value. A lone `-` or a negative number
 * after the first operand is an operand (so `kill -9` style is not needed: signals have no dash).
 */
export function parseFlags(
  args: readonly string[],
  short: string,
  long: readonly string[] = [],
  withValue: readonly string[] = [],
): Parsed {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const rest: string[] = [];
  let unknown: string | undefined;
  let ended = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (ended || a === '-' || !a.startsWith('-')) {
      rest.push(a);
      continue;
    }
    if (a === '--') {
      ended = true;
      continue;
    }
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (withValue.includes(name)) {
        const v = inline ?? args[++i];
        if (v === undefined) unknown ??= `${a} needs a value`;
        else values.set(name, v);
      } else if (long.includes(name) && inline === undefined) flags.add(name);
      else unknown ??= a;
      continue;
    }
    for (const ch of a.slice(1)) {
      if (short.includes(ch)) flags.add(ch);
      else unknown ??= `-${ch}`;
    }
  }
  return { flags, values, rest, ...(unknown !== undefined ? { unknown } : {}) };
}

/** Paths as the agent needs them: absolute, from the caller's directory. */
export function absolutePaths(cwd: string, paths: readonly string[]): string[] {
  return paths.map((p) => resolve(cwd, p));
}
