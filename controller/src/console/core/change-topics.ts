/**
 * Which console pages a change concerns, as topics (pure). A page names the topics that
 * refresh it (`data-topics`, views/layout.ts); the live feed sends the topics of what changed:
 *
 *   fleet           overview cards, node list: a node's health, presence or problems changed
 *   jobs            jobs list: a label's states changed somewhere
 *   job:<label>     that job's page
 *   node:<id>       that node's page
 *   rollouts        rollout lists (and the overview's rollout table)
 *   rollout:<id>    that rollout's page
 *   alerts          the overview's alert table
 */
import type { JobStateReport } from '@launchfleet/shared/job';
import type { NodeStatus } from '@launchfleet/shared/messages';

const stateWords = (s: JobStateReport | undefined): string | undefined =>
  s && `${s.subState} ${s.active} ${s.result}`;

/** Topics of a node status replacing `before` with `after`; `problemsChanged` comes from the index. */
export function statusTopics(
  nodeId: string,
  before: NodeStatus | undefined,
  after: NodeStatus | undefined,
  problemsChanged: boolean,
): string[] {
  const out = [`node:${nodeId}`];
  const labels = new Set([...Object.keys(before?.jobs ?? {}), ...Object.keys(after?.jobs ?? {})]);
  let jobs = false;
  for (const l of labels) {
    const a = stateWords(before?.jobs[l]);
    const b = stateWords(after?.jobs[l]);
    const da = before?.details?.[l];
    const db = after?.details?.[l];
    if (
      a !== b ||
      before?.versions[l] !== after?.versions[l] ||
      (da === undefined) !== (db === undefined) ||
      (da && db && JSON.stringify(da) !== JSON.stringify(db))
    ) {
      out.push(`job:${l}`);
      if (a !== b) jobs = true;
    }
  }
  if (jobs) out.push('jobs');
  if (problemsChanged || before?.health !== after?.health || (before === undefined) !== (after === undefined))
    out.push('fleet');
  return out;
}

/** A node's problems as one comparable string (label=problem, sorted). */
export function problemFingerprint(entries: Iterable<readonly [string, string]>): string {
  return [...entries]
    .map(([l, p]) => `${l}=${p}`)
    .sort()
    .join('\n');
}

/** What the feed sends for a batch: the topics, or `*` (refresh everything) past `max`. */
export function batchTopics(pending: ReadonlySet<string>, max: number): string[] {
  return pending.size > max ? ['*'] : [...pending].sort();
}
