/**
 * What every spawner does once the job's process (or lf-exec) is started: read its status channel to settle the spawn
 * (empty or warnings only at EOF = the job exec'd; an `F` line = a set-up failure; a stop for
 * WaitForDebugger = running), and deliver the process's exit exactly once, on a later macrotask
 * than the spawn's resolution, and never for a spawn that failed (the shim's own exit after an
 * `F` line is dropped).
 */
import type { Readable } from 'node:stream';
import type { ProcessExit, SpawnFailure, SpawnResult, SpawnWarning } from '../ports/process-spawner.ts';
import { parseShimStatus } from './exec-shim-protocol.ts';

/** Status text beyond this is dropped: the shim writes a few short lines at most. */
const maxStatusBytes = 64 * 1024;

export interface ShimFollower {
  /** The process exited (delivered to onExit once the spawn settled as started). */
  exited(e: ProcessExit): void;
  /** Settles the spawn now (a spawner-level failure, or no status channel to read). */
  finish(result: SpawnResult): void;
  /** Reads the status channel until it ends. */
  follow(status: Readable): void;
}

export interface ShimFollowerOptions {
  /** The shim's pid, once known (child_process may not know it if the spawn itself failed). */
  readonly pid: () => number | undefined;
  /** Warnings from building the request, added to a successful result. */
  readonly requestWarnings: readonly SpawnWarning[];
  readonly resolve: (r: SpawnResult) => void;
  readonly onExit: (e: ProcessExit) => void;
}

export function followShim(o: ShimFollowerOptions): ShimFollower {
  let text = '';
  let outcome: 'pending' | 'ok' | 'failed' = 'pending';
  let exit: ProcessExit | undefined;
  let exitDelivered = false;

  const deliverExit = (): void => {
    if (outcome !== 'ok' || exit === undefined || exitDelivered) return;
    exitDelivered = true;
    const e = exit;
    setImmediate(() => o.onExit(e));
  };
  const finish = (result: SpawnResult): void => {
    if (outcome !== 'pending') return;
    outcome = result.ok ? 'ok' : 'failed';
    o.resolve(result);
    deliverExit();
  };
  const settle = (eof: boolean): void => {
    const report = parseShimStatus(text);
    const warnings = [...o.requestWarnings, ...report.warnings];
    const pid = o.pid();
    if (report.failure) finish({ ok: false, failure: report.failure });
    else if ((eof || report.suspended) && pid !== undefined)
      finish(warnings.length > 0 ? { ok: true, pid, warnings } : { ok: true, pid });
  };
  return {
    exited: (e) => {
      exit = e;
      deliverExit();
    },
    finish,
    follow: (status) => {
      status.setEncoding('utf8');
      status.on('data', (chunk: string) => {
        if (text.length < maxStatusBytes) text += chunk;
        settle(false);
      });
      status.once('error', () => settle(true));
      status.once('close', () => settle(true));
      status.once('end', () => {
        settle(true);
        status.destroy();
      });
    },
  };
}

/** A spawn that failed before any process existed, as a SpawnFailure (errno from the error). */
export function spawnError(err: unknown): SpawnFailure {
  const e = err as NodeJS.ErrnoException;
  return {
    stage: 'spawn',
    errno: typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : 'EINVAL',
    exitStatus: 78,
    message: e instanceof Error ? e.message : String(err),
  };
}
