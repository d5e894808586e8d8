// Reading plists (`@launchfleet/shared/plist`): XML, binary and JSON, with their parse errors and
// limits. The writer is not here: it loads the `plist` package (the package index has it).
export { parsePlist, detectPlistFormat, type ParsedPlist } from './parse-plist.ts';
export {
  formatParseError,
  type PlistFormat,
  type PlistParseError,
  type PlistParseErrorCode,
} from './parse-error.ts';
export { defaultPlistLimits, type PlistParseOptions, type PlistLimits } from './parse-options.ts';
