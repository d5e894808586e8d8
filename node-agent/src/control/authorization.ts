/**
 * Who may do what through the local control API (docs/launchd-semantics.md §3.1): "Anyone may read or query
 * the system domain, but root privileges are required to make modifications"; a user domain may be
 * modified by its user and by root; nobody touches another user's jobs.
 *
 * The caller's identity is the socket it connected to, which the kernel has already checked
 * against the socket file's owner and mode (control-server.ts): so a scope is authenticated by
 * construction and this module only decides what the scope allows.
 */
import type { DomainTarget } from '../supervisor/domains/domain-manager.ts';
import { READ_ONLY_METHODS, type ControlMethod } from './wire.ts';

/** The authority of one control socket. */
export type Scope =
  /** system.sock (0600, the agent's own user: root in production): everything. */
  | { readonly kind: 'owner'; readonly uid: number }
  /** user/<uid>.sock (0600, owned by uid): that uid's gui and user domains, and reads of system. */
  | { readonly kind: 'user'; readonly uid: number }
  /** public.sock (0666): reads of the system domain only. */
  | { readonly kind: 'public' };

/** EPERM as launchctl prints it. */
export const EPERM = 1;

/** The scope's name in replies and logs. */
export function scopeName(s: Scope): string {
  switch (s.kind) {
    case 'owner':
      return s.uid === 0 ? 'root' : `owner/${s.uid}`;
    case 'user':
      return `user/${s.uid}`;
    case 'public':
      return 'public';
    default: {
      const never: never = s;
      return String(never);
    }
  }
}

/**
 * Whether `scope` may call `method` on `domain` (undefined: a call that names no domain, such
 * as Version). Returns undefined when allowed, or the reason it is not.
 */
export function denyReason(
  scope: Scope,
  method: ControlMethod,
  domain: DomainTarget | undefined,
): string | undefined {
  if (scope.kind === 'owner') return undefined;
  const readOnly = READ_ONLY_METHODS.has(method);
  if (domain === undefined) return readOnly ? undefined : 'this request needs a domain';
  if (domain.kind === 'system')
    return readOnly ? undefined : 'root privileges are required to modify the system domain';
  if (scope.kind === 'user' && domain.uid === scope.uid) return undefined;
  return scope.kind === 'user'
    ? `uid ${scope.uid} may not act on the domains of uid ${domain.uid}`
    : `this socket only reads the system domain`;
}
