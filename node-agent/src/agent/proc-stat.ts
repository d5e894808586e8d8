/**
 * Reading processes from Linux's /proc: the process group, session and start time of a pid
 * (so a recycled pid is never mistaken for a job's process), and the boot id (start times only
 * compare within one boot).
 */
import { readFile, readdir } from 'node:fs/promises';

/** The fields of /proc/<pid>/stat the agent uses. */
export interface ProcStat {
  readonly pid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), T... */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  /** Start time in clock ticks after boot (field 22). */
  readonly startTicks: number;
}

/** Parses /proc/<pid>/stat; undefined if malformed. comm may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // f[0] is field 3 (state); field n is f[n - 3].
  const num = (n: number): number => Number(f[n - 3]);
  const st = { pid, ppid: num(4), pgrp: num(5), session: num(6), startTicks: num(22) };
  if (!Object.values(st).every((v) => Number.isSafeInteger(v))) return undefined;
  return { ...st, state: f[0] ?? '?' };
}

/** /proc/<pid>/stat, or undefined if the process does not exist (or /proc is missing). */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every live process's stat (a snapshot; zombies and processes that vanish meanwhile are skipped). */
export async function allProcStats(): Promise<ProcStat[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  const out: ProcStat[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const s = await procStat(Number(n));
    if (s && s.state !== 'Z') out.push(s);
  }
  return out;
}

/** This boot's id (Linux), or '' where there is none. */
export async function bootId(): Promise<string> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return '';
  }
}
