import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { migrate } from '../../services/core/index/database.js';

describe('embedded Postgres and migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await startTestDatabase(); });
  afterAll(async () => { await db?.stop(); });

  it('applies every migration once, and a second run applies none', async () => {
    const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toContain('001_index');
    expect(await migrate(db.pool)).toEqual([]);
  });

  it('has the indexes the queries need and none that a covering index made redundant', async () => {
    const { rows } = await db.pool.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`);
    const names = rows.map((r) => r.indexname);
    // findFileBySop reads failed files too, which the partial unique index leaves out.
    expect(names).toEqual(expect.arrayContaining(['capture_files_sop', 'capture_files_sop_all', 'consent_records_capture', 'studies_date_order']));
    // studies_date_order (002) serves date and date + time ranges; no query looks consent up by patient.
    expect(names).not.toContain('studies_date_time');
    expect(names).not.toContain('consent_records_patient');
  });

  it('has the trigram extension the PN matching relies on', async () => {
    const { rows } = await db.pool.query("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'");
    expect(rows).toHaveLength(1);
  });
});
