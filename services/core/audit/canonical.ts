/**
 * The audit trail's hash chain: how an event is cleaned before it is stored, and the canonical
 * serialisation its SHA-256 is computed over. Writer (index/postgres-audit.ts) and verifier use these
 * same functions, so a row verifies exactly when its stored fields are the ones that were hashed.
 *
 * Canonical form, version 1 (never change it: rows already written were hashed with it; a new form
 * needs a new version tag and a verifier that knows both). The UTF-8 bytes of the JSON text
 * (ECMAScript JSON.stringify, no whitespace) of this array:
 *
 *   ["lucida-audit-v1", id, at, action, outcome, status, subject, roles, clientId, onBehalfOf,
 *    ip, userAgent, requestId, method, route, patientIds, studyUIDs, seriesUIDs, sopInstanceUIDs,
 *    query, detail, prevHash]
 *
 * - id: the row's position in the chain as a decimal string ("1" for the first row);
 * - at: `Date.toISOString()` (UTC, milliseconds: "2026-11-24T09:30:00.123Z");
 * - status: a JSON number; absent optional text fields: null;
 * - roles and the four identifier lists: arrays of strings in stored order (possibly empty);
 * - query: null, or its entries as [key, value] pairs sorted by key (UTF-16 code unit order), each
 *   value a string or an array of strings;
 * - prevHash: the previous row's hash, or GENESIS_HASH for the first row.
 *
 * hash = lowercase hex SHA-256 of those bytes.
 */
import { hash } from 'node:crypto';
import { AUDIT_MAX_UIDS, type AuditEvent, type AuditOutcome, type StoredAuditEvent } from './types.js';

export const CANONICAL_VERSION = 'lucida-audit-v1';

/** What the first row's prev_hash holds: a fixed value, so the chain has a known start. */
export const GENESIS_HASH = '0'.repeat(64);

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['success', 'denied', 'not-found', 'failure'];

/** Longest kept text of each kind; longer values are cut (a log line is no place for a novel). */
const LIMITS = { short: 256, userAgent: 512, detail: 1024, queryKeys: 50, queryValues: 50, queryValue: 1024 } as const;

// A UTF-16 surrogate without its partner cannot be encoded as UTF-8: Postgres would store U+FFFD
// instead, and the stored row would no longer hash as it did when written.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// eslint-disable-next-line no-control-regex
const NUL_OR_SURROGATE = /[\u0000\uD800-\uDFFF]/;

/** Text as Postgres will store it: no NUL (text refuses it), no lone surrogates, at most `max` characters. */
export function storableText(s: string, max: number): string {
  // The common case (short plain text, every UID) costs one test: this runs for every request.
  if (s.length <= max && !NUL_OR_SURROGATE.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u0000/g, '').slice(0, max).replace(LONE_SURROGATE, '\uFFFD');
}

function optionalText(s: string | undefined, max: number): string | undefined {
  if (s === undefined || s === null) return undefined;
  const t = storableText(String(s), max);
  return t === '' ? undefined : t;
}

function textList(values: Iterable<string> | undefined, maxItems: number): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    if (out.length >= maxItems) break;
    const t = storableText(String(v), LIMITS.short);
    if (t !== '') out.push(t);
  }
  return out;
}

function cleanQuery(query: AuditEvent['query']): AuditEvent['query'] {
  if (!query) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(query).slice(0, LIMITS.queryKeys)) {
    const key = storableText(k, LIMITS.short);
    if (key === '' || key === '__proto__') continue;
    out[key] = Array.isArray(v)
      ? v.slice(0, LIMITS.queryValues).map((x) => storableText(String(x), LIMITS.queryValue))
      : storableText(String(v), LIMITS.queryValue);
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The event as it will be stored: text made storable and bounded, identifier lists capped at
 * AUDIT_MAX_UIDS, empty optional text dropped. The chain hashes this form, never the raw event.
 */
export function normalizeAuditEvent(e: AuditEvent): AuditEvent {
  const at = e.at instanceof Date && !Number.isNaN(e.at.getTime()) ? new Date(e.at.getTime()) : new Date();
  const status = Number.isInteger(e.status) && e.status >= 0 && e.status <= 999 ? e.status : 0;
  return {
    at,
    action: storableText(String(e.action ?? ''), 64) || 'unknown',
    outcome: AUDIT_OUTCOMES.includes(e.outcome) ? e.outcome : 'failure',
    status,
    subject: optionalText(e.subject, LIMITS.short),
    roles: textList(e.roles, 20),
    clientId: optionalText(e.clientId, LIMITS.short),
    onBehalfOf: optionalText(e.onBehalfOf, LIMITS.short),
    ip: optionalText(e.ip, 64),
    userAgent: optionalText(e.userAgent, LIMITS.userAgent),
    requestId: optionalText(e.requestId, 64),
    method: storableText(String(e.method ?? ''), 16) || 'UNKNOWN',
    route: optionalText(e.route, LIMITS.short),
    patientIds: textList(e.patientIds, AUDIT_MAX_UIDS),
    studyUIDs: textList(e.studyUIDs, AUDIT_MAX_UIDS),
    seriesUIDs: textList(e.seriesUIDs, AUDIT_MAX_UIDS),
    sopInstanceUIDs: textList(e.sopInstanceUIDs, AUDIT_MAX_UIDS),
    query: cleanQuery(e.query),
    detail: optionalText(e.detail, LIMITS.detail),
  };
}

/** The fields a row's hash covers: everything stored except the hash itself. */
export type HashedAuditRow = Omit<StoredAuditEvent, 'hash'>;

/** The canonical serialisation (see the top of this file) as a string; hashed as UTF-8. */
export function canonicalAuditForm(row: HashedAuditRow): string {
  const query = row.query
    ? Object.entries(row.query).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    : null;
  return JSON.stringify([
    CANONICAL_VERSION, row.id, row.at.toISOString(), row.action, row.outcome, row.status,
    row.subject ?? null, row.roles ?? [], row.clientId ?? null, row.onBehalfOf ?? null,
    row.ip ?? null, row.userAgent ?? null, row.requestId ?? null, row.method, row.route ?? null,
    row.patientIds, row.studyUIDs, row.seriesUIDs, row.sopInstanceUIDs,
    query, row.detail ?? null, row.prevHash,
  ]);
}

export function auditRowHash(row: HashedAuditRow): string {
  return hash('sha256', canonicalAuditForm(row), 'hex');
}

/**
 * Links normalised events onto the chain after the row (`lastId`, `lastHash`); `lastId` '0' and
 * GENESIS_HASH start a new chain. Returns the rows to insert, in order.
 */
export function chainAuditEvents(events: AuditEvent[], lastId: string, lastHash: string): StoredAuditEvent[] {
  let id = BigInt(lastId);
  let prevHash = lastHash;
  return events.map((e) => {
    id += 1n;
    // Field by field, not `{ ...e }`: spreading an object this wide costs V8 several µs per event.
    const row: StoredAuditEvent = {
      id: id.toString(), at: e.at, action: e.action, outcome: e.outcome, status: e.status, subject: e.subject, roles: e.roles,
      clientId: e.clientId, onBehalfOf: e.onBehalfOf, ip: e.ip, userAgent: e.userAgent, requestId: e.requestId, method: e.method,
      route: e.route, patientIds: e.patientIds, studyUIDs: e.studyUIDs, seriesUIDs: e.seriesUIDs, sopInstanceUIDs: e.sopInstanceUIDs,
      query: e.query, detail: e.detail, prevHash, hash: '',
    };
    row.hash = auditRowHash(row);
    prevHash = row.hash;
    return row;
  });
}
