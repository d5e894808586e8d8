/**
 * The console's pages: each GET path, the gRPC read method whose rule governs it (roles.ts),
 * and how its model is built from the fleet index, job records, the rollout cache, the alert
 * evaluator and the event ring. Pure rendering lives in views/; this file gathers the data.
 */
import { InvalidArgumentError, NotFoundError } from '@launchfleet/shared';
import { isNodeId } from '@launchfleet/shared/messages';
import type { MethodRule } from '../auth/core/roles.ts';
import { methodPolicy, rolloutMethodPolicy } from '../auth/core/roles.ts';
import { parseSelector, type Selector } from '../desired/core/selector.ts';
import type { JobRecord } from '../desired/job-record.ts';
import type { FleetIndex } from '../fleet/core/fleet-index.ts';
import type { AlertInstance } from '../alerts/core/alert-evaluator.ts';
import type { RolloutRecord } from '../rollout/rollout-store.ts';
import { currentRollouts } from '../rollout/rollout-metrics.ts';
import type { EventRing } from './core/event-ring.ts';
import type { SafeHtml } from './core/html.ts';
import { param, parsePage } from './core/query.ts';
import type { Viewer } from './views/layout.ts';
import { overviewModel, overviewPage } from './views/overview-page.ts';
import { jobsListModel, jobsListPage } from './views/jobs-list-page.ts';
import { jobPage, jobPageModel, missingState } from './views/job-page.ts';
import { isActiveState, isJobSubState } from '@launchfleet/shared/job';
import { nodePage, nodePageModel, nodesListModel, nodesListPage } from './views/nodes-pages.ts';
import { rolloutPage, rolloutsListModel, rolloutsListPage } from './views/rollouts-pages.ts';
import { paginate } from './core/query.ts';

/** What pages read. */
export interface ConsoleData {
  readonly index: FleetIndex;
  now(): number;
  /** Job records (cached for a moment: a live page refreshes every second or so). */
  jobRecords(): Promise<readonly JobRecord[]>;
  jobRecord(label: string): Promise<JobRecord | undefined>;
  rollouts(): readonly RolloutRecord[];
  rollout(id: string): RolloutRecord | undefined;
  alerts(): readonly AlertInstance[];
  readonly events: EventRing;
}

/** A page: the read method it stands for (its rule and audit), and its renderer. */
export interface PageRoute {
  readonly method: string;
  readonly rule: MethodRule;
  /** What the audit entry names (a rollout id), when the method is audited. */
  readonly target: string;
  readonly render: (
    v: Viewer,
    d: ConsoleData,
    q: URLSearchParams,
    canOperate: (m: string) => boolean,
  ) => Promise<SafeHtml>;
}

const done: Readonly<Record<string, string>> = {
  started: 'Rollout started.',
  pause: 'Pause requested.',
  resume: 'Resume requested.',
  abort: 'Abort requested: no more nodes will be updated.',
  rollback: 'Rollback requested.',
};

function selectorOf(text: string): { selector: Selector | undefined; error: string | undefined } {
  if (!text) return { selector: undefined, error: undefined };
  const r = parseSelector(text);
  return r.ok ? { selector: r.value, error: undefined } : { selector: undefined, error: r.error };
}

