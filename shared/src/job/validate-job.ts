/**
 * Validation only: the issues of `normalizeJob`, without keeping the spec. One implementation
 * for both, so a value that is reported as ignored is also the value the supervisor never sees.
 */
import type { ValidationIssue } from './issue.ts';
import type { PlistValue } from './job-spec.ts';
import { normalizeJob } from './normalize-job.ts';
import type { JobContext } from './value-reader.ts';

/** The issues of one job dictionary, errors and warnings, in the order found. */
export function validateJob(value: PlistValue, ctx: JobContext = {}): ValidationIssue[] {
  return [...normalizeJob(value, ctx).issues];
}
