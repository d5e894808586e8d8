/**
 * How `launchfleet rollout` prints a rollout (pure text functions over the API's `Rollout`):
 * a summary, one line per step (a progress bar on a terminal, plain counts when piped), the
 * outcome and the latest events; and, for `--watch` when piped, one plain line per change.
 */
import type { ResponseOf } from './api-client.ts';
import { time, text } from './table.ts';

/**
 * A rollout as the API answers it (`Rollout`, decoded: every field present), or a part of one:
 * the tests and `--watch` snapshots render partial steps, so these functions read each field
 * with a default rather than trusting the generated type.
 */
type Obj = Readonly<Record<string, unknown>>;
export type RolloutAnswer = Obj | ResponseOf<'GetRollout'>;
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const n = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** `[██████░░░░]` of `width` cells. */
export function bar(done: number, total: number, width = 20): string {
  const full = total > 0 ? Math.round((Math.min(done, total) / total) * width) : width;
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

/** One step: a bar on a terminal, counts in words when piped. */
export function stepLine(st: Obj, tty: boolean): string {
  const size = n(st['size']);
  const healthy = n(st['healthy']);
  const state =
    text(st['outcome']) ||
    (st['current'] === true ? 'running' : healthy === size && size > 0 ? 'done' : 'waiting');
  const counts = `${healthy}/${size} healthy, ${n(st['updating'])} updating, ${n(st['unhealthy'])} unhealthy, ${n(st['offline'])} offline, ${n(st['reverted'])} reverted`;
  const name = text(st['name']).padEnd(8);
  return tty
    ? `  ${name} ${bar(healthy, size)} ${counts}  ${state}`
    : `step ${text(st['name'])}: ${counts} (${state})`;
}

/** The whole rollout for `status`. */
export function renderRollout(r: RolloutAnswer, tty: boolean, events = 8): string {
  const lines = [
    `rollout ${text(r['rolloutId'])}: ${text(r['label'])} -> version ${text(r['toVersion'])} on ${text(r['target'])}`,
    `phase ${text(r['phase'])}, progress ${Math.round(n(r['progress']) * 100)}%, max unavailable ${n(r['maxUnavailable'])}, auto-rollback ${r['autoRollback'] === true ? 'on' : 'off'}`,
    `started ${time(n(r['startedAtMs']))}${n(r['finishedAtMs']) > 0 ? `, finished ${time(n(r['finishedAtMs']))}` : ''}`,
  ];
  if (text(r['outcome'])) lines.push(`outcome: ${text(r['outcome'])}`);
  lines.push(...arr(r['steps']).map((st) => stepLine(st, tty)));
  const offline = arr(r['nodes']).filter((x) => x['status'] === 'offline-deferred');
  if (offline.length > 0)
    lines.push(`offline (deferred): ${offline.map((x) => text(x['nodeId'])).join(', ')}`);
  const ev = arr(r['events']).slice(-events);
  if (ev.length > 0) {
    lines.push('events:');
    for (const e of ev) lines.push(`  ${time(n(e['atMs']))} ${text(e['kind'])}: ${text(e['message'])}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One plain line per snapshot for a piped `--watch`: phase, current step and its counts. */
export function watchLine(r: RolloutAnswer): string {
  const steps = arr(r['steps']);
  const cur = steps.find((s) => s['current'] === true);
  const step = cur ? ` ${stepLine(cur, false)}` : '';
  const outcome = text(r['outcome']) ? ` outcome: ${text(r['outcome'])}` : '';
  return `${time(Date.now())} ${text(r['rolloutId'])} phase ${text(r['phase'])} progress ${Math.round(n(r['progress']) * 100)}%${step ? `;${step}` : ''}${outcome}\n`;
}

/** Step history and events of one rollout (`history ID`). */
export function renderHistory(r: RolloutAnswer): string {
  const lines = [
    `rollout ${text(r['rolloutId'])} (${text(r['label'])} -> ${text(r['toVersion'])}): ${text(r['phase'])}`,
  ];
  for (const st of arr(r['steps']))
    if (n(st['startedAtMs']) > 0)
      lines.push(
        `  ${text(st['name'])}: ${text(st['outcome']) || 'running'} ${time(n(st['startedAtMs']))}..${time(n(st['endedAtMs']))} ${text(st['reason'])}`,
      );
  for (const e of arr(r['events']))
    lines.push(`  ${time(n(e['atMs']))} ${text(e['kind'])}: ${text(e['message'])}`);
  return `${lines.join('\n')}\n`;
}