/** The route of a GET path, or undefined (404). Path segments arrive decoded. */
export function routeOf(segments: readonly string[]): PageRoute | undefined {
  const [a, b, ...rest] = segments;
  if (rest.length > 0) return undefined;
  if (a === undefined)
    return {
      method: 'JobHealth',
      rule: methodPolicy.JobHealth,
      target: '',
      render: (v, d) => {
        const now = d.now();
        const m = overviewModel({
          index: d.index,
          now,
          rollouts: currentRollouts(d.rollouts()),
          alerts: d.alerts(),
        });
        return Promise.resolve(overviewPage(v, m, now));
      },
    };
  if (a === 'jobs' && b === undefined)
    return {
      method: 'ListJobs',
      rule: methodPolicy.ListJobs,
      target: '',
      render: async (v, d, q) => {
        const f = { problem: param(q, 'problem', 32), q: param(q, 'q', 255) };
        const rows = jobsListModel(d.index, await d.jobRecords(), f);
        return jobsListPage(v, q, f, paginate(rows, parsePage(q)));
      },
    };
  if (a === 'jobs' && b !== undefined)
    return {
      method: 'JobHealth',
      rule: methodPolicy.JobHealth,
      target: b,
      render: async (v, d, q, can) => {
        if (b.length > 255) throw new InvalidArgumentError('a job label has at most 255 characters', 'label');
        const sel = selectorOf(param(q, 'sel', 1000));
        const sub = param(q, 'state', 32);
        const active = param(q, 'active', 32);
        const f = {
          // Only the typed words (or the ~missing pseudo-state) filter; anything else is ignored.
          state: isJobSubState(sub) || sub === missingState ? sub : '',
          active: isActiveState(active) ? active : '',
          problem: param(q, 'problem', 32),
          sel: param(q, 'sel', 1000),
          selector: sel.selector,
          node: param(q, 'node', 255),
          presence: param(q, 'presence', 16),
        };
        const record = await d.jobRecord(b);
        const now = d.now();
        const rollouts = d
          .rollouts()
          .filter((r) => r.spec.label === b)
          .sort((x, y) => y.createdAt - x.createdAt)
          .slice(0, 5);
        const m = jobPageModel(
          d.index,
          b,
          record,
          f,
          parsePage(q),
          now,
          rollouts,
          d.events.newest(30, (e) => e.label === b),
        );
        if (!record && m.reporting === 0 && m.rows.total === 0 && rollouts.length === 0)
          throw new NotFoundError('job', b);
        return jobPage(v, q, f, m, can('StartRollout'), sel.error);
      },
    };
  if (a === 'nodes' && b === undefined)
    return {
      method: 'ListNodes',
      rule: methodPolicy.ListNodes,
      target: '',
      render: (v, d, q) => {
        const sel = selectorOf(param(q, 'sel', 1000));
        const f = {
          presence: param(q, 'presence', 16),
          health: param(q, 'health', 16),
          sel: param(q, 'sel', 1000),
          selector: sel.selector,
          q: param(q, 'q', 255),
        };
        return Promise.resolve(
          nodesListPage(v, q, f, nodesListModel(d.index, f, parsePage(q), d.now()), sel.error),
        );
      },
    };
  if (a === 'nodes' && b !== undefined)
    return {
      method: 'DescribeNode',
      rule: methodPolicy.DescribeNode,
      target: b,
      render: async (v, d) => {
        const n = isNodeId(b) ? d.index.node(b) : undefined;
        if (!n) throw new NotFoundError('node', b.slice(0, 64));
        const desired = new Map<string, number>();
        for (const r of await d.jobRecords())
          if (!r.deleted && r.nodeIds.includes(n.nodeId)) desired.set(r.label, r.version);
        const events = d.events.newest(50, (e) => e.source === n.nodeId);
        return nodePage(v, nodePageModel(d.index, n, desired, d.now(), events));
      },
    };
  if (a === 'rollouts' && b === undefined)
    return {
      method: 'ListRollouts',
      rule: rolloutMethodPolicy.ListRollouts,
      target: '',
      render: (v, d, q) => {
        const f = { phase: param(q, 'phase', 32), label: param(q, 'label', 255) };
        return Promise.resolve(rolloutsListPage(v, q, f, rolloutsListModel(d.rollouts(), f, parsePage(q))));
      },
    };
  if (a === 'rollouts' && b !== undefined)
    return {
      method: 'GetRollout',
      rule: rolloutMethodPolicy.GetRollout,
      target: b.slice(0, 64),
      render: (v, d, q, can) => {
        const r = d.rollout(b);
        if (!r) throw new NotFoundError('rollout', b.slice(0, 64));
        const f = { step: param(q, 'step', 8), status: param(q, 'status', 32) };
        const did = done[param(q, 'did', 16)] ?? '';
        return Promise.resolve(rolloutPage(v, q, r, d.index, f, parsePage(q), can('PauseRollout'), did));
      },
    };
  return undefined;
}
