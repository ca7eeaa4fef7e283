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

  it('has the trigram extension the PN matching relies on', async () => {
    const { rows } = await db.pool.query("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'");
    expect(rows).toHaveLength(1);
  });
});
