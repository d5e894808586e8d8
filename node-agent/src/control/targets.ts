/**
 * launchctl's target specifiers (docs/launchd-semantics.md §3.1): domain targets `system`, `gui/<uid>`,
 * `user/<uid>` and service targets `<domain>/<label>`. Labels cannot contain `/` (they name state files), so
 * the split is unambiguous.
 */
import { parseDomainTarget, type DomainTarget } from '../supervisor/domains/domain-manager.ts';

export interface ServiceTarget {
  /** 'system', 'gui/501', 'user/501'. */
  readonly domain: string;
  readonly domainTarget: DomainTarget;
  readonly label: string;
}

/** Parses `system/<label>`, `gui/<uid>/<label>`, `user/<uid>/<label>`; undefined if malformed. */
export function parseServiceTarget(text: string): ServiceTarget | undefined {
  const m = /^(system|(?:gui|user)\/\d{1,10})\/(.+)$/.exec(text);
  if (!m) return undefined;
  const domain = m[1]!;
  const label = m[2]!;
  const domainTarget = parseDomainTarget(domain);
  if (!domainTarget || label.includes('/')) return undefined;
  return { domain, domainTarget, label };
}

/** The canonical text of a domain target. */
export function domainName(t: DomainTarget): string {
  return t.kind === 'system' ? 'system' : `${t.kind}/${t.uid}`;
}

export { parseDomainTarget, type DomainTarget };
