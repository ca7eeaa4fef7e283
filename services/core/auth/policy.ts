/**
 * Authorisation policy: the ONE place that decides who may do what, and on which data.
 *
 * Routes declare an action (`allow('read')`); `decide` answers with the request's AccessScope, the
 * rows the caller may touch, or refuses. The scope is applied in SQL by the index (QIDO results
 * are filtered in the query, WADO lookups of anything outside it find nothing and answer 404), so
 * no route checks roles or patients itself. README "Access control" shows this table.
 */
import { LucidaError } from '../errors.js';
import type { PatientRef, Principal, Role } from './principal.js';

export type Action =
  /** STOW-RS: store DICOM instances (or photographs as JSON + bulk data). */
  | 'store'
  /** QIDO-RS, WADO-RS (instances, metadata, frames, bulk data, rendered, thumbnails), WADO-URI. */
  | 'read'
  /** Capture API: submit photographs and follow their conversion. */
  | 'capture'
  /** The original uploads, kept unchanged for provenance. */
  | 'read-original'
  /** POST /api/launch: an EPR asks for a one-time viewer launch URL for a patient or study. */
  | 'launch'
  /** IHE IID Invoke Image Display: a signed-in user opens the viewer on a patient or study. */
  | 'invoke-image-display'
  /** GET /api/audit: search and export the audit trail. */
  | 'audit'
  /** Calibrate a photograph and record measurements on it (the viewer's annotations). */
  | 'annotate';

export const ACTIONS: readonly Action[] = ['store', 'read', 'capture', 'read-original', 'launch', 'invoke-image-display', 'audit', 'annotate'];

/** What each role may do. `read` by a photographer is narrowed by PHOTOGRAPHER_READ below. */
export const POLICY: Record<Action, readonly Role[]> = {
  store: ['photographer', 'epr', 'admin'],
  read: ['clinician', 'epr', 'photographer', 'admin'],
  capture: ['photographer', 'admin'],
  'read-original': ['admin'],
  launch: ['epr'],
  'invoke-image-display': ['clinician', 'admin'],
  audit: ['admin'],
  annotate: ['clinician', 'admin'],
};

/**
 * Actions a patient-context token may use, limited to its patient. The rest (launching viewers,
 * the audit trail, original uploads) need a token that is not tied to one patient.
 */
const PATIENT_CONTEXT_ACTIONS: ReadonlySet<Action> = new Set(['store', 'read', 'capture', 'annotate']);

/** The roles that read without restriction; a photographer alone reads only their own work of today. */
const UNRESTRICTED_READERS: readonly Role[] = ['clinician', 'epr', 'admin'];

/**
 * The data a request may touch. Every member narrows (they combine with AND); `{}` is everything
 * the action reaches.
 */
export interface AccessScope {
  /** Only this patient's studies (a patient-context token). Without an issuer, any issuer's PatientID. */
  patient?: PatientRef;
  /** Only instances this subject stored since this instant (a photographer checking today's work). */
  storedBy?: { subject: string; since: Date };
}

/**
 * May `principal` do `action`, and on what? Throws FORBIDDEN (403) when the role may not do it at
 * all; otherwise returns the scope its data requests are limited to.
 */
export function decide(principal: Principal, action: Action, now: Date = new Date()): AccessScope {
  const allowed = principal.roles.filter((r) => POLICY[action].includes(r));
  if (allowed.length === 0) {
    const teachingOnly = principal.roles.length > 0 && principal.roles.every((r) => r === 'teaching');
    throw new LucidaError('FORBIDDEN', teachingOnly
      ? 'teaching access is limited to de-identified teaching collections, which this archive does not offer yet'
      : `action '${action}' needs one of the roles: ${POLICY[action].join(', ')}`);
  }
  if (principal.patient && !PATIENT_CONTEXT_ACTIONS.has(action)) {
    throw new LucidaError('FORBIDDEN', `a token limited to one patient may not use '${action}'`);
  }
  const scope: AccessScope = {};
  if (principal.patient) scope.patient = principal.patient;
  if (action === 'read' && !allowed.some((r) => UNRESTRICTED_READERS.includes(r))) {
    scope.storedBy = { subject: principal.subject, since: startOfDay(now) };
  }
  return scope;
}

/**
 * Writes (capture, STOW) name their patient: a patient-context token may only write for its own
 * patient. The patient is the caller's own input, so the refusal may say so (403, not 404).
 */
export function assertPatientInScope(scope: AccessScope, patient: PatientRef): void {
  if (!inPatientScope(scope, patient)) {
    throw new LucidaError('OUT_OF_PATIENT_CONTEXT', 'this token is limited to one patient; the data names another');
  }
}

export function inPatientScope(scope: AccessScope, patient: PatientRef): boolean {
  if (!scope.patient) return true;
  if (scope.patient.id !== patient.id) return false;
  return scope.patient.issuer === undefined || scope.patient.issuer === (patient.issuer ?? '');
}

/** Local midnight (the server's time zone, TZ): "today" for a photographer's own captures. */
function startOfDay(now: Date): Date {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d;
}
