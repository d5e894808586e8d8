/**
 * Rollouts: the list (filterable by phase and job, paged) and one rollout's live progress:
 * its steps with the nodes of each and the gate's verdicts, why it failed, the nodes with
 * their status and the gate's reason, its event log, and for operators pause / resume /
 * abort / rollback.
 */
import { type RolloutPhaseKind, phaseKinds } from '../../rollout/core/index.ts';
import type { RolloutRecord } from '../../rollout/rollout-store.ts';
import { describeTarget } from '../../desired/job-record.ts';
import type { FleetIndex } from '../../fleet/core/fleet-index.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { type PageRequest, type Paged, href, paginate } from '../core/query.ts';
import { badge, count, timeAt } from '../core/format.ts';
import { type Viewer, csrfField, page } from './layout.ts';
import { columnHeads, emptyRow, filterForm, pager, select, textFilter } from './widgets.ts';
import {
  nodeStatusTone,
  phaseBadge,
  rolloutIdCell,
  rolloutJobCell,
  rolloutProgress,
} from './rollout-widgets.ts';

export interface RolloutsFilter {
  readonly phase: string;
  readonly label: string;
}

export function rolloutsListModel(
  all: readonly RolloutRecord[],
  f: RolloutsFilter,
  pg: PageRequest,
): Paged<RolloutRecord> {
  const q = f.label.toLowerCase();
  const rows = all
    .filter(
      (r) => (!f.phase || r.state.phase.kind === f.phase) && (!q || r.spec.label.toLowerCase().includes(q)),
    )
    .sort((a, b) => b.createdAt - a.createdAt || (a.spec.rolloutId < b.spec.rolloutId ? -1 : 1));
  return paginate(rows, pg);
}

