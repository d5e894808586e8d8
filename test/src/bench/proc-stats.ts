/**
 * What the kernel says about one process, from /proc: CPU time (utime + stime of the process
 * itself: all its threads, never its children — cutime/cstime are not read), resident memory, and
 * which processes are its children. The benchmarks measure supervisors this way so that the jobs'
 * own processes are excluded from both sides alike.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let tck: number | undefined;

/** Kernel clock ticks per second (utime/stime unit), from `getconf CLK_TCK`. */
export function clockTicks(): number {
  if (tck === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    tck = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return tck;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards), or undefined if gone. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: split after the LAST ')'.
  const close = text.lastIndexOf(')');
  return text
    .slice(close + 2)
    .trim()
    .split(' ');
}

/** Process snapshot: CPU seconds used so far by the process itself, its parent and start time. */
export interface ProcSample {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  /** utime + stime in seconds (the process's own threads only). */
  readonly cpuSec: number;
  /** Start time in clock ticks since boot (tells a reused pid apart). */
  readonly startTicks: number;
}

export function sample(pid: number): ProcSample | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  // After comm: [0]=state(3) [1]=ppid(4) ... [11]=utime(14) [12]=stime(15) ... [19]=starttime(22)
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return {
    pid,
    ppid: Number(f[1]),
    state: f[0] ?? '?',
    cpuSec: (utime + stime) / clockTicks(),
    startTicks: Number(f[19]),
  };
}

/** A `kB` field of /proc/<pid>/status in MiB (undefined if gone). */
function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m?.[1] !== undefined ? Number(m[1]) / 1024 : undefined;
}

/** VmRSS of the process in MiB (undefined if gone). */
export function rssMiB(pid: number): number | undefined {
  return statusMiB(pid, 'VmRSS');
}

/** VmHWM, the process's peak RSS since it started, in MiB (undefined if gone). */
export function peakRssMiB(pid: number): number | undefined {
  return statusMiB(pid, 'VmHWM');
}

/** The command name (comm) of a process, or undefined if gone. */
export function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Every live process whose parent is `ppid`. One pass over /proc. */
export function childrenOf(ppid: number): ProcSample[] {
  const out: ProcSample[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = sample(Number(name));
    if (s && s.ppid === ppid && s.state !== 'Z') out.push(s);
  }
  return out;
}

/** How many of the recorded processes are still alive as the same process (same start time). */
export function aliveSame(procs: readonly ProcSample[]): number {
  return procs.filter((p) => {
    const now = sample(p.pid);
    return now !== undefined && now.startTicks === p.startTicks && now.state !== 'Z';
  }).length;
}

/**
 * SIGKILLs each recorded process that is still the same process (same start time): cleanup after
 * a supervisor that did not stop its jobs. Never signals a pid that was reused since.
 */
export function killIfSame(procs: readonly ProcSample[]): number {
  let killed = 0;
  for (const p of procs) {
    const now = sample(p.pid);
    if (!now || now.startTicks !== p.startTicks || now.state === 'Z') continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}
