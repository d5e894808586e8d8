// Shared helpers of the adapters-*.test.ts integration suites (real processes, /proc).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { ProcessExit, ProcessSpawner, SpawnRequest, SpawnResult } from '@launchfleet/node-agent';
import { spawnRequest } from '@launchfleet/node-agent/testing';

/** A request with launchd's defaults; tests override what they exercise. */
export function request(over: Partial<SpawnRequest> & Pick<SpawnRequest, 'program' | 'argv'>): SpawnRequest {
  return spawnRequest({ label: 'test.adapters', env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' }, ...over });
}

/** A spawned job: its result, and its exit (a promise that settles once onExit was called). */
export interface Started {
  readonly result: SpawnResult;
  readonly exited: Promise<ProcessExit>;
  /** How many times onExit was called so far (must end at exactly 1 for an ok spawn). */
  exitCalls(): number;
}

export async function start(spawner: ProcessSpawner, req: SpawnRequest): Promise<Started> {
  let calls = 0;
  let resolveExit: (e: ProcessExit) => void = () => undefined;
  const exited = new Promise<ProcessExit>((r) => (resolveExit = r));
  const result = await spawner.spawn(req, (e) => {
    calls++;
    resolveExit(e);
  });
  return { result, exited, exitCalls: () => calls };
}

/** The pid of an ok result; fails the test otherwise. */
export function pidOf(r: SpawnResult): number {
  if (!r.ok) throw new Error(`spawn failed: ${JSON.stringify(r.failure)}`);
  return r.pid;
}

/** Rejects after `ms` with `what` in the message. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `cond` every 10 ms until it is true, or fails after `ms`. */
export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** /proc/<pid>/status as key -> value. */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** /proc/<pid>/stat fields after the command name: [state, ppid, pgrp, session, ...] (field 3 onwards). */
export function procStat(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

export function procEnviron(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    if (kv === '') continue;
    const i = kv.indexOf('=');
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export function procArgv(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
}

/**
 * Waits until the job's exec has finished laying out its new image. A spawner reports a start
 * once the exec passed the point of no return (its close-on-exec status pipe closed), but the
 * kernel sets the new argv and environment bounds a moment later, so /proc/<pid>/cmdline reads
 * empty in that window (seen on Node 24, whose spawn path is quicker).
 */
export async function execed(pid: number, timeoutMs = 2000): Promise<void> {
  await waitUntil(() => readFileSync(`/proc/${pid}/cmdline`).length > 0, timeoutMs, `pid ${pid} exec done`);
}

/** fd number -> link target, for every open fd of the process. */
/**
 * A job's open fds once they have settled: right after an exec, the new program's dynamic
 * loader opens its libraries on the lowest free fd and closes them again, so /proc can show a
 * transient extra fd. Polls (bounded) until exactly `count` fds are open, then returns the set,
 * whatever it is, for the caller to assert on (a leaked agent fd stays and fails the test).
 */
export async function settledFds(pid: number, count: number, timeoutMs = 2000): Promise<Map<number, string>> {
  const deadline = Date.now() + timeoutMs;
  let fds = procFds(pid);
  while (fds.size !== count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    fds = procFds(pid);
  }
  return fds;
}

export function procFds(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(name), readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed meanwhile
    }
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** True while the pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    return procStat(pid)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Kills every pid still alive, and its process group (jobs lead their own group): test cleanup. */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
