/**
 * The `lf_alerts` record of a firing alert instance and the event it becomes. The record is the
 * agreement between controllers: whoever creates it publishes `alert-firing`; whoever deletes it
 * (compare-and-set on its revision) publishes `alert-resolved`. Both events carry the same
 * alert id, `<key>@<revision of the record>`, so a consumer can pair them and drop duplicates.
 */
import { isRecord, type NodeEvent, boundedDetail, controllerEventSource } from '@launchfleet/shared/messages';
import { type AlertInstance, type RolloutStateValue } from './core/alert-evaluator.ts';
import { alertNames, alertSeverity } from './core/alert-rules.ts';

/** What `lf_alerts` stores for a firing instance. */
export interface AlertRecord {
  readonly alert: AlertInstance;
  /** Wall ms the condition was first seen by the controller that fired it. */
  readonly activeSince: number;
  readonly firedAt: number;
  /** The controller that fired it (its NATS connection name). */
  readonly by: string;
}

export function encodeAlertRecord(r: AlertRecord): string {
  return JSON.stringify(r);
}

/** Decodes a stored record; undefined for anything malformed (such a key is resolved). */
export function decodeAlertRecord(key: string, text: string): AlertRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(o) || !isRecord(o['alert'])) return undefined;
  const a = o['alert'];
  const name = alertNames.find((n) => n === a['name']);
  const str = (v: unknown, max: number): string | undefined =>
    typeof v === 'string' && v.length <= max ? v : undefined;
  const node = str(a['node'], 128);
  const rollout = str(a['rollout'], 64);
  const summary = str(a['summary'], 1024);
  if (!name || summary === undefined || a['key'] !== key) return undefined;
  // Rollout alerts name a rollout; every other alert names a node.
  if (name === 'LaunchfleetRolloutFailed' || name === 'LaunchfleetRolloutStuck') {
    if (rollout === undefined) return undefined;
  } else if (node === undefined) return undefined;
  if (typeof o['activeSince'] !== 'number' || typeof o['firedAt'] !== 'number') return undefined;
  const domain = str(a['domain'], 32);
  const label = str(a['label'], 255);
  const reason = str(a['reason'], 64);
  const state = rolloutStateValues.find((v) => v === a['state']);
  return {
    alert: {
      name,
      key,
      severity: alertSeverity[name],
      ...(node !== undefined && { node }),
      ...(domain !== undefined && { domain }),
      ...(label !== undefined && { label }),
      ...(reason !== undefined && { reason }),
      ...(rollout !== undefined && { rollout }),
      ...(state !== undefined && { state }),
      summary,
    },
    activeSince: o['activeSince'],
    firedAt: o['firedAt'],
    by: str(o['by'], 128) ?? '',
  };
}

const rolloutStateValues: readonly RolloutStateValue[] = [
  'running',
  'paused',
  'succeeded',
  'failed',
  'rolled_back',
  'aborted',
];

/**
 * The LF_EVENTS event of an alert edge. `detail` starts with `id=<alert id>` and then names what
 * the alert is about: `node=<node id>`, or for rollout alerts `rollout=<rollout id>` (and
 * `state=<state>` for LaunchfleetRolloutFailed).
 */
export function alertEvent(
  type: 'firing' | 'resolved',
  alert: AlertInstance,
  id: string,
  activeSince: number,
  at: number,
): NodeEvent {
  const secs = Math.max(0, Math.round((at - activeSince) / 1000));
  const tail = type === 'firing' ? `active for ${secs} s` : `resolved after ${secs} s`;
  return {
    source: controllerEventSource,
    kind: type === 'firing' ? 'alert-firing' : 'alert-resolved',
    reason: alert.name,
    ...(alert.label !== undefined && { label: alert.label }),
    ...(alert.domain !== undefined && { domain: alert.domain }),
    detail: boundedDetail(
      `id=${id}${alert.node !== undefined ? ` node=${alert.node}` : ''}` +
        `${alert.rollout !== undefined ? ` rollout=${alert.rollout}` : ''}` +
        `${alert.state !== undefined ? ` state=${alert.state}` : ''} severity=${alert.severity}` +
        `${alert.reason !== undefined ? ` reason=${alert.reason}` : ''}: ${alert.summary} (${tail})`,
      1024,
    ),
  };
}
