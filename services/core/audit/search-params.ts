/**
 * GET /api/audit's query string -> a typed AuditQuery and an export format. Strict: an unknown,
 * repeated or malformed parameter is INVALID_QUERY (400), never ignored, so an officer's search
 * always means what it says.
 *
 *   patient  PatientID (an NHS number may be typed with spaces)   user     token subject
 *   action   one of AUDIT_ACTIONS                                   outcome  success | denied | not-found | failure
 *   study    Study Instance UID                                    from, to ISO 8601 (inclusive); a date alone is the whole day (UTC)
 *   limit    1..1000 (default 100)                                 offset   0..1000000 (default 0)
 *   format   json (default) | fhir | dicom
 */
import { ACTIONS } from '../auth/policy.js';
import { isValidNhsNumber, normalizeNhsNumber } from '../capture/nhs-number.js';
import { LucidaError } from '../errors.js';
import { AUDIT_OUTCOMES } from './canonical.js';
import type { AuditOutcome, AuditQuery } from './types.js';

/** Actions events are recorded under: the policy's, and those of requests refused or served without one. */
export const AUDIT_ACTIONS: readonly string[] = [
  ...ACTIONS, 'authenticate', 'rate-limit', 'launch-exchange', 'session-refresh', 'session-end', 'audit-overflow',
];
export const AUDIT_FORMATS = ['json', 'fhir', 'dicom'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;
const MAX_OFFSET = 1_000_000;

const PARAMS = new Set(['patient', 'user', 'action', 'outcome', 'study', 'from', 'to', 'limit', 'offset', 'format']);
const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;

const invalid = (detail: string) => new LucidaError('INVALID_QUERY', detail);

export function parseAuditSearch(params: Record<string, unknown>): { query: AuditQuery; format: AuditFormat } {
  const value: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (!PARAMS.has(k)) throw invalid(`unknown parameter "${k.slice(0, 40)}" (use ${[...PARAMS].join(', ')})`);
    if (typeof v !== 'string') throw invalid(`${k} may be given once`);
    if (v === '') throw invalid(`${k} is empty`);
    value[k] = v;
  }
  const query: AuditQuery = { limit: AUDIT_DEFAULT_LIMIT, offset: 0 };
  if (value.patient !== undefined) query.patientId = patientId(value.patient);
  if (value.user !== undefined) {
    if (value.user.length > 256) throw invalid('user is too long');
    query.subject = value.user;
  }
  if (value.action !== undefined) {
    if (!AUDIT_ACTIONS.includes(value.action)) throw invalid(`action must be one of ${AUDIT_ACTIONS.join(', ')}`);
    query.action = value.action;
  }
  if (value.outcome !== undefined) {
    if (!(AUDIT_OUTCOMES as readonly string[]).includes(value.outcome)) throw invalid(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
    query.outcome = value.outcome as AuditOutcome;
  }
  if (value.study !== undefined) {
    if (value.study.length > 64 || !UID.test(value.study)) throw invalid('study must be a Study Instance UID');
    query.studyUID = value.study;
  }
  if (value.from !== undefined) query.from = instant(value.from, 'from', 'start');
  if (value.to !== undefined) query.to = instant(value.to, 'to', 'end');
  if (query.from && query.to && query.from > query.to) throw invalid('from is after to');
  if (value.limit !== undefined) query.limit = integer(value.limit, 'limit', 1, AUDIT_MAX_LIMIT);
  if (value.offset !== undefined) query.offset = integer(value.offset, 'offset', 0, MAX_OFFSET);
  const format = (value.format ?? 'json') as AuditFormat;
  if (!AUDIT_FORMATS.includes(format)) throw invalid(`format must be one of ${AUDIT_FORMATS.join(', ')}`);
  return { query, format };
}

/** PatientID as stored: an NHS number typed with spaces or hyphens is stored as its ten digits. */
function patientId(raw: string): string {
  const id = raw.trim();
  if (id === '' || id.length > 64) throw invalid('patient must be a PatientID of 1 to 64 characters');
  const nhs = normalizeNhsNumber(id);
  return isValidNhsNumber(nhs) ? nhs : id;
}

function integer(raw: string, name: string, min: number, max: number): number {
  if (!/^\d{1,7}$/.test(raw)) throw invalid(`${name} must be a whole number from ${min} to ${max}`);
  const n = Number(raw);
  if (n < min || n > max) throw invalid(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * An ISO 8601 date-time with its offset (a time without one would mean different instants on
 * different servers), or a date alone: the start or the end of that day in UTC.
 */
function instant(raw: string, name: string, edge: 'start' | 'end'): Date {
  const d = DATE.exec(raw);
  const dt = d ? undefined : DATE_TIME.exec(raw);
  const m = d ?? dt;
  if (!m) throw invalid(`${name} must be an ISO 8601 date (2026-11-24) or date-time with offset (2026-11-24T09:30:00Z)`);
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) {
    throw invalid(`${name} is not a calendar date`);
  }
  if (d) return edge === 'start' ? calendar : new Date(calendar.getTime() + 86_400_000 - 1);
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (hour > 23 || minute > 59 || second > 59) throw invalid(`${name} has an invalid time`);
  const offset = m[8];
  if (offset !== 'Z' && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4, 6)) > 59)) throw invalid(`${name} has an invalid offset`);
  const at = new Date(raw);
  if (Number.isNaN(at.getTime())) throw invalid(`${name} is not a valid date-time`);
  return at;
}
