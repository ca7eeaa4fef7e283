/** SQL for the instance rows of the two-phase store and for WADO-RS lookups. */
import type { AccessScope } from '../../auth/policy.js';
import type { InstanceFilter, PendingInstance } from '../port.js';
import { instanceScopeConditions, patientScopeConditions, scopeShape } from './scope.js';
import { processIsLive } from './liveness.js';
import { Params, type SqlStatement } from './statement.js';

/** Phase 1: claims the SOP Instance UID; returns one row (`pk`) only if this call inserted it. */
export function reservePendingSql(p: PendingInstance): SqlStatement {
  return {
    name: 'lucida-reserve-pending',
    text: `INSERT INTO instances (sop_uid, status, study_uid, series_uid, sop_class_uid, transfer_syntax_uid,
                                  object_key, size_bytes, sha256, stored_by, owner)
           VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (sop_uid) DO NOTHING
           RETURNING pk`,
    values: [p.sopInstanceUID, p.studyInstanceUID, p.seriesInstanceUID, p.sopClassUID, p.transferSyntaxUID,
      p.objectKey, p.sizeBytes, p.sha256, p.storedBy ?? null, p.owner ?? null],
  };
}

/**
 * The row that holds a SOP Instance UID, pending or stored; for a pending row, its owner process and
 * whether that process is alive (holds its lock: sql/liveness.ts).
 */
export function existingInstanceSql(sopInstanceUID: string): SqlStatement {
  return {
    text: `SELECT status, sha256, object_key, study_uid, series_uid, sop_class_uid, received_at, owner,
                  CASE WHEN status = 'pending' AND owner IS NOT NULL THEN ${processIsLive('owner')} END AS owner_alive
           FROM instances WHERE sop_uid = $1`,
    values: [sopInstanceUID],
  };
}

/** Points a still-pending row at a new object (a retry after a failed or crashed request). */
export function replacePendingSql(p: PendingInstance, previousObjectKey: string): SqlStatement {
  return {
    text: `UPDATE instances
           SET study_uid = $2, series_uid = $3, sop_class_uid = $4, transfer_syntax_uid = $5,
               object_key = $6, size_bytes = $7, sha256 = $8, stored_by = $10, owner = $11,
               received_at = now(), updated_at = now()
           WHERE sop_uid = $1 AND status = 'pending' AND object_key = $9
           RETURNING pk`,
    values: [p.sopInstanceUID, p.studyInstanceUID, p.seriesInstanceUID, p.sopClassUID, p.transferSyntaxUID,
      p.objectKey, p.sizeBytes, p.sha256, previousObjectKey, p.storedBy ?? null, p.owner ?? null],
  };
}

/** Removes this attempt's pending row (never a stored one, never one another request took over). */
export function deletePendingSql(sopInstanceUID: string, objectKey: string): SqlStatement {
  return {
    text: `DELETE FROM instances WHERE sop_uid = $1 AND status = 'pending' AND object_key = $2`,
    values: [sopInstanceUID, objectKey],
  };
}

/**
 * When a pending row is taken to be abandoned by a request that died between writing its object and
 * committing the index: it is older than `olderThanSeconds` (any row, also one without an owner), or
 * its owner process is dead (holds no lock) and is not `processId`, the process asking (its own
 * rows are its in-flight requests, even while its lock is being re-taken after a lost connection).
 */
export interface AbandonedCriteria { olderThanSeconds: number; processId?: string }

function abandonedConditions(c: AbandonedCriteria, params: Params): string {
  return `i.status = 'pending'
          AND (i.received_at < now() - make_interval(secs => ${params.add(c.olderThanSeconds)})
               OR (i.owner IS NOT NULL AND i.owner IS DISTINCT FROM ${params.add(c.processId ?? null, 'uuid')}
                   AND NOT ${processIsLive('i.owner')}))`;
}

/** Abandoned pending rows (AbandonedCriteria), oldest first. */
export function listAbandonedPendingSql(c: AbandonedCriteria, limit: number): SqlStatement {
  const params = new Params();
  const where = abandonedConditions(c, params);
  return {
    text: `SELECT i.sop_uid, i.object_key, i.owner FROM instances i
           WHERE ${where}
           ORDER BY i.received_at LIMIT ${params.add(limit)}`,
    values: params.values,
  };
}

/**
 * Deletes a listed abandoned row only if it is still the same attempt (same object key), still pending
 * and still abandoned: a request that took it over since (replacePending: new key, new received_at,
 * live owner) or committed it keeps it. `owner_dead` says whether its owner was a dead process.
 */
