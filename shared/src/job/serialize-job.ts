/**
 * Back to an XML plist. The source of truth is `raw`, the dictionary exactly as parsed, so every
 * key survives, known or unknown, with its original spelling: normalisation only reads.
 */
import { buildXmlPlist } from '../plist/build-plist.ts';
import type { JobSpec, PlistDict } from './job-spec.ts';

/** Serialises a JobSpec (through its `raw` dictionary) or a plain dictionary to XML plist text. */
export function serializeJob(job: JobSpec | PlistDict): string {
  return buildXmlPlist(isJobSpec(job) ? job.raw : job);
}

/** A JobSpec holds Maps, which no plist dictionary can contain: that tells them apart. */
function isJobSpec(v: JobSpec | PlistDict): v is JobSpec {
  return (v as { environmentVariables?: unknown }).environmentVariables instanceof Map;
}
