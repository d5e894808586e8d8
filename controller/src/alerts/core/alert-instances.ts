/**
 * The alert instances one fact gives, as pure functions of that fact: a job in a problem state, a
 * node not seen, a counter or recurring-drift series found active, a failed or stuck rollout.
 * Each builds the instance's deterministic key, its severity, its labels and its summary.
 *
 * *When* an instance is active (hold-down, counter windows, adoption, which series to walk) is
 * the evaluator's business (alert-evaluator.ts); this file only says *what* the instance is, so
 * the evaluator and its reference oracle (alert-evaluator-reference.ts) name alerts alike.
 */
import { keys } from '@launchfleet/shared/messages';
import { type AlertName, alertSeverity } from './alert-rules.ts';
import type { AlertInstance, JobSample, NodeSample, RolloutSample } from './alert-sample.ts';

/** The counter fields of an agent's report that raise an alert when they rise. */
export type CounterField = 'signatureRefusals' | 'drift';

/** The alert a rise of each counter field raises. */
export const counterAlert: Record<CounterField, AlertName> = {
  signatureRefusals: 'LaunchfleetSignatureRefused',
  drift: 'LaunchfleetDriftDetected',
};

/** The alerts whose instances are rollouts' (kept as they are while the rollouts are not known). */
export const rolloutAlerts: ReadonlySet<AlertName> = new Set([
  'LaunchfleetRolloutFailed',
  'LaunchfleetRolloutStuck',
]);

/** An instance of a node (and job) alert: key `<name>.<node>[.<label>]`. */
export function instance(
  name: AlertName,
  node: string,
  o: { domain?: string; label?: string; summary: string },
): AlertInstance {
  return {
    name,
    key: keys.alert(name, node, o.label),
    severity: alertSeverity[name],
    node,
    ...(o.domain !== undefined && { domain: o.domain }),
    ...(o.label !== undefined && { label: o.label }),
    summary: o.summary,
  };
}

/** The instance of a job in a problem state (throttled ones are held for a window by the caller). */
export function jobAlert(j: JobSample): AlertInstance {
  const where = `${j.domain}/${j.label} on node ${j.nodeId}`;
  const labels = { domain: j.domain, label: j.label };
  switch (j.problem) {
    case 'crash_looping': {
      const more = [
        j.successiveCrashes !== undefined ? `${j.successiveCrashes} successive crashes` : '',
        j.lastExitStatus !== undefined ? `last exit status ${j.lastExitStatus}` : '',
      ].filter((s) => s !== '');
      return instance('LaunchfleetJobCrashLooping', j.nodeId, {
        ...labels,
        summary: `${where} is crash-looping${more.length > 0 ? ` (${more.join(', ')})` : ''}`,
      });
    }
    case 'failed':
      return instance('LaunchfleetJobLoadFailed', j.nodeId, {
        ...labels,
        summary: `${where} failed to load`,
      });
    case 'throttled':
      return instance('LaunchfleetJobThrottled', j.nodeId, {
        ...labels,
        summary: `${where} keeps being throttled (respawns held back by ThrottleInterval)`,
      });
    default: {
      const never: never = j.problem;
      return never;
    }
  }
}

/** LaunchfleetNodeUnseen of a node last seen at `n.lastSeen`. */
export function unseenAlert(n: NodeSample, now: number): AlertInstance {
  return instance('LaunchfleetNodeUnseen', n.nodeId, {
    summary: `node ${n.nodeId}${n.hostname ? ` (${n.hostname})` : ''} has not been seen for ${Math.round((now - n.lastSeen) / 1000)} s`,
  });
}

/** The instance of an active counter series `key` (its last increase is within the window). */
export function counterInstance(
  field: CounterField,
  key: string,
  nodeId: string,
  reason: string,
  value: number,
): AlertInstance {
  const what =
    field === 'signatureRefusals' ? `refused a job bundle (${reason})` : `repaired drift (${reason})`;
  return {
    ...instance(counterAlert[field], nodeId, { summary: `node ${nodeId} ${what}: ${value} in total` }),
    key,
    reason,
  };
}

/** LaunchfleetDriftRecurring of series `key`: `total` repairs of `kind` within `windowMs`. */
export function recurringInstance(
  key: string,
  nodeId: string,
  kind: string,
  total: number,
  windowMs: number,
): AlertInstance {
  return {
    ...instance('LaunchfleetDriftRecurring', nodeId, {
      summary: `managed jobs keep drifting on node ${nodeId}: drift of kind ${kind} repaired ${total} times in the last ${Math.round(windowMs / 60_000)} min`,
    }),
    key,
    reason: kind,
  };
}

/** LaunchfleetRolloutFailed and LaunchfleetRolloutStuck of one rollout at `now`. */
export function rolloutInstances(r: RolloutSample, now: number, stuckAfterMs: number): AlertInstance[] {
  const out: AlertInstance[] = [];
  const at = `${Math.round(r.progress * 100)}% of its target`;
  const base = { rollout: r.rolloutId, label: r.label, domain: r.domain };
  if (r.state === 'failed' || r.state === 'rolled_back') {
    const why = r.outcome ? `: ${r.outcome.slice(0, 400)}` : '';
    out.push({
      name: 'LaunchfleetRolloutFailed',
      key: keys.alert('LaunchfleetRolloutFailed', r.rolloutId, r.state),
      severity: alertSeverity.LaunchfleetRolloutFailed,
      ...base,
      state: r.state,
      summary: `rollout ${r.rolloutId} of ${r.label} ended in state ${r.state} at ${at}${why}`,
    });
  }
  const idle = now - r.lastProgressAt;
  if (r.state === 'running' && idle > stuckAfterMs)
    out.push({
      name: 'LaunchfleetRolloutStuck',
      key: keys.alert('LaunchfleetRolloutStuck', r.rolloutId),
      severity: alertSeverity.LaunchfleetRolloutStuck,
      ...base,
      summary: `rollout ${r.rolloutId} of ${r.label} is running but has made no progress for ${Math.round(idle / 1000)} s (at ${at})`,
    });
  return out;
}
