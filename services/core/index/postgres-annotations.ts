/**
 * The Postgres adapter of the AnnotationRepository port (table annotations, migration 010): a thin
 * executor of the builders in sql/annotations.ts. Each method is one statement, except create for a
 * calibration: one transaction that supersedes the frame's current calibration and inserts the new one.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type {
  AnnotatedInstance, Annotation, AnnotationAuthor, AnnotationInput, AnnotationKind, AnnotationRepository,
} from '../annotations/types.js';
import { isUuid } from '../uuid.js';
import {
  insertAnnotationSql, listAnnotationsSql, removeAnnotationSql, supersedeCalibrationSql, type AnnotationRow,
} from './sql/annotations.js';
import { advisoryXactLockSql } from './sql/statement.js';

export class PostgresAnnotationRepository implements AnnotationRepository {
  constructor(private readonly pool: pg.Pool) {}

  async list(sopInstanceUID: string, frame: number): Promise<Annotation[]> {
    const { rows } = await this.pool.query<AnnotationRow>(listAnnotationsSql(sopInstanceUID, frame));
    return rows.map(toAnnotation);
  }

  async create(instance: AnnotatedInstance, input: AnnotationInput, by: AnnotationAuthor): Promise<Annotation> {
    const insert = insertAnnotationSql(randomUUID(), instance, input, by);
    if (input.kind !== 'calibration') {
      const { rows: [r] } = await this.pool.query<AnnotationRow>(insert);
      return toAnnotation(r);
    }
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Serialises calibrations of one instance, so that superseding the current one and inserting
      // the new one cannot interleave with another request doing the same.
      await client.query(advisoryXactLockSql(`annotations:${instance.sopInstanceUID}`));
      await client.query(supersedeCalibrationSql(instance.sopInstanceUID, input.frame, by));
      const { rows: [r] } = await client.query<AnnotationRow>(insert);
      await client.query('COMMIT');
      return toAnnotation(r);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async remove(sopInstanceUID: string, id: string, by: AnnotationAuthor): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { rowCount } = await this.pool.query(removeAnnotationSql(sopInstanceUID, id, by));
    return (rowCount ?? 0) > 0;
  }
}

function toAnnotation(r: AnnotationRow): Annotation {
  return {
    id: r.id, sopInstanceUID: r.sop_instance_uid, frame: r.frame, kind: r.kind as AnnotationKind,
    points: r.points.map(([x, y]) => [x, y] as const), lengthMm: r.length_mm, label: r.label,
    createdBy: r.created_by, createdAt: r.created_at,
  };
}
