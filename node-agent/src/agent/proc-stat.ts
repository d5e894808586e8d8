/**
 * Reading processes: the process group, session and start time of a pid (so a recycled pid is
 * never mistaken for a job's process), and the boot id (start times only compare within one
 * boot). Linux reads /proc; elsewhere (macOS) the portable path asks `ps` and `sysctl`.
 *
 * `startTicks` is only ever compared with values from the same path on the same machine: clock
 * ticks after boot from /proc, whole seconds since the epoch from `ps -o lstart`.
 */
import { execFile } from 'node:child_process';
import { close, open, read } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
const useProc = process.platform === 'linux';
/** `ps` fields: BSD ps has no usable session id, so the session is taken to be the group (jobs lead both). */
const psFields = ['-o', 'pid=,ppid=,pgid=,stat=,lstart='];

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

/**
 * One line of `ps -o pid=,ppid=,pgid=,stat=,lstart=` (LC_ALL=C): `123 1 123 Ss Sat Nov 21 10:23:56 2026`.
 * The start time becomes whole seconds since the epoch; undefined if malformed.
 */
export function parsePsLine(line: string): ProcStat | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 9) return undefined;
  const [pid, ppid, pgrp] = [Number(f[0]), Number(f[1]), Number(f[2])];
  const started = Date.parse(f.slice(4, 9).join(' '));
  const st = { pid, ppid, pgrp, session: pgrp, startTicks: Math.floor(started / 1000) };
  if (!Object.values(st).every((v) => Number.isSafeInteger(v))) return undefined;
  return { ...st, state: f[3]?.[0] ?? '?' };
}

/** The process table through `ps` (the portable path). */
export async function psProcStats(pid?: number): Promise<ProcStat[]> {
  try {
    const args = pid === undefined ? ['-A', ...psFields] : ['-p', String(pid), ...psFields];
    const { stdout } = await run('ps', args, { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 << 20 });
    return stdout
      .split('\n')
      .map(parsePsLine)
      .filter((s): s is ProcStat => s !== undefined && s.state !== 'Z');
  } catch {
    // ps exits 1 when -p names no process.
    return [];
  }
}

/** /proc/<pid>/stat (or ps elsewhere), or undefined if the process does not exist. */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  if (!useProc) return (await psProcStats(pid))[0];
  try {
    return parseProcStat(await readProcFile(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/**
 * A small /proc file in one read. /proc files report size 0, for which readFile (Node 20) takes
 * a 64 KB buffer per call, and the agent reads /proc/<pid>/stat of every job it starts: 1,000 at
 * once at boot held 64 MB (test/bench/RESULTS.md, "Where the memory goes"). The stat line is
 * under 1 KB (comm is at most 64 bytes).
 *
 * At most `procReaders` reads are in flight, each with a 4 KB buffer kept for the next one: the
 * 1,000 "running" statuses of a boot ask for 1,000 start times at once, and a buffer, an fd and a
 * request each for all of them held 5-6 MB until the reads drained through libuv's 4 threads, the
 * agent's peak RSS with 1,000 jobs (issue 19). Queued reads cost a small record each.
 */
const procReaders = 4;
const spareBuffers: Buffer[] = [];
const queued: { path: string; resolve: (s: string) => void; reject: (e: unknown) => void }[] = [];
let reading = 0;

function readProcFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    queued.push({ path, resolve, reject });
    pumpProcReads();
  });
}

function pumpProcReads(): void {
  while (reading < procReaders && queued.length > 0) {
    const { path, resolve, reject } = queued.shift()!;
    const buf = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(4096);
    reading++;
    const done = (err: unknown, text?: string): void => {
      reading--;
      spareBuffers.push(buf);
      if (err) reject(err);
      else resolve(text!);
      pumpProcReads();
    };
    open(path, 'r', (err, fd) => {
      if (err) return done(err);
      read(fd, buf, 0, buf.length, 0, (rerr, n) => {
        const text = rerr ? undefined : buf.toString('utf8', 0, n);
        close(fd, () => done(rerr, text));
      });
    });
  }
}

/** Every live process's stat (a snapshot; zombies and processes that vanish meanwhile are skipped). */
export async function allProcStats(): Promise<ProcStat[]> {
  if (!useProc) return psProcStats();
  const names = await readdir('/proc').catch(() => [] as string[]);
  const out: ProcStat[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const s = await procStat(Number(n));
    if (s && s.state !== 'Z') out.push(s);
  }
  return out;
}

/** This boot's id: Linux's boot_id, macOS's kern.boottime; '' where there is none. */
export async function bootId(): Promise<string> {
  try {
    if (useProc) return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    return (await run('sysctl', ['-n', 'kern.boottime'])).stdout.trim();
  } catch {
    return '';
  }
}
