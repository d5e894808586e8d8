/**
 * `lfctl error <code>`: launchctl's strings for its exit codes (docs/launchd-semantics.md §5.3). Codes below
 * 107 are POSIX errnos in macOS numbering (launchctl prints them so; Linux numbers differ above 34);
 * 107 and up are the XPC codes of libxpc's table.
 */
import { LAUNCHD_ERROR_STRINGS } from '../supervisor/domains/launchd-errors.ts';

const POSIX: Readonly<Record<number, string>> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  4: 'Interrupted system call',
  5: 'Input/output error',
  6: 'Device not configured',
  7: 'Argument list too long',
  8: 'Exec format error',
  9: 'Bad file descriptor',
  10: 'No child processes',
  11: 'Resource deadlock avoided',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Resource busy',
  17: 'File exists',
  18: 'Cross-device link',
  19: 'Operation not supported by device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  23: 'Too many open files in system',
  24: 'Too many open files',
  25: 'Inappropriate ioctl for device',
  26: 'Text file busy',
  27: 'File too large',
  28: 'No space left on device',
  29: 'Illegal seek',
  30: 'Read-only file system',
  31: 'Too many links',
  32: 'Broken pipe',
  33: 'Numerical argument out of domain',
  34: 'Result too large',
  35: 'Resource temporarily unavailable',
  36: 'Operation now in progress',
  37: 'Operation already in progress',
  45: 'Operation not supported',
  48: 'Address already in use',
  60: 'Operation timed out',
  61: 'Connection refused',
  62: 'Too many levels of symbolic links',
  63: 'File name too long',
  66: 'Directory not empty',
  78: 'Function not implemented',
};

/**
 * The XPC codes (docs/launchd-semantics.md §5.3's table) the supervisor never answers itself; the ones it
 * does answer are read from its own table (LAUNCHD_ERROR_STRINGS), so the two cannot disagree.
 */
const XPC: Readonly<Record<number, string>> = {
  107: 'Malformed bundle',
  114: 'The specified username does not exist',
  115: 'The specified group does not exist',
  116: 'Routine not yet implemented',
  118: 'Bad response from server',
  120: 'Bad subsystem destination for request',
  121: 'Path not searched for services',
  123: 'Path is whitelisted for domain',
  126: 'Request type is no longer supported',
  127: 'The specified service did not ship with the operating system',
  135: 'Process is not managed',
  136: 'Action not allowed on singleton service',
  137: 'Service does not support the specified action',
  138: 'Service cannot be loaded on this hardware',
  139: 'Service cannot presently execute',
  140: 'Service name is reserved or invalid',
  144: 'Requestor lacks required entitlement',
  146: 'Domain is in on-demand-only mode',
  150: 'Operation not permitted while System Integrity Protection is engaged',
  159: 'Unknown error',
  161: 'Service cannot be launched because of BTM policy',
};

/** launchctl's string for a code, or undefined if it has none. */
export function errorString(code: number): string | undefined {
  return LAUNCHD_ERROR_STRINGS[code] ?? XPC[code] ?? POSIX[code];
}
