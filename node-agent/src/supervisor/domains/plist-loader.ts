/**
 * The seam between the domain manager and the plist model: bytes in, a JobSpec (or issues) out.
 * The real implementation wraps the shared package's parser and `normalizeJob`; tests pass a fake
 * that returns JobSpecs they built.
 */
import type { DomainKind, JobSpec } from '@launchfleet/shared/job';

export interface PlistLoadContext {
  /** The plist's path (for messages and the file-name check). */
  readonly path: string;
  readonly domain: DomainKind;
}

/** The part of a validation issue the manager uses (the plist model's ValidationIssue fits). */
export interface PlistIssue {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly keyPath: string;
  /** The model's stable issue code, when it has one ('missing-label', 'missing-program', ...). */
  readonly code?: string;
}

export type PlistLoader = (
  bytes: Uint8Array,
  ctx: PlistLoadContext,
) => { readonly spec?: JobSpec; readonly issues: readonly PlistIssue[] };
