/**
 * Who may do what: each action of the operator API and the least role that may call it. Roles are ordered:
 * a viewer reads, an operator also replays and re-drives, an admin also manages tokens. The action names are
 * also the `action` of audit records.
 */
import type { Role } from '../api';

export const ACTIONS = {
  'jobs.failed': 'viewer',
  'jobs.replay': 'operator',
  'dead-letters.list': 'viewer',
  'dead-letters.show': 'viewer',
  'dead-letters.redrive': 'operator',
  'topics.replay': 'operator',
  'users.explain': 'viewer',
  'audit.list': 'viewer',
  'metrics.read': 'viewer',
  'tokens.list': 'admin',
  'tokens.create': 'admin',
  'tokens.revoke': 'admin',
} as const satisfies Record<string, Role>;

export type Action = keyof typeof ACTIONS;

export const ROLES = ['viewer', 'operator', 'admin'] as const satisfies readonly Role[];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether a token of `role` may call `action`. */
export function mayCall(role: Role, action: Action): boolean {
  return RANK[role] >= RANK[ACTIONS[action]];
}
