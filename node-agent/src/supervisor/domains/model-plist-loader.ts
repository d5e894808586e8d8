/**
 * The real PlistLoader: the shared plist model's parser (XML and binary plists; JSON only when
 * allowed, since launchd reads no JSON) and `normalizeJob`. Parse errors become one error issue;
 * the model's validation issues pass through unchanged (their `code` picks launchd's error code
 * in Domain: labels 110, Program 111, anything else 109).
 */
import { normalizeJob } from '@launchfleet/shared/job';
import { parsePlist, formatParseError } from '@launchfleet/shared/plist';
import type { PlistLoader } from './plist-loader.ts';

export function modelPlistLoader(opts: { readonly allowJson?: boolean } = {}): PlistLoader {
  return (bytes, ctx) => {
    const parsed = parsePlist(bytes);
    if (!parsed.ok)
      return {
        issues: [
          {
            severity: 'error',
            keyPath: '',
            code: parsed.error.code,
            message: formatParseError(parsed.error),
          },
        ],
      };
    if (parsed.value.format === 'json' && opts.allowJson !== true)
      return {
        issues: [
          {
            severity: 'error',
            keyPath: '',
            code: 'not-launchd-format',
            message: 'JSON is not a property-list format launchd reads',
          },
        ],
      };
    return normalizeJob(parsed.value.value, { domain: ctx.domain, fileName: ctx.path });
  };
}
