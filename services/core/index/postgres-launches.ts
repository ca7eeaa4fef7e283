/**
 * The Postgres adapter of the LaunchRepository port (table viewer_launches, migration 009): a thin
 * executor of the builders in sql/launches.ts. Each method is one statement, except refresh, which
 * looks for a reused refresh value only when rotation found nothing.
 */
import type pg from 'pg';
import type { AccessScope } from '../auth/policy.js';
import type { PatientRef } from '../auth/principal.js';
import type { LaunchRecord, LaunchRepository, NewLaunch, RefreshResult } from '../auth/launch-port.js';
import {
  endSessionSql, insertLaunchSql, redeemLaunchSql, revokeOnReuseSql, rotateRefreshSql, studiesByAccessionSql, type LaunchRow,
} from './sql/launches.js';
import { isUuid } from '../uuid.js';


export class PostgresLaunchRepository implements LaunchRepository {
  constructor(private readonly pool: pg.Pool) {}

  async create(launch: NewLaunch): Promise<{ expiresAt: Date }> {
    const { rows: [r] } = await this.pool.query<{ expires_at: Date }>(insertLaunchSql(launch));
    return { expiresAt: r.expires_at };
  }

  async redeem(codeHash: string, refreshHash: string): Promise<LaunchRecord | undefined> {
    const { rows: [r] } = await this.pool.query<LaunchRow>(redeemLaunchSql(codeHash, refreshHash));
    return r && toRecord(r);
  }

  async refresh(launchId: string, refreshHash: string, nextRefreshHash: string): Promise<RefreshResult> {
    if (!isUuid(launchId)) return { ok: false, reused: false };
    const { rows: [r] } = await this.pool.query<LaunchRow>(rotateRefreshSql(launchId, refreshHash, nextRefreshHash));
    if (r) return { ok: true, launch: toRecord(r) };
    const { rowCount } = await this.pool.query(revokeOnReuseSql(launchId, refreshHash));
    return { ok: false, reused: (rowCount ?? 0) > 0 };
  }

  async end(launchId: string, refreshHash: string): Promise<{ ended: boolean; launch?: LaunchRecord }> {
    if (!isUuid(launchId)) return { ended: false };
    const { rows: [r] } = await this.pool.query<LaunchRow>(endSessionSql(launchId, refreshHash));
    return r ? { ended: true, launch: toRecord(r) } : { ended: false };
  }

  async studiesByAccession(accessionNumbers: string[], scope: AccessScope): Promise<{ studyUID: string; patient: PatientRef }[]> {
    const { rows } = await this.pool.query<{ study_uid: string; patient_id: string; issuer: string }>(
      studiesByAccessionSql(accessionNumbers, scope));
    return rows.map((r) => ({ studyUID: r.study_uid, patient: { id: r.patient_id, issuer: r.issuer } }));
  }
}

function toRecord(r: LaunchRow): LaunchRecord {
  return {
    id: r.id,
    via: r.via,
    patient: { id: r.patient_id, issuer: r.patient_issuer },
    studyUIDs: r.study_uids,
    user: r.user_name === null ? { id: r.user_id } : { id: r.user_id, name: r.user_name },
    clientId: r.client_id ?? undefined,
    launchedBy: r.launched_by,
    createdAt: r.created_at,
    sessionExpiresAt: r.session_expires_at,
    now: r.now,
  };
}
