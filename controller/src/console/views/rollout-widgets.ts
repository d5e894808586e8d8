/** Rollout pieces shared by the overview and the rollout pages. */
import type { NodeRolloutStatus, RolloutPhaseKind } from '../../rollout/core/index.ts';
import type { RolloutRecord } from '../../rollout/rollout-store.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { badge } from '../core/format.ts';
import { href } from '../core/query.ts';

const phaseTone: Readonly<Record<RolloutPhaseKind, 'ok' | 'warn' | 'bad' | 'info' | 'muted'>> = {
  pending: 'muted',
  canary: 'info',
  wave: 'info',
  paused: 'warn',
  succeeded: 'ok',
  failed: 'bad',
  'rolling-back': 'warn',
  'rolled-back': 'bad',
  aborted: 'muted',
};

export function phaseBadge(k: RolloutPhaseKind): SafeHtml {
  return badge(k, phaseTone[k]);
}

export const nodeStatusTone: Readonly<Record<NodeRolloutStatus, 'ok' | 'warn' | 'bad' | 'info' | 'muted'>> = {
  untouched: 'muted',
  updating: 'info',
  healthy: 'ok',
  unhealthy: 'bad',
  'offline-deferred': 'warn',
  reverted: 'warn',
};

/** Healthy share of the target as a bar plus the number. */
export function rolloutProgress(r: RolloutRecord): SafeHtml {
  const recs = Object.values(r.state.nodes);
  const healthy = recs.filter((n) => n.status === 'healthy').length;
  const pct = recs.length === 0 ? 100 : Math.round((healthy / recs.length) * 100);
  return html`<progress max="100" value="${pct}" aria-label="${pct}% of the target healthy">${pct}%</progress>
    <span class="small">${healthy}/${recs.length} healthy</span>`;
}

/** A rollout row's heading: its id, linked to its page. */
export function rolloutIdCell(r: RolloutRecord): SafeHtml {
  return html`<th scope="row">
    <a class="mono" href="${href(['rollouts', r.spec.rolloutId])}">${r.spec.rolloutId}</a>
  </th>`;
}

/** A rollout's job (linked) and the version it rolls out. */
export function rolloutJobCell(r: RolloutRecord): SafeHtml {
  return html`<td>
    <a href="${href(['jobs', r.spec.label])}">${r.spec.label}</a>
    <span class="muted small">v${r.spec.toVersion}</span>
  </td>`;
}
