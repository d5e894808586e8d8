/**
 * API roles and what each gRPC method needs. Roles are ordered: a higher role may do all a
 * lower one may. Pure; the one table every handler is checked against.
 */

/** A caller's role. */
export type Role = 'viewer' | 'operator' | 'admin';

export const roles: readonly Role[] = ['viewer', 'operator', 'admin'];

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * What a gRPC method needs: the least role, whether each call goes to the audit stream, and
 * whether it only reads (changes nothing: when the broker does not answer, the caller is told
 * nothing was changed, not that the change may or may not take effect; api/status.ts).
 */
export interface MethodRule {
  readonly role: Role;
  readonly audited: boolean;
  readonly reads: boolean;
}

/** The FleetService methods and the least role each needs; `audited` methods change state. */
export const methodPolicy = {
  ApplyJob: { role: 'operator', audited: true, reads: false },
  DeleteJob: { role: 'operator', audited: true, reads: false },
  ListJobs: { role: 'viewer', audited: false, reads: true },
  GetJob: { role: 'viewer', audited: false, reads: true },
  ListNodes: { role: 'viewer', audited: false, reads: true },
  DescribeNode: { role: 'viewer', audited: false, reads: true },
  JobHealth: { role: 'viewer', audited: false, reads: true },
  WatchEvents: { role: 'viewer', audited: false, reads: true },
  CreateEnrollmentToken: { role: 'admin', audited: true, reads: false },
  RevokeNode: { role: 'admin', audited: true, reads: false },
  ListAuditEntries: { role: 'admin', audited: false, reads: true },
} as const satisfies Record<string, MethodRule>;

export type FleetMethod = keyof typeof methodPolicy;

/**
 * The RolloutService methods. Every call is audited, reads too: a rollout is a change in
 * progress, and who looked at it when is part of its story.
 */
export const rolloutMethodPolicy = {
  StartRollout: { role: 'operator', audited: true, reads: false },
  GetRollout: { role: 'viewer', audited: true, reads: true },
  ListRollouts: { role: 'viewer', audited: true, reads: true },
  PauseRollout: { role: 'operator', audited: true, reads: false },
  ResumeRollout: { role: 'operator', audited: true, reads: false },
  AbortRollout: { role: 'operator', audited: true, reads: false },
  RollbackRollout: { role: 'operator', audited: true, reads: false },
  WatchRollout: { role: 'viewer', audited: true, reads: true },
} as const satisfies Record<string, MethodRule>;

export type RolloutMethod = keyof typeof rolloutMethodPolicy;

/**
 * What the web console adds of its own (controller/src/console): signing in and out are
 * audited like API changes. Its pages and actions are judged by the gRPC rules above: a page
 * by the read method it stands for, a button by the method it calls.
 */
export const consoleMethodPolicy = {
  ConsoleSignIn: { role: 'viewer', audited: true, reads: false },
  ConsoleSignOut: { role: 'viewer', audited: true, reads: false },
} as const satisfies Record<string, MethodRule>;

/** True when `role` is `least` or above it. */
export function atLeast(role: Role, least: Role): boolean {
  return rank[role] >= rank[least];
}

/** True when `role` may call `method`. */
export function allows(role: Role, method: FleetMethod): boolean {
  return atLeast(role, methodPolicy[method].role);
}

export function isRole(s: unknown): s is Role {
  return s === 'viewer' || s === 'operator' || s === 'admin';
}
