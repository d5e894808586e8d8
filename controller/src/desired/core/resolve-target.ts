/**
 * From an API target to node ids, over the nodes the controller knows (pure).
 *
 * - `nodes`: each name is a node id or a hostname; an unknown name, a hostname that more than
 *   one node has, or a revoked node is an error that names it (an apply never silently goes to
 *   fewer nodes than the operator listed).
 * - `selector`: every registered, non-revoked node whose labels match.
 * - `all`: every registered, non-revoked node.
 * The result is sorted and free of duplicates.
 */
import { type Result, ok, err } from '@launchfleet/shared';
import { isNodeId } from '@launchfleet/shared/messages';
import type { TargetSpec } from '../job-record.ts';
import { matchesSelector, parseSelector } from './selector.ts';

/** What target resolution needs to know about a node. */
export interface TargetCandidate {
  readonly nodeId: string;
  readonly hostname: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly registered: boolean;
  readonly revoked: boolean;
}

/** Resolves `target`; the normalised target (selector text) comes back with the ids. */
export function resolveTarget(
  target: TargetSpec,
  nodes: Iterable<TargetCandidate>,
): Result<{ target: TargetSpec; nodeIds: string[] }> {
  const eligible = [...nodes].filter((n) => n.registered && !n.revoked);
  switch (target.kind) {
    case 'all':
      return ok({ target, nodeIds: eligible.map((n) => n.nodeId).sort() });
    case 'selector': {
      const s = parseSelector(target.selector);
      if (!s.ok) return err(`selector: ${s.error}`);
      return ok({
        target: { kind: 'selector', selector: s.value.text },
        nodeIds: eligible
          .filter((n) => matchesSelector(s.value, n.labels))
          .map((n) => n.nodeId)
          .sort(),
      });
    }
    case 'nodes': {
      if (target.names.length === 0) return err('no nodes named');
      if (target.names.length > 100_000) return err('more than 100,000 nodes named');
      const all = [...nodes];
      const byId = new Map(all.map((n) => [n.nodeId, n]));
      const byHost = new Map<string, TargetCandidate[]>();
      for (const n of all) {
        const list = byHost.get(n.hostname) ?? [];
        list.push(n);
        byHost.set(n.hostname, list);
      }
      const ids = new Set<string>();
      const problems: string[] = [];
      for (const name of target.names) {
        const n = isNodeId(name) ? byId.get(name) : undefined;
        const hosts = n ? [n] : (byHost.get(name) ?? []);
        if (hosts.length === 0) problems.push(`unknown node ${JSON.stringify(name.slice(0, 253))}`);
        else if (hosts.length > 1)
          problems.push(`hostname ${name} is ambiguous (${hosts.length} nodes): use node ids`);
        else {
          const h = hosts[0] as TargetCandidate;
          if (!h.registered) problems.push(`node ${name} is not enrolled`);
          else if (h.revoked) problems.push(`node ${name} is revoked`);
          else ids.add(h.nodeId);
        }
        if (problems.length >= 5) break;
      }
      if (problems.length > 0) return err(problems.join('; '));
      return ok({ target, nodeIds: [...ids].sort() });
    }
    default: {
      const never: never = target;
      return never;
    }
  }
}
