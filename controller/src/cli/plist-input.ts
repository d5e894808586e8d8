/** The plist files `jobs apply` and `rollout start` read. */
import { readFile } from 'node:fs/promises';
import {
  buildXmlPlist,
  detectPlistFormat,
  formatParseError,
  messageOf,
  parsePlist,
} from '@launchfleet/shared';
import { CliError } from './api-command.ts';

/**
 * The plist as text for the API: XML and JSON as written; a binary plist (as macOS tools
 * save them) is converted to XML here, since the API carries text.
 */
export async function readPlistText(file: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${messageOf(e)}`);
  }
  if (detectPlistFormat(bytes) !== 'binary') return new TextDecoder().decode(bytes);
  const parsed = parsePlist(bytes);
  if (!parsed.ok) throw new CliError(`${file}: ${formatParseError(parsed.error)}`);
  return buildXmlPlist(parsed.value.value);
}
