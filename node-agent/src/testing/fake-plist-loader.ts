/**
 * A PlistLoader for unit tests: the "plist" is JSON `{ "label": ..., ...JobSpecInput }` turned
 * into a JobSpec by the builder. Missing label or program give the issues the real model gives.
 */
import type { PlistLoader } from '../supervisor/domains/plist-loader.ts';
import { jobSpec, type JobSpecInput } from './job-spec-builder.ts';

export const fakePlistLoader: PlistLoader = (bytes) => {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {
      issues: [{ severity: 'error', keyPath: '', message: 'not a property list', code: 'not-a-dictionary' }],
    };
  }
  if (typeof doc !== 'object' || doc === null)
    return { issues: [{ severity: 'error', keyPath: '', message: 'not a dictionary' }] };
  const { label, noProgram, ...rest } = doc as { label?: unknown; noProgram?: boolean } & JobSpecInput;
  if (typeof label !== 'string' || label === '')
    return {
      issues: [{ severity: 'error', keyPath: 'Label', message: 'missing Label', code: 'missing-label' }],
    };
  if (noProgram)
    return {
      issues: [
        {
          severity: 'error',
          keyPath: 'ProgramArguments',
          message: 'neither Program nor ProgramArguments',
          code: 'missing-program',
        },
      ],
    };
  return { spec: jobSpec(label, rest), issues: [] };
};

/** The bytes of a fake plist for `fakePlistLoader`. */
export function fakePlist(label: string, input: JobSpecInput & { noProgram?: boolean } = {}): string {
  return JSON.stringify({ label, ...input });
}
