/**
 * QIDO-RS at scale: with ~20,000 instances loaded, the main search paths use indexes (no sequential
 * scan of patients, studies, series or instances), checked on the real plans with EXPLAIN.
 * Timings are the bench's business (test/bench), not this test's.
 */
import { PostgresInstanceIndex } from '../../services/core/index/postgres-index.js';
import { planSearch } from '../../services/core/index/sql/search.js';
import type { AccessScope } from '../../services/core/auth/policy.js';
import { parseQidoQuery, type QidoLevel, type QidoScope } from '../../services/core/qido/query.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { BULK_SIZES, loadBulkIndex } from '../helpers/bulk-index.js';

const { INSTANCES } = BULK_SIZES;

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] }

function seqScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name']) out.push(node['Relation Name']);
  for (const child of node.Plans ?? []) seqScans(child, out);
  return out;
}

const WATCHED = new Set(['patients', 'studies', 'series', 'instances']);
const OPTS = { defaultLimit: 100, maxLimit: 1000 };

let db: TestDatabase;
let names: { family: string; given: string };

beforeAll(async () => {
  db = await startTestDatabase();
  await loadBulkIndex(db.pool);
  const { rows: [p] } = await db.pool.query(`SELECT patient_name_search FROM patients WHERE patient_id = 'BULK-1234'`);
  const [family, given] = String(p.patient_name_search).split('^');
  names = { family, given };
}, 60_000);
afterAll(async () => { await db?.stop(); });

const query = (level: QidoLevel, qs: string, scope: QidoScope = {}) => parseQidoQuery(level, new URLSearchParams(qs), scope, OPTS);

describe(`QIDO-RS plans with ${INSTANCES} instances`, () => {
  const cases: Array<[name: string, level: QidoLevel, qs: () => string, scope: QidoScope, access?: AccessScope]> = [
    ['studies by PatientID', 'study', () => 'PatientID=BULK-1234', {}],
    ['studies by PatientName prefix', 'study', () => `PatientName=${names.family.slice(0, 4)}*`, {}],
    ['studies by exact PatientName', 'study', () => `PatientName=${names.family}^${names.given}`, {}],
    ['studies by fuzzy PatientName', 'study', () => `fuzzymatching=true&PatientName=${names.given.slice(0, 3)} ${names.family.slice(0, 3)}`, {}],
    ['studies by StudyDate range', 'study', () => 'StudyDate=20200101-20200107', {}],
    ['studies by StudyDate+StudyTime range', 'study', () => 'StudyDate=20200101-20200107&StudyTime=0800-1200', {}],
    ['studies by AccessionNumber', 'study', () => 'AccessionNumber=BULK-ACC-4321', {}],
    ['studies by StudyInstanceUID', 'study', () => 'StudyInstanceUID=2.25.9.1.4321', {}],
    ['studies by StudyInstanceUID list', 'study', () => 'StudyInstanceUID=2.25.9.1.4321,2.25.9.1.17', {}],
    ['series in a study', 'series', () => '', { studyInstanceUID: '2.25.9.1.4321' }],
    ['series by SeriesInstanceUID', 'series', () => 'SeriesInstanceUID=2.25.9.2.777', {}],
    ['instances in a series', 'instance', () => '', { studyInstanceUID: '2.25.9.1.4321', seriesInstanceUID: '2.25.9.2.8642' }],
    ['instances in a study', 'instance', () => '', { studyInstanceUID: '2.25.9.1.4321' }],
    ['instances by SOPInstanceUID list', 'instance', () => 'SOPInstanceUID=2.25.9.3.5,2.25.9.3.19999', {}],
    ['series by Manufacturer (jsonb containment)', 'series', () => 'Manufacturer=Maker 7&StudyDate=20200101-20200301', {}],
    ['studies, first page, no filter', 'study', () => 'limit=25', {}],
    ['series by Modality, first page (ordered index, migration 003)', 'series', () => 'Modality=XC&limit=25', {}],
    ['instances by SOPClassUID, first page (ordered index, migration 003)', 'instance', () => 'SOPClassUID=1.2.840.10008.5.1.4.1.1.77.1.4&limit=25', {}],
    // Access scopes (policy.ts): a patient-context token, a photographer's own work of today.
    ['studies, patient-context token', 'study', () => 'limit=25', {}, { patient: { id: 'BULK-1234' } }],
    ['instances, patient-context token with issuer', 'instance', () => 'limit=25', {}, { patient: { id: 'BULK-1234', issuer: '' } }],
    ['studies, photographer\'s own of today (migration 007)', 'study', () => 'limit=25', {}, { storedBy: { subject: 'ph-1', since: new Date() } }],
    ['instances, photographer\'s own of today', 'instance', () => 'limit=25', {}, { storedBy: { subject: 'ph-1', since: new Date() } }],
  ];

  // Every row as five values: jest-each takes a callback with more parameters than the row has values as asking for `done`.
  const rows = cases.map(([name, level, qs, scope, access]) => [name, level, qs, scope, access ?? {}] as const);
  it.each(rows)('%s: no sequential scan of the index tables', async (_name, level, qs, scope, access) => {
    const plan = planSearch(query(level, qs(), scope), access);
    const { rows } = await db.pool.query(`EXPLAIN (FORMAT JSON) ${plan.statement.text}`, plan.statement.values);
    const scans = seqScans(rows[0]['QUERY PLAN'][0].Plan).filter((r) => WATCHED.has(r));
    expect(scans).toEqual([]);
  });

  it('finds the expected rows at that scale', async () => {
    const index = new PostgresInstanceIndex(db.pool);
    const byId = await index.search(query('study', 'PatientID=BULK-1234'), 'http://x');
    expect(byId.matches.map((m) => m['00080050'].Value![0]).sort()).toEqual(['BULK-ACC-2467', 'BULK-ACC-2468']);
    expect(byId.matches[0]['00201206'].Value).toEqual([2]);
    expect(byId.matches[0]['00201208'].Value).toEqual([4]);
    const inSeries = await index.search(query('instance', '', { studyInstanceUID: '2.25.9.1.4321', seriesInstanceUID: '2.25.9.2.8642' }), 'http://x');
    expect(inSeries.matches).toHaveLength(2);
    const byName = await index.search(query('study', `PatientName=${names.family.toLowerCase()}^${names.given.toLowerCase()}`), 'http://x');
    expect(byName.matches.map((m) => m['00100020'].Value![0])).toEqual(['BULK-1234', 'BULK-1234']);
    const pendingStudy = await index.search(query('study', 'StudyInstanceUID=2.25.9.1.1'), 'http://x');
    expect(pendingStudy.matches[0]['00201208'].Value).toEqual([4]); // the 50 pending rows do not count
  });
});
