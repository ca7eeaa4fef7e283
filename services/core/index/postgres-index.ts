/**
 * The Postgres adapter of the InstanceIndex port: a thin executor of the SQL builders in ./sql.
 * Every method is one statement (reservePending: a second one only when the UID is already taken).
 */
import type pg from 'pg';
import type { AccessScope } from '../auth/policy.js';
import type { PatientRef } from '../auth/principal.js';
import type { DicomJson } from '../dicom/json.types.js';
import type { QidoQuery } from '../qido/query.js';
import { toIndexRows } from './index-rows.js';
import type {
  CommitResult, ExistingInstance, InstanceFilter, InstanceIndex, PendingInstance, QidoResult, ReserveResult,
  StoredInstance,
} from './port.js';
import { toDicomJson, type SearchRow } from './search-results.js';
import { commitStoredSql, type CommitOutcomeRow } from './sql/commit.js';
import {
  deletePendingSql, existingInstanceSql, findInstancesSql, replacePendingSql, reservePendingSql, setQaSql, studyPatientSql,
} from './sql/instances.js';
import { planSearch } from './sql/search.js';

interface ExistingRow {
  status: 'pending' | 'stored'; sha256: string; object_key: string; study_uid: string; series_uid: string;
  sop_class_uid: string; received_at: Date; owner: string | null; owner_alive: boolean | null;
}

interface StoredRow {
  study_uid: string; series_uid: string; sop_uid: string; sop_class_uid: string; transfer_syntax_uid: string;
  object_key: string; size_bytes: string; sha256: string; number_of_frames: number | null; has_pixel_data: boolean | null;
  undecodable: boolean; patient_id: string; issuer: string; metadata?: DicomJson | null;
}

export class PostgresInstanceIndex implements InstanceIndex {
  constructor(private readonly pool: pg.Pool) {}

  /** Claims the UID, or reports the row that already holds it. */
  async reservePending(p: PendingInstance): Promise<ReserveResult> {
    // A row found by ON CONFLICT may be deleted (deletePending) before we read it: then try again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await this.pool.query(reservePendingSql(p));
      if (inserted.rowCount) return { reserved: true };
      const { rows } = await this.pool.query<ExistingRow>(existingInstanceSql(p.sopInstanceUID));
      if (rows[0]) return { reserved: false, existing: toExisting(rows[0]) };
    }
    throw new Error(`could not reserve or read instance ${p.sopInstanceUID}`);
  }

  async replacePending(p: PendingInstance, previousObjectKey: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(replacePendingSql(p, previousObjectKey));
    return rowCount === 1;
  }

  async commitStored(sopInstanceUID: string, objectKey: string, metadata: DicomJson): Promise<CommitResult> {
    const rows = toIndexRows(metadata);
    if (rows.instance.sopInstanceUID !== sopInstanceUID) {
      throw new Error(`metadata is for ${rows.instance.sopInstanceUID}, not ${sopInstanceUID}`);
    }
    const { rows: [r] } = await this.pool.query<CommitOutcomeRow>(commitStoredSql(rows, objectKey));
    if (r.stored) return { committed: true };
    if (r.was_pending && r.patient_mismatch) return { committed: false, reason: 'patient-mismatch' };
    if (r.was_pending && r.study_mismatch) return { committed: false, reason: 'study-mismatch' };
    if (!r.claimed) return { committed: false, reason: 'not-pending' };
    // The guard passed but the ON CONFLICT re-check refused: a concurrent commit created the row.
    return { committed: false, reason: r.study_ok ? 'study-mismatch' : 'patient-mismatch' };
  }

  async deletePending(sopInstanceUID: string, objectKey: string): Promise<void> {
    await this.pool.query(deletePendingSql(sopInstanceUID, objectKey));
  }

  async findInstances(filter: InstanceFilter, opts: { withMetadata?: boolean; scope?: AccessScope } = {}): Promise<StoredInstance[]> {
    const { rows } = await this.pool.query<StoredRow>(findInstancesSql(filter, opts.withMetadata, opts.scope));
    return rows.map((r) => ({
      studyInstanceUID: r.study_uid,
      seriesInstanceUID: r.series_uid,
      sopInstanceUID: r.sop_uid,
      sopClassUID: r.sop_class_uid,
      transferSyntaxUID: r.transfer_syntax_uid,
      objectKey: r.object_key,
      sizeBytes: Number(r.size_bytes),
      sha256: r.sha256,
      numberOfFrames: r.number_of_frames,
      hasPixelData: r.has_pixel_data === true,
      decodable: !r.undecodable,
      patientId: r.patient_id,
      issuer: r.issuer,
      ...(opts.withMetadata ? { metadata: r.metadata ?? {} } : {}),
    }));
  }

  async search(query: QidoQuery, retrieveBase: string, scope?: AccessScope): Promise<QidoResult> {
    const plan = planSearch(query, scope);
    const { rows } = await this.pool.query<SearchRow>(plan.statement);
    const truncated = rows.length > plan.limit;
    const base = retrieveBase.replace(/\/+$/, '');
    const page = rows.slice(0, plan.limit);
    return {
      matches: page.map((row) => toDicomJson(row, plan.returns, base)),
      truncated,
      warnings: [...query.warnings, ...plan.warnings],
      patientIds: [...new Set(page.map((r) => r.patient_id))],
      studyUIDs: [...new Set(page.map((r) => r.study_uid))],
    };
  }

  async studyPatient(of: string | { sopInstanceUID: string }, scope?: AccessScope): Promise<(PatientRef & { visible: boolean }) | undefined> {
    const { rows: [r] } = await this.pool.query<{ patient_id: string; issuer: string; visible: boolean }>(studyPatientSql(of, scope));
    return r && { id: r.patient_id, issuer: r.issuer, visible: r.visible };
  }

  async setQa(sopInstanceUID: string, qa: unknown): Promise<void> {
    await this.pool.query(setQaSql(sopInstanceUID, qa));
  }
}

function toExisting(r: ExistingRow): ExistingInstance {
  return {
    status: r.status,
    sha256: r.sha256,
    objectKey: r.object_key,
    studyInstanceUID: r.study_uid,
    seriesInstanceUID: r.series_uid,
    sopClassUID: r.sop_class_uid,
    receivedAt: r.received_at,
    ...(r.owner && r.owner_alive !== null ? { owner: { processId: r.owner, alive: r.owner_alive } } : {}),
  };
}
