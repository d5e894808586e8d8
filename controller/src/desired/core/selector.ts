/**
 * Label selectors over node inventory labels, in the Kubernetes equality-based form:
 *
 * ```
 * selector    = requirement { "," requirement }
 * requirement = key "=" value | key "==" value | key "!=" value | key | "!" key
 * ```
 *
 * `k=v` the label is present with that value; `k!=v` it is absent or has another value (as in
 * Kubernetes); `k` the label is present; `!k` it is absent. Keys and values are
 * `[A-Za-z0-9._/-]`, at most 63 characters for values and 253 for keys; whitespace around
 * terms is ignored. An empty selector is refused: "every node" is said with an explicit `all`
 * target, never by accident.
 */
import { type Result, ok, err } from '@launchfleet/shared';

/** One requirement of a selector. */
export type Requirement =
  /** The label has exactly this value. */
  | { readonly op: 'eq'; readonly key: string; readonly value: string }
  /** The label is absent or has another value. */
  | { readonly op: 'ne'; readonly key: string; readonly value: string }
  /** The label is present (any value). */
  | { readonly op: 'exists'; readonly key: string }
  /** The label is absent. */
  | { readonly op: 'absent'; readonly key: string };

/** A parsed selector: every requirement must hold. */
export interface Selector {
  readonly requirements: readonly Requirement[];
  /** The selector as parsed, normalised (for records and audit). */
  readonly text: string;
}

const keyPattern = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;
const valuePattern = /^([A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?)?$/;
const maxRequirements = 32;

/** Parses a selector; every problem is a message naming the term. */
export function parseSelector(text: string): Result<Selector> {
  if (text.length > 4096) return err('selector longer than 4096 characters');
  const terms = text.split(',').map((t) => t.trim());
  if (terms.length === 1 && terms[0] === '') return err('empty selector (use the "all" target)');
  if (terms.length > maxRequirements) return err(`more than ${maxRequirements} requirements`);
  const requirements: Requirement[] = [];
  for (const term of terms) {
    const r = parseRequirement(term);
    if (!r.ok) return r;
    requirements.push(r.value);
  }
  return ok({ requirements, text: requirements.map(formatRequirement).join(',') });
}

function parseRequirement(term: string): Result<Requirement> {
  if (term === '') return err('empty term in selector (two commas in a row?)');
  const ne = term.indexOf('!=');
  if (ne >= 0) return pair(term, 'ne', term.slice(0, ne), term.slice(ne + 2));
  const eq2 = term.indexOf('==');
  if (eq2 >= 0) return pair(term, 'eq', term.slice(0, eq2), term.slice(eq2 + 2));
  const eq = term.indexOf('=');
  if (eq >= 0) return pair(term, 'eq', term.slice(0, eq), term.slice(eq + 1));
  if (term.startsWith('!')) {
    const key = term.slice(1).trim();
    return keyPattern.test(key) ? ok({ op: 'absent', key }) : err(`bad label key in "${term}"`);
  }
  return keyPattern.test(term) ? ok({ op: 'exists', key: term }) : err(`bad label key in "${term}"`);
}

function pair(term: string, op: 'eq' | 'ne', rawKey: string, rawValue: string): Result<Requirement> {
  const key = rawKey.trim();
  const value = rawValue.trim();
  if (!keyPattern.test(key)) return err(`bad label key in "${term}"`);
  if (value.includes('=') || value.includes('!')) return err(`bad operator in "${term}"`);
  if (!valuePattern.test(value)) return err(`bad label value in "${term}"`);
  return ok({ op, key, value });
}

function formatRequirement(r: Requirement): string {
  switch (r.op) {
    case 'eq':
      return `${r.key}=${r.value}`;
    case 'ne':
      return `${r.key}!=${r.value}`;
    case 'exists':
      return r.key;
    case 'absent':
      return `!${r.key}`;
    default: {
      const never: never = r;
      return never;
    }
  }
}

/** True when every requirement holds for `labels`. */
export function matchesSelector(s: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of s.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = has ? labels[r.key] : undefined;
    switch (r.op) {
      case 'eq':
        if (v !== r.value) return false;
        break;
      case 'ne':
        if (v === r.value) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'absent':
        if (has) return false;
        break;
      default: {
        const never: never = r;
        return never;
      }
    }
  }
  return true;
}
