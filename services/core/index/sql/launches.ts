/**
 * SQL for viewer launches and sessions (table viewer_launches, migration 009), run by the
 * LaunchRepository adapter (../postgres-launches.ts). Pure builders: text and values only.
 * Every expiry is compared with now(), the database's clock, never the API process's.
 */
import type { AccessScope } from '../../auth/policy.js';
import type { NewLaunch } from '../../auth/launch-port.js';
import { instanceScopeConditions, patientScopeConditions } from './scope.js';
import { Params, type SqlStatement } from './statement.js';

export interface LaunchRow {
  id: string; via: 'epr' | 'iid'; patient_id: string; patient_issuer: string; study_uids: string[];
  user_id: string; user_name: string | null; client_id: string | null; launched_by: string;
  created_at: Date; session_expires_at: Date; now: Date;
}

const RETURNING = `RETURNING id, via, patient_id, patient_issuer, study_uids, user_id, user_name, client_id, launched_by,
  created_at, session_expires_at, now() AS now`;

export function insertLaunchSql(l: NewLaunch): SqlStatement {
  return {
    text: `INSERT INTO viewer_launches (id, code_hash, via, patient_id, patient_issuer, study_uids, user_id, user_name, client_id,
             launched_by, reason, expires_at, session_expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
             now() + make_interval(secs => $12), now() + make_interval(secs => $13))
           RETURNING expires_at`,
    values: [l.id, l.codeHash, l.via, l.patient.id, l.patient.issuer, l.studyUIDs, l.user.id, l.user.name ?? null,
      l.clientId ?? null, l.launchedBy, l.reason ?? null, l.codeTtlSeconds, l.sessionMaxSeconds],
  };
}

/**
 * Marks the code used and starts the session, in one statement: the row lock taken by UPDATE makes a
 * concurrent second redemption re-check `used_at IS NULL` after the first commits, and find nothing.
 */
export function redeemLaunchSql(codeHash: string, refreshHash: string): SqlStatement {
  return {
    text: `UPDATE viewer_launches SET used_at = now(), session_refresh_hash = $2
           WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() AND revoked_at IS NULL
           ${RETURNING}`,
    values: [codeHash, refreshHash],
  };
}

/** Rotates the refresh hash of a live session (exchanged, not revoked, not past its end). */
export function rotateRefreshSql(launchId: string, refreshHash: string, nextRefreshHash: string): SqlStatement {
  return {
    text: `UPDATE viewer_launches
           SET session_refresh_hash = $3, previous_refresh_hash = session_refresh_hash, refreshed_at = now()
           WHERE id = $1 AND session_refresh_hash = $2 AND used_at IS NOT NULL AND revoked_at IS NULL AND session_expires_at > now()
           ${RETURNING}`,
    values: [launchId, refreshHash, nextRefreshHash],
  };
}

/** Revokes a session whose replaced refresh hash was presented again (OAuth 2.0 Security BCP §4.14.2: refresh token reuse). */
export function revokeOnReuseSql(launchId: string, refreshHash: string): SqlStatement {
  return {
    text: `UPDATE viewer_launches SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 AND previous_refresh_hash = $2 RETURNING id`,
    values: [launchId, refreshHash],
  };
}

/** Ends a session (idempotent for the holder of its current refresh cookie). */
export function endSessionSql(launchId: string, refreshHash: string): SqlStatement {
  return {
    text: `UPDATE viewer_launches SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 AND session_refresh_hash = $2
           ${RETURNING}`,
    values: [launchId, refreshHash],
  };
}

/** Studies with stored instances (inside `scope`) whose AccessionNumber is one of these. */
export function studiesByAccessionSql(accessionNumbers: string[], scope: AccessScope): SqlStatement {
  const params = new Params();
  const accessions = params.add(accessionNumbers, 'text[]');
  const patient = patientScopeConditions(scope, params);
  const instance = instanceScopeConditions(scope, params, 'i');
  return {
    text: `SELECT st.study_uid, p.patient_id, p.issuer
           FROM studies st
           JOIN patients p ON p.pk = st.patient_fk
           WHERE st.accession_number = ANY(${accessions})
             ${patient.map((c) => `AND ${c}`).join(' ')}
             AND EXISTS (SELECT 1 FROM instances i WHERE i.study_fk = st.pk AND i.status = 'stored'
                         ${instance.map((c) => `AND ${c}`).join(' ')})
           ORDER BY st.study_uid
           LIMIT 101`,
    values: params.values,
  };
}
