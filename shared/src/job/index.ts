// The launchd job model as the other packages use it (`@launchfleet/shared/job`): the spec's
// types, the one job-state table and vocabulary, and normalisation of a parsed plist. Pure: no
// file reads (lint is `@launchfleet/shared/lint`) and no plist writer (that is the package index).
export type * from './job-spec.ts';
export * from './job-state.ts';
export { normalizeJob, type NormalizeResult } from './normalize-job.ts';
export type { JobContext } from './value-reader.ts';
