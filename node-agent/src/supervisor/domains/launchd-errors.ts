/**
 * launchd's error codes for domain operations (docs/launchd-semantics.md §5.3): POSIX errnos
 * (macOS numbering, as launchctl prints them) and the XPC codes >= 107. Domain operations return
 * these as values; the CLI prints `<Verb> failed: <code>: <string>` and exits with the code.
 */
import type { Result } from '@launchfleet/shared/errors';

export const LaunchdCode = {
  /** ESRCH "No such process": bootout of an unknown service, kill/stop of a job with no process. */
  ESRCH: 3,
  /** EIO "Input/output error": launchctl's catch-all (bootout by path of an unloaded plist). */
  EIO: 5,
  /** EINVAL: a malformed request (unknown signal name). */
  EINVAL: 22,
  /**
   * EALREADY "Operation already in progress": bootstrapping a label already loaded. §7 D6: macOS
   * 15.7.5 says 5, E1 says 37 "service already bootstrapped"; we return 37 because it says what
   * happened (5 means anything).
   */
  ALREADY_LOADED: 37,
  INVALID_PATH: 108,
  INVALID_PLIST: 109,
  INVALID_LABEL: 110,
  INVALID_PROGRAM: 111,
  NO_DOMAIN: 112,
  NO_SERVICE: 113,
  /**
   * "Service is disabled". §7 D7: launchd versions answer a bootstrap of a disabled label with 119,
   * with 5, or with success-but-not-started; we refuse with 119, the code launchd logs in all of them.
   */
  DISABLED: 119,
  BAD_PERMISSIONS: 122,
  DOMAIN_TEARING_DOWN: 124,
  UNSUPPORTED: 125,
  MULTIPLE_ERRORS: 133,
  SESSION_MISMATCH: 134,
} as const;

export type LaunchdCodeValue = (typeof LaunchdCode)[keyof typeof LaunchdCode];

/** launchctl's strings for the codes (`launchctl error <code>`). */
export const LAUNCHD_ERROR_STRINGS: Readonly<Record<number, string>> = {
  3: 'No such process',
  5: 'Input/output error',
  22: 'Invalid argument',
  37: 'Operation already in progress',
  108: 'Invalid path',
  109: 'Invalid property list',
  110: 'Invalid or missing service identifier',
  111: 'Invalid or missing Program/ProgramArguments',
  112: 'Could not find specified domain',
  113: 'Could not find specified service',
  119: 'Service is disabled',
  122: 'Path had bad ownership/permissions',
  124: 'Domain is tearing down',
  125: 'Domain does not support specified action',
  133: 'Multiple errors were returned; see stderr',
  134: 'Service cannot load in requested session',
};

/** A failed domain operation: the code, launchd's string, and our specific message. */
export interface LaunchdFailure {
  readonly code: number;
  /** launchd's string for the code. */
  readonly error: string;
  /** What exactly went wrong ("Dubious permissions on file (skipping)"). */
  readonly message: string;
  readonly path?: string;
  readonly label?: string;
}

export type LaunchdResult<T = void> = Result<T, LaunchdFailure>;

export function failure(
  code: number,
  message: string,
  where: { path?: string; label?: string } = {},
): LaunchdFailure {
  return { code, error: LAUNCHD_ERROR_STRINGS[code] ?? 'Unknown error', message, ...where };
}

export function fail<T = void>(
  code: number,
  message: string,
  where: { path?: string; label?: string } = {},
): LaunchdResult<T> {
  return { ok: false, error: failure(code, message, where) };
}