export function rolloutsListPage(
  v: Viewer,
  q: URLSearchParams,
  f: RolloutsFilter,
  p: Paged<RolloutRecord>,
): SafeHtml {
  const body = html`<h1>Rollouts</h1>
    ${filterForm('/rollouts', [
      select(
        'phase',
        'State',
        f.phase,
        phaseKinds.map((k) => [k, k] as const),
      ),
      textFilter('label', 'Job', f.label, 'com.acme.'),
    ])}
    <div id="live" data-live>
      <table class="grid" id="rollout-list">
        ${columnHeads('Rollout', 'Job', 'State', 'Progress', 'Target', 'Started', 'Finished', 'By', 'Why it ended')}
        <tbody>
          ${
            p.items.length === 0
              ? emptyRow(9, 'No rollout matches.')
              : p.items.map(
                  (r) =>
                    html`<tr>
                      ${rolloutIdCell(r)} ${rolloutJobCell(r)}
                      <td>${phaseBadge(r.state.phase.kind)}</td>
                      <td>${rolloutProgress(r)}</td>
                      <td>
                        ${describeTarget(r.target)}
                        <span class="muted small">(${count(r.spec.targetNodes.length)})</span>
                      </td>
                      <td>${timeAt(r.state.startedAt ?? r.createdAt)}</td>
                      <td>${timeAt(r.state.finishedAt ?? 0)}</td>
                      <td>${r.createdBy}</td>
                      <td class="small">${r.state.outcome?.reason ?? ''}</td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
      ${pager(['rollouts'], q, p)}
    </div>`;
  return page(v, { title: 'Rollouts', section: 'rollouts', topics: ['rollouts'], body });
}

/** Which operator commands make sense now (the machine ignores the others, with a reason). */
function commandsFor(k: RolloutPhaseKind): readonly ('pause' | 'resume' | 'abort' | 'rollback')[] {
  switch (k) {
    case 'pending':
    case 'canary':
    case 'wave':
      return ['pause', 'abort', 'rollback'];
    case 'paused':
      return ['resume', 'abort', 'rollback'];
    case 'succeeded':
    case 'failed':
    case 'aborted':
      return ['rollback'];
    case 'rolling-back':
    case 'rolled-back':
      return [];
    default: {
      const never: never = k;
      return never;
    }
  }
}

export interface RolloutNodesFilter {
  readonly step: string;
  readonly status: string;
}

export function rolloutPage(
  v: Viewer,
  q: URLSearchParams,
  r: RolloutRecord,
  ix: FleetIndex,
  f: RolloutNodesFilter,
  pg: PageRequest,
  canCommand: boolean,
  done: string,
): SafeHtml {
  const s = r.state;
  const id = r.spec.rolloutId;
  const current = s.current?.index ?? ('step' in s.phase ? s.phase.step : -1);
  const steps = s.steps.map((st, i) => {
    const tally = { healthy: 0, updating: 0, unhealthy: 0, 'offline-deferred': 0, untouched: 0, reverted: 0 };
    for (const nid of st.nodeIds) {
      const n = s.nodes[nid];
      if (n) tally[n.status]++;
    }
    const h = s.history.findLast((e) => e.step === i);
    return { st, i, tally, h };
  });
  const nodes = Object.entries(s.nodes)
    .filter(
      ([, n]) => (f.step === '' || String(n.step) === f.step) && (f.status === '' || n.status === f.status),
    )
    .sort(([a, x], [b, y]) => x.step - y.step || (a < b ? -1 : 1));
  const paged = paginate(nodes, pg);
  const commands = canCommand ? commandsFor(s.phase.kind) : [];
  const body = html`<p class="crumbs"><a href="/rollouts">Rollouts</a> /</p>

    <div id="live" data-live>
      <h1><span class="mono">${id}</span> ${phaseBadge(s.phase.kind)}</h1>
      ${done ? html`<p class="notice" role="status">${done}</p>` : ''}
      <section class="split">
        <div>
          <dl class="facts">
            <dt>Job</dt>
            <dd>
              <a href="${href(['jobs', r.spec.label])}">${r.spec.label}</a> (${r.spec.domain}) →
              v${r.spec.toVersion}
            </dd>
            <dt>Target</dt>
            <dd>${describeTarget(r.target)} · ${count(r.spec.targetNodes.length)} nodes</dd>
            <dt>Progress</dt>
            <dd>${rolloutProgress(r)}</dd>
            <dt>Strategy</dt>
            <dd>
              ${r.spec.strategy.kind === 'all-at-once' ? 'all at once' : `canary, then ${r.spec.strategy.waves.length} wave size(s); at most ${s.maxUnavailable} in flux`}
            </dd>
            <dt>Health gate</dt>
            <dd>
              healthy for ${r.spec.gate.minHealthySeconds} s · deadline ${r.spec.gate.progressDeadlineSeconds}
              s${r.spec.gate.requireNoCrashInWindow ? ' · no crash allowed' : ''} ·
              ${r.spec.autoRollback ? 'rolls back by itself' : 'no automatic rollback'}
            </dd>
            <dt>Started</dt>
            <dd>${timeAt(s.startedAt ?? 0)} by ${r.createdBy}</dd>
            <dt>Finished</dt>
            <dd>${timeAt(s.finishedAt ?? 0)}</dd>
            ${
              s.outcome
                ? html`<dt>Why</dt>
                    <dd class="why">${s.outcome.reason}</dd>`
                : ''
            }
            ${
              r.commands.length
                ? html`<dt>Waiting</dt>
                    <dd>${r.commands.map((c) => `${c.type} by ${c.by}`).join(', ')}</dd>`
                : ''
            }
          </dl>
        </div>
        <div>
          ${
            commands.length
              ? html`<h2>Actions</h2>
                  <div class="actions">
                    ${commands.map(
                      (c) =>
                        html`<form method="post" action="${href(['rollouts', id, c])}" class="action">
                          ${csrfField(v)}
                          <input
                            name="reason"
                            placeholder="reason (optional)"
                            aria-label="Reason to ${c}"
                            maxlength="200"
                          />
                          <button
                            type="submit"
                            class="${c === 'abort' || c === 'rollback' ? 'danger' : ''}"
                            id="btn-${c}"
                          >
                            ${c[0]?.toUpperCase()}${c.slice(1)}
                          </button>
                        </form>`,
                    )}
                  </div>`
              : v.role === 'viewer'
                ? html`<p class="muted small">
                    Viewers cannot change rollouts; an operator can pause, resume, abort or roll back.
                  </p>`
                : ''
          }
        </div>
      </section>

      <section aria-labelledby="h-steps">
        <h2 id="h-steps">Steps</h2>
        <table class="grid" id="steps">
          ${columnHeads('Step', 'Nodes', 'Healthy', 'Updating', 'Unhealthy', 'Offline', 'Not yet', 'Reverted', 'Gate verdict', 'Started', 'Ended')}
          <tbody>
            ${steps.map(
              (x) => html`<tr${x.i === current ? html` class="current"` : ''}>
<th scope="row"><a href="${href(['rollouts', id], { step: x.i })}">${x.st.name}</a>${x.i === current ? html` ${badge('now', 'info')}` : ''}</th>
<td class="num">${count(x.st.nodeIds.length)}</td>
<td class="num">${count(x.tally.healthy)}</td>
<td class="num">${count(x.tally.updating)}</td>
<td class="num">${x.tally.unhealthy ? badge(count(x.tally.unhealthy), 'bad') : '0'}</td>
<td class="num">${count(x.tally['offline-deferred'])}</td>
<td class="num">${count(x.tally.untouched)}</td>
<td class="num">${count(x.tally.reverted)}</td>
<td>${x.h?.outcome ? badge(x.h.outcome, x.h.outcome === 'passed' ? 'ok' : 'bad') : html`<span class="muted">—</span>`} <span class="small">${x.h?.reason ?? ''}</span></td>
<td>${timeAt(x.h?.startedAt ?? 0)}</td>
<td>${timeAt(x.h?.endedAt ?? 0)}</td>
</tr>`,
            )}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="h-rnodes">
        <h2 id="h-rnodes">
          Nodes${f.step !== '' ? html` of step ${s.steps[Number(f.step)]?.name ?? f.step}` : ''}
        </h2>
        ${filterForm(href(['rollouts', id]), [
          select(
            'status',
            'Status',
            f.status,
            Object.keys(nodeStatusTone).map((k) => [k, k] as const),
          ),
          html`<input type="hidden" name="step" value="${f.step}" />`,
        ])}
        <table class="grid" id="rollout-nodes">
          ${columnHeads('Node', 'Step', 'Status', 'From', 'Last set', "Gate's reason", 'Online')}
          <tbody>
            ${
              paged.items.length === 0
                ? emptyRow(7, 'No node matches.')
                : paged.items.map(([nid, n]) => {
                    const view = ix.node(nid);
                    return html`<tr>
                      <th scope="row">
                        <a href="${href(['nodes', nid])}">${view?.hostname || nid}</a>
                        <span class="muted small mono">${nid}</span>
                      </th>
                      <td>${s.steps[n.step]?.name ?? n.step}</td>
                      <td>${badge(n.status, nodeStatusTone[n.status])}</td>
                      <td>${r.spec.fromVersions[nid] ?? html`<span class="muted">none</span>`}</td>
                      <td>
                        ${n.lastSet ? html`${n.lastSet.version ?? 'removed'} <span class="muted small">(${n.lastSet.reason}, ${timeAt(n.lastSet.at)})</span>` : html`<span class="muted">—</span>`}
                      </td>
                      <td class="small">${n.reason ?? ''}</td>
                      <td>
                        ${n.observation ? (n.observation.online ? 'yes' : badge('no', 'warn')) : html`<span class="muted">—</span>`}
                      </td>
                    </tr>`;
                  })
            }
          </tbody>
        </table>
        ${pager(['rollouts', id], q, paged)}
      </section>

      <section aria-labelledby="h-log">
        <h2 id="h-log">Log</h2>
        <table class="grid events">
          ${columnHeads('When', 'What', 'Message')}
          <tbody>
            ${[...s.log].reverse().map(
              (e) =>
                html`<tr>
                  <td>${timeAt(e.at)}</td>
                  <td>${e.kind}</td>
                  <td class="small">${e.message}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>
    </div>`;
  return page(v, { title: `Rollout ${id}`, section: 'rollouts', topics: [`rollout:${id}`], body });
}
