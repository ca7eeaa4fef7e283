/**
 * SQL for the audit trail (table audit_events, migration 008), run by ../postgres-audit.ts.
 * Pure builders: text and values only.
 */
import type { AuditOutcome, AuditQuery, StoredAuditEvent } from '../../audit/types.js';
import { Params, type SqlStatement } from './statement.js';

export interface AuditRow {
  id: string; at: Date; action: string; outcome: AuditOutcome; status: number; subject: string | null; roles: string[];
  client_id: string | null; on_behalf_of: string | null; ip: string | null; user_agent: string | null; request_id: string | null;
  method: string; route: string | null; patient_ids: string[]; study_uids: string[]; series_uids: string[];
  sop_instance_uids: string[]; query: Record<string, string | string[]> | null; detail: string | null; prev_hash: string; hash: string;
}

const COLUMNS = `id, at, action, outcome, status, subject, roles, client_id, on_behalf_of, ip, user_agent, request_id, method,
  route, patient_ids, study_uids, series_uids, sop_instance_uids, query, detail, prev_hash, hash`;

/**
 * The lock every writer of the chain holds until its transaction ends (two-key form: its own key
 * space, apart from the single-key locks taken elsewhere). Bytes of 'Luci' and 'Audt'.
 */
const AUDIT_CHAIN_LOCK = 'pg_advisory_xact_lock(1282761577, 1098212468)';

/** BEGIN and the chain's lock in one round trip (simple query protocol: no parameters, two statements). */
export const beginAndLockChainSql = `BEGIN; SELECT ${AUDIT_CHAIN_LOCK}`;

/** The newest row (id, hash), or none on an empty chain. */
export const auditChainHeadSql: SqlStatement = {
  name: 'audit-chain-head', text: 'SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1', values: [],
};

/**
 * One multi-row INSERT of chained rows. The batch travels as ONE jsonb parameter unpacked by
 * jsonb_to_recordset: a few hundred rows as thousands of scalar parameters cost the API process
 * and Postgres several times more CPU to encode, parse and plan than one JSON text does.
 * (JSON carries every normalised value exactly: audit/canonical.ts removes NUL and lone surrogates,
 * which jsonb refuses.)
 */
export function insertAuditRowsSql(rows: StoredAuditEvent[]): SqlStatement {
  const records = rows.map((r) => ({
    id: r.id, at: r.at.toISOString(), action: r.action, outcome: r.outcome, status: r.status, subject: r.subject ?? null,
    roles: r.roles ?? [], client_id: r.clientId ?? null, on_behalf_of: r.onBehalfOf ?? null, ip: r.ip ?? null,
    user_agent: r.userAgent ?? null, request_id: r.requestId ?? null, method: r.method, route: r.route ?? null,
    patient_ids: r.patientIds, study_uids: r.studyUIDs, series_uids: r.seriesUIDs, sop_instance_uids: r.sopInstanceUIDs,
    query: r.query ?? null, detail: r.detail ?? null, prev_hash: r.prevHash, hash: r.hash,
  }));
  return {
    name: 'audit-insert',
    text: `INSERT INTO audit_events (${COLUMNS})
           SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS r(
             id bigint, at timestamptz, action text, outcome text, status smallint, subject text, roles text[], client_id text,
             on_behalf_of text, ip text, user_agent text, request_id text, method text, route text, patient_ids text[],
             study_uids text[], series_uids text[], sop_instance_uids text[], query jsonb, detail text, prev_hash text, hash text)`,
    values: [JSON.stringify(records)],
  };
}

/** Rows matching the query, newest first, one more than the limit (so the caller knows there are more). */
export function searchAuditSql(q: AuditQuery): SqlStatement {
  const p = new Params();
  const where: string[] = [];
  if (q.patientId !== undefined) where.push(`patient_ids @> ${p.add([q.patientId], 'text[]')}`);
  if (q.studyUID !== undefined) where.push(`study_uids @> ${p.add([q.studyUID], 'text[]')}`);
  if (q.subject !== undefined) where.push(`subject = ${p.add(q.subject)}`);
  if (q.action !== undefined) where.push(`action = ${p.add(q.action)}`);
  if (q.outcome !== undefined) where.push(`outcome = ${p.add(q.outcome)}`);
  if (q.from) where.push(`at >= ${p.add(q.from.toISOString(), 'timestamptz')}`);
  if (q.to) where.push(`at <= ${p.add(q.to.toISOString(), 'timestamptz')}`);
  return {
    text: `SELECT ${COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY at DESC, id DESC LIMIT ${p.add(q.limit + 1, 'int')} OFFSET ${p.add(q.offset, 'int')}`,
    values: p.values,
  };
}

/** One page of the chain in order, after row `afterId` ('0' for the start). */
export function auditChainPageSql(afterId: string, pageSize: number): SqlStatement {
  return {
    name: 'audit-chain-page',
    text: `SELECT ${COLUMNS} FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`,
    values: [afterId, pageSize],
  };
}

export function auditEventFromRow(r: AuditRow): StoredAuditEvent {
  return {
    id: r.id, at: r.at, action: r.action, outcome: r.outcome, status: r.status,
    subject: r.subject ?? undefined, roles: r.roles, clientId: r.client_id ?? undefined, onBehalfOf: r.on_behalf_of ?? undefined,
    ip: r.ip ?? undefined, userAgent: r.user_agent ?? undefined, requestId: r.request_id ?? undefined, method: r.method,
    route: r.route ?? undefined, patientIds: r.patient_ids, studyUIDs: r.study_uids, seriesUIDs: r.series_uids,
    sopInstanceUIDs: r.sop_instance_uids, query: r.query ?? undefined, detail: r.detail ?? undefined,
    prevHash: r.prev_hash, hash: r.hash,
  };
}
