/**
 * CPU time and resident memory of a process, from /proc (Linux), so the benchmark measures the
 * controller, nats-server and the simulator each apart. CPU is utime + stime of the process
 * itself (all its threads), in milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | undefined;

function clockTicks(): number {
  if (ticks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    ticks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** One reading. */
export interface ProcSample {
  readonly pid: number;
  /** Wall time of the reading (ms). */
  readonly at: number;
  /** utime + stime in ms. */
  readonly cpuMs: number;
  readonly rssBytes: number;
  /** Peak RSS (VmHWM) in bytes. */
  readonly hwmBytes: number;
}

/** Reads /proc/<pid>; undefined when the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state); utime is field 14, stime field 15.
    const cpuTicks = Number(f[11]) + Number(f[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      pid,
      at: Date.now(),
      cpuMs: (cpuTicks * 1000) / clockTicks(),
      rssBytes: kb('VmRSS') * 1024,
      hwmBytes: kb('VmHWM') * 1024,
    };
  } catch {
    return undefined;
  }
}

/** CPU use between two readings as a percentage of one core. */
export function cpuPercent(a: ProcSample, b: ProcSample): number {
  const wall = b.at - a.at;
  return wall > 0 ? ((b.cpuMs - a.cpuMs) / wall) * 100 : 0;
}

/**
 * CPU-seconds the named processes used between two sets of readings; NaN when one of them has no
 * reading in either set (a process that was not there cannot be counted as idle).
 */
export function cpuSecBetween(
  a: Readonly<Record<string, Pick<ProcSample, 'cpuMs'> | undefined>>,
  b: Readonly<Record<string, Pick<ProcSample, 'cpuMs'> | undefined>>,
  names: readonly string[],
): number {
  return names.reduce((acc, k) => {
    const x = a[k];
    const y = b[k];
    return acc + (x && y ? (y.cpuMs - x.cpuMs) / 1000 : Number.NaN);
  }, 0);
}
