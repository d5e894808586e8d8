/**
 * Checks a plist the API received before anything is signed: it must parse (XML, binary or
 * JSON), be a job launchd would load in the target domain, and name a label usable as a key.
 * Pure; returns the label or the problems as one readable message.
 */
import {
  type Result,
  ok,
  err,
  normalizeJob,
  parsePlist,
  formatParseError,
  type DomainKind,
} from '@launchfleet/shared';
import { checkLabel } from '@launchfleet/shared/messages';
import { domainTargetPattern, maxPlistChars } from '@launchfleet/shared/signing';

/** What a valid apply request carries on. */
export interface CheckedJob {
  readonly label: string;
  /** Warnings (launchd loads the job anyway), as `keyPath: message`. */
  readonly warnings: readonly string[];
}

/** Validates `plist` for `domain` (a domain target such as `system` or `gui/*`). */
export function checkJobPlist(plist: string, domain: string): Result<CheckedJob> {
  if (!domainTargetPattern.test(domain))
    return err(
      `domain ${JSON.stringify(domain.slice(0, 40))}: expected system, gui/<uid>, user/<uid>, gui/* or user/*`,
    );
  if (plist.length === 0) return err('plist is empty');
  if (plist.length > maxPlistChars) return err(`plist longer than ${maxPlistChars} characters`);
  const parsed = parsePlist(new TextEncoder().encode(plist));
  if (!parsed.ok) return err(`plist does not parse: ${formatParseError(parsed.error)}`);
  const kind = domain.split('/')[0] as DomainKind;
  const r = normalizeJob(parsed.value.value, { domain: kind });
  const errors = r.issues.filter((i) => i.severity === 'error');
  if (!r.spec || errors.length > 0)
    return err(
      `launchd would refuse this job: ${errors
        .slice(0, 5)
        .map((i) => `${i.keyPath || '(root)'}: ${i.message}`)
        .join('; ')}`,
    );
  const label = checkLabel(r.spec.label);
  if (!label.ok) return err(`Label: ${label.error}`);
  const warnings = r.issues
    .filter((i) => i.severity !== 'error')
    .map((i) => `${i.keyPath || '(root)'}: ${i.message}`);
  return ok({ label: label.value, warnings });
}
