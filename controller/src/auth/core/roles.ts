/**
 * API roles and what each gRPC method needs. Roles are ordered: a higher role may do all a
 * lower one may. Pure; the one table every handler is checked against.
 */

/** A caller's role. */
export type Role = 'viewer' | 'operator' | 'admin';

export const roles: readonly Role[] = ['viewer', 'operator', 'admin'];

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** What a gRPC method needs: the least role, and whether each call goes to the audit stream. */
export interface MethodRule {
  readonly role: Role;
  readonly audited: boolean;
}

/** The FleetService methods and the least role each needs; `audited` methods change state. */
export const methodPolicy = {
  ApplyJob: { role: 'operator', audited: true },
  DeleteJob: { role: 'operator', audited: true },
  ListJobs: { role: 'viewer', audited: false },
  GetJob: { role: 'viewer', audited: false },
  ListNodes: { role: 'viewer', audited: false },
  DescribeNode: { role: 'viewer', audited: false },
  JobHealth: { role: 'viewer', audited: false },
  WatchEvents: { role: 'viewer', audited: false },
  CreateEnrollmentToken: { role: 'admin', audited: true },
  RevokeNode: { role: 'admin', audited: true },
  ListAuditEntries: { role: 'admin', audited: false },
} as const satisfies Record<string, MethodRule>;

export type FleetMethod = keyof typeof methodPolicy;

/**
 * The RolloutService methods. Every call is audited, reads too: a rollout is a change in
 * progress, and who looked at it when is part of its story.
 */
export const rolloutMethodPolicy = {
  StartRollout: { role: 'operator', audited: true },
  GetRollout: { role: 'viewer', audited: true },
  ListRollouts: { role: 'viewer', audited: true },
  PauseRollout: { role: 'operator', audited: true },
  ResumeRollout: { role: 'operator', audited: true },
  AbortRollout: { role: 'operator', audited: true },
  RollbackRollout: { role: 'operator', audited: true },
  WatchRollout: { role: 'viewer', audited: true },
} as const satisfies Record<string, MethodRule>;

export type RolloutMethod = keyof typeof rolloutMethodPolicy;

/**
 * What the web console adds of its own (controller/src/console): signing in and out are
 * audited like API changes. Its pages and actions are judged by the gRPC rules above: a page
 * by the read method it stands for, a button by the method it calls.
 */
export const consoleMethodPolicy = {
  ConsoleSignIn: { role: 'viewer', audited: true },
  ConsoleSignOut: { role: 'viewer', audited: true },
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
