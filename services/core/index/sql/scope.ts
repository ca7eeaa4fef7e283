/**
 * The access scope (auth/policy.ts) as SQL: conditions every search and lookup adds, so what a
 * caller may not see is never read, counted or returned. `p` is the patients alias; instance
 * conditions are written for the alias the caller names (the listed instance, or the instances an
 * EXISTS or count subquery walks).
 */
import type { AccessScope } from '../../auth/policy.js';
import type { Params } from './statement.js';

/** Conditions on the patient row (alias `p`), or [] when the scope names no patient. */
export function patientScopeConditions(scope: AccessScope, params: Params): string[] {
  if (!scope.patient) return [];
  const where = [`p.patient_id = ${params.add(scope.patient.id)}`];
  if (scope.patient.issuer !== undefined) where.push(`p.issuer = ${params.add(scope.patient.issuer)}`);
  return where;
}

/**
 * Conditions on an instance row (alias `i`) beyond `status = 'stored'`, or [] for none. Values are
 * added once per call: call it once per alias and reuse the text.
 */
export function instanceScopeConditions(scope: AccessScope, params: Params, i: string): string[] {
  if (!scope.storedBy) return [];
  return [`${i}.stored_by = ${params.add(scope.storedBy.subject)}`, `${i}.received_at >= ${params.add(scope.storedBy.since, 'timestamptz')}`];
}

/** A short, stable name for the scope's shape (prepared statement names differ by shape). */
export function scopeShape(scope: AccessScope): string {
  return `${scope.patient ? (scope.patient.issuer !== undefined ? 'pi' : 'p') : ''}${scope.storedBy ? 'o' : ''}`;
}
