/**
 * API roles and what each gRPC method needs. Roles are ordered: a higher role may do all a
 * lower one may. Pure; the one table every handler is checked against.
 */

/** A caller's role. */
export type Role = 'viewer' | 'operator' | 'admin';

export const roles: readonly Role[] = ['viewer', 'operator', 'admin'];

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

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
} as const satisfies Record<string, { role: Role; audited: boolean }>;

export type FleetMethod = keyof typeof methodPolicy;

/** True when `role` may call `method`. */
export function allows(role: Role, method: FleetMethod): boolean {
  return rank[role] >= rank[methodPolicy[method].role];
}

export function isRole(s: unknown): s is Role {
  return s === 'viewer' || s === 'operator' || s === 'admin';
}
