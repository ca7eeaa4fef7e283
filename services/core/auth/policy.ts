/**
 * Authorisation policy: the one table of which role may do what. Routes declare an action;
 * nothing else in the codebase checks roles. (Patient-context scoping slots in here too.)
 */
import { LucidaError } from '../errors.js';
import type { Principal, Role } from './principal.js';

export type Action = 'store' | 'read' | 'capture' | 'read-original';

export const POLICY: Record<Action, readonly Role[]> = {
  store: ['photographer', 'epr', 'admin'],
  read: ['clinician', 'epr', 'photographer', 'admin'],
  /** Submit photographs through the capture API and follow their conversion. */
  capture: ['photographer', 'admin'],
  /** The original uploads, kept for provenance: information governance only. */
  'read-original': ['admin'],
};

export function authorize(principal: Principal, action: Action): void {
  if (!principal.roles.some((r) => POLICY[action].includes(r))) {
    throw new LucidaError('FORBIDDEN', `action '${action}' needs one of the roles: ${POLICY[action].join(', ')}`);
  }
}
