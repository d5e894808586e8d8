/**
 * A stored rollout as the API shows it (rollout.proto's `Rollout`): the record plus per-step
 * tallies computed from the node records, so a client can draw one progress bar per step
 * while the step runs (the core writes a step's counts only when it ends).
 */
import type { RolloutRecord } from '../rollout/rollout-store.ts';
import { progressRatio } from '../rollout/rollout-metrics.ts';
import { describeTarget } from '../desired/job-record.ts';
import type * as m from './fleet-messages.ts';

/** How many events a view carries (the record keeps up to 100). */
const maxEvents = 50;

export function rolloutView(
  r: RolloutRecord,
  extra: Pick<m.Rollout, 'commandApplied' | 'commandResult'> = { commandApplied: false, commandResult: '' },
): m.Rollout {
  const s = r.state;
  const phase = s.phase;
  const current = s.current?.index ?? ('step' in phase ? phase.step : -1);
  const steps = s.steps.map((st, i) => {
    const tally = { healthy: 0, updating: 0, unhealthy: 0, offline: 0, untouched: 0, reverted: 0 };
    for (const id of st.nodeIds) {
      const n = s.nodes[id];
      if (!n) continue;
      if (n.status === 'offline-deferred') tally.offline++;
      else tally[n.status]++;
    }
    const h = s.history.findLast((e) => e.step === i);
    return {
      name: st.name,
      size: st.nodeIds.length,
      ...tally,
      outcome: h?.outcome ?? '',
      reason: h?.reason ?? '',
      startedAtMs: h?.startedAt ?? 0,
      endedAtMs: h?.endedAt ?? 0,
      current: i === current,
    };
  });
  const nodes = Object.entries(s.nodes).map(([id, n]) => ({
    nodeId: id,
    step: n.step,
    status: n.status,
    fromVersion: r.spec.fromVersions[id] ?? '',
    lastSetVersion: n.lastSet ? (n.lastSet.version ?? 'none') : '',
    lastSetReason: n.lastSet?.reason ?? '',
    reason: n.reason ?? '',
    online: n.observation?.online === true,
  }));
  return {
    rolloutId: r.spec.rolloutId,
    label: r.spec.label,
    domain: r.spec.domain,
    phase: phase.kind,
    toVersion: r.spec.toVersion,
    target: describeTarget(r.target),
    createdBy: r.createdBy,
    createdAtMs: r.createdAt,
    startedAtMs: s.startedAt ?? 0,
    finishedAtMs: s.finishedAt ?? 0,
    outcome: s.outcome?.reason ?? '',
    maxUnavailable: s.maxUnavailable,
    steps,
    nodes,
    events: s.log.slice(-maxEvents).map((e) => ({
      atMs: e.at,
      kind: e.kind,
      message: e.message,
      nodeId: e.nodeId ?? '',
      step: e.step ?? -1,
    })),
    progress: progressRatio(s),
    autoRollback: r.spec.autoRollback,
    pendingCommands: r.commands.length,
    currentStep: current,
    jobKind: r.spec.jobKind,
    ...extra,
  };
}