export function deleteAbandonedPendingSql(sopInstanceUID: string, objectKey: string, c: AbandonedCriteria): SqlStatement {
  const params = new Params();
  const where = [`i.sop_uid = ${params.add(sopInstanceUID)}`, `i.object_key = ${params.add(objectKey)}`, abandonedConditions(c, params)];
  return {
    text: `DELETE FROM instances i WHERE ${where.join(' AND ')}
           RETURNING i.owner, (i.owner IS NOT NULL AND NOT ${processIsLive('i.owner')}) AS owner_dead`,
    values: params.values,
  };
}

/** Records an instance's QA figures (a JSON document). */
export function setQaSql(sopInstanceUID: string, qa: unknown): SqlStatement {
  return { text: 'UPDATE instances SET qa = $2::jsonb WHERE sop_uid = $1', values: [sopInstanceUID, JSON.stringify(qa)] };
}

/**
 * Stored instances of a study (optionally one series / one instance), or the one instance with a SOP
 * Instance UID, by series then instance number, limited to `scope`: an instance outside it is simply
 * not found.
 */
export function findInstancesSql(filter: InstanceFilter, withMetadata = false, scope: AccessScope = {}): SqlStatement {
  // The type requires one of the two; a caller that got round it must not read the whole index.
  if (filter.studyInstanceUID === undefined && filter.sopInstanceUID === undefined) throw new Error('findInstancesSql: no study or instance UID');
  const params = new Params();
  const where = [`i.status = 'stored'`];
  if (filter.studyInstanceUID !== undefined) where.push(`st.study_uid = ${params.add(filter.studyInstanceUID)}`);
  if (filter.seriesInstanceUID !== undefined) where.push(`se.series_uid = ${params.add(filter.seriesInstanceUID)}`);
  if (filter.sopInstanceUID !== undefined) where.push(`i.sop_uid = ${params.add(filter.sopInstanceUID)}`);
  where.push(...patientScopeConditions(scope, params), ...instanceScopeConditions(scope, params, 'i'));
  // A few fixed shapes (which UIDs, with or without metadata, scope): each is prepared once per connection.
  const shape = `${filter.studyInstanceUID !== undefined ? 'st' : ''}${filter.seriesInstanceUID !== undefined ? 's' : ''}`
    + `${filter.sopInstanceUID !== undefined ? 'i' : ''}${withMetadata ? '-m' : ''}`;
  return {
    name: `lucida-find-instances-${shape}-${scopeShape(scope)}`,
    text: `SELECT st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid, i.transfer_syntax_uid, i.object_key,
                  i.size_bytes, i.sha256, i.number_of_frames, i.metadata ? '7FE00010' AS has_pixel_data,
                  coalesce(i.qa ? 'undecodable', false) AS undecodable, p.patient_id, p.issuer${withMetadata ? ', i.metadata' : ''}
           FROM studies st
           JOIN patients p ON p.pk = st.patient_fk
           JOIN instances i ON i.study_fk = st.pk
           JOIN series se ON se.pk = i.series_fk
           WHERE ${where.join(' AND ')}
           ORDER BY se.series_number NULLS LAST, se.pk, i.instance_number NULLS LAST, i.pk`,
    values: params.values,
  };
}

/**
 * The patient of a study (or of the study holding an instance, named by its SOP Instance UID), and
 * whether the caller (scope) may see any of it (that instance). For the launch (whose patient is a
 * study UID's) and for telling a scoped 404 that hid another patient's data (audited as denied) from
 * one where nothing exists.
 */
export function studyPatientSql(of: string | { sopInstanceUID: string }, scope: AccessScope = {}): SqlStatement {
  const params = new Params();
  const match = typeof of === 'string' ? `st.study_uid = ${params.add(of)}` : `i.sop_uid = ${params.add(of.sopInstanceUID)}`;
  const visible = [...patientScopeConditions(scope, params), ...instanceScopeConditions(scope, params, 'i')];
  return {
    text: `SELECT p.patient_id, p.issuer,
                  ${visible.length ? `(${visible.join(' AND ')})` : 'true'} AS visible
           FROM studies st
           JOIN patients p ON p.pk = st.patient_fk
           JOIN instances i ON i.study_fk = st.pk AND i.status = 'stored'
           WHERE ${match}
           ORDER BY 3 DESC
           LIMIT 1`,
    values: params.values,
  };
}
