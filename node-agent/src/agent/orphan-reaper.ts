/**
 * After a crash of the agent, its jobs keep running (they are session leaders, reparented to
 * init). Before loading anything, the new agent stops every process group the previous life
 * recorded, provided it is really that process:
 *
 * - the record is from this boot (start times only compare within one boot);
 * - the recorded pid still exists with the recorded start time (a recycled pid has another), or
 *   the pid is gone but processes remain in its process group and session that started no
 *   earlier than it (Linux does not hand out a pid while it is still a live process group id,
 *   so a group with that id is the job's, unless the id was freed and reused in between: a
 *   residual risk of a job whose whole group vanished and whose pid was reused as a session
 *   leader while the agent was down).
 *
 * SIGTERM to each group, then SIGKILL to what is left after `graceMs`. Linux reads /proc;
 * elsewhere the process table comes from `ps` (proc-stat.ts), where the session is not visible
 * and the group stands for it.
 */
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import { allProcStats, type ProcStat } from './proc-stat.ts';
import type { RecordedProcess } from './state-store.ts';

export interface ReapReport {
  /** Process groups signalled, with the job key. */
  readonly killed: readonly { readonly key: string; readonly pgid: number; readonly members: number }[];
}

function membersOf(all: readonly ProcStat[], p: RecordedProcess): ProcStat[] {
  const leader = all.find((s) => s.pid === p.pid);
  if (leader && leader.startTicks !== p.startTicks) return []; // the pid was recycled: not ours
  return all.filter((s) => s.pgrp === p.pid && s.session === p.pid && s.startTicks >= p.startTicks);
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 1) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone already, or not ours to signal
  }
}

export async function reapOrphans(
  leftovers: readonly { key: string; proc: RecordedProcess }[],
  log: SupervisorLog,
  opts: { graceMs?: number; pollMs?: number } = {},
): Promise<ReapReport> {
  if (leftovers.length === 0) return { killed: [] };
  const graceMs = opts.graceMs ?? 3000;
  const pollMs = opts.pollMs ?? 50;
  let all = await allProcStats();
  if (all.length === 0) {
    log(
      'warn',
      'orphans',
      `cannot read the process table: ${leftovers.length} processes of the previous run unchecked`,
    );
    return { killed: [] };
  }
  const killed: { key: string; pgid: number; members: number }[] = [];
  for (const { key, proc } of leftovers) {
    const members = membersOf(all, proc);
    if (members.length === 0) continue;
    log(
      'warn',
      key,
      `process group ${proc.pid} (${members.length} processes) survived the previous agent; sending SIGTERM`,
    );
    killGroup(proc.pid, 'SIGTERM');
    killed.push({ key, pgid: proc.pid, members: members.length });
  }
  const deadline = Date.now() + graceMs;
  for (;;) {
    all = await allProcStats();
    const left = killed.filter((k) => all.some((s) => s.pgrp === k.pgid));
    if (left.length === 0) break;
    if (Date.now() >= deadline) {
      for (const k of left) {
        log('warn', k.key, `process group ${k.pgid} ignored SIGTERM for ${graceMs} ms; sending SIGKILL`);
        killGroup(k.pgid, 'SIGKILL');
      }
      break;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return { killed };
}
