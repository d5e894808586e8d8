export * from './errors.ts';
export * from './time/clock.ts';
export type * from './job/job-spec.ts';
export * as messages from './messages/index.ts';
export * as signing from './signing/index.ts';
// The plist format layer and the launchd job model (parse, validate, normalise, serialise, lint).
export { parsePlist, detectPlistFormat, type ParsedPlist } from './plist/parse-plist.ts';
export { buildXmlPlist, buildBinaryPlist } from './plist/build-plist.ts';
export {
  formatParseError,
  type PlistFormat,
  type PlistParseError,
  type PlistParseErrorCode,
} from './plist/parse-error.ts';
export { defaultPlistLimits, type PlistParseOptions, type PlistLimits } from './plist/parse-options.ts';
export {
  makesInvalid,
  typeOrRangeCodes,
  type IssueCode,
  type IssueSeverity,
  type LaunchdReaction,
  type ValidationIssue,
} from './job/issue.ts';
export { launchdKeys, lookupKey, type KeySpec, type KeyKind } from './job/key-table.ts';
export { normalizeJob, type NormalizeResult } from './job/normalize-job.ts';
export type { JobContext } from './job/value-reader.ts';
export { validateJob } from './job/validate-job.ts';
export { serializeJob } from './job/serialize-job.ts';
export { loadImplications, type LoadImplications } from './job/load-implications.ts';
export {
  lintBytes,
  lintFile,
  formatLintHuman,
  lintJsonDocument,
  type LintOptions,
  type LintResult,
} from './job/lint.ts';
export {
  parseManifest,
  parseReasons,
  runConformance,
  runConformanceFromFiles,
  formatConformanceHuman,
  type ConformanceReport,
  type ConformanceRow,
  type ManifestRow,
} from './job/conformance.ts';
