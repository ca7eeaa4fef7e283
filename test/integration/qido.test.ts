/**
 * QIDO-RS search and the index write path, on a real Postgres.
 * Given the archive below (built through reservePending + commitStored, the path ingest uses),
 * each query returns exactly the listed studies / series / instances.
 */
import type { DicomJson, DicomJsonAttribute } from '../../services/core/dicom/json.types.js';
import { PostgresInstanceIndex } from '../../services/core/index/postgres-index.js';
import type { PendingInstance, QidoResult } from '../../services/core/index/port.js';
import { parseQidoQuery, type QidoLevel } from '../../services/core/qido/query.js';
import { resetDatabase, startTestDatabase, type TestDatabase } from '../helpers/database.js';

const BASE = 'https://pacs.example/dicomweb';
const SOP_CLASS = {
  XC: '1.2.840.10008.5.1.4.1.1.77.1.4', // VL Photographic Image
  DMS: '1.2.840.10008.5.1.4.1.1.77.1.7', // Dermoscopic Photography Image
  CT: '1.2.840.10008.5.1.4.1.1.2', // CT Image
} as const;

const attr = (vr: string, ...values: unknown[]): DicomJsonAttribute => (values.length ? { vr, Value: values } : { vr });
const pn = (name: string) => ({ Alphabetic: name });

interface PatientSpec { id: string; issuer?: string; name: string; birth?: string; sex: string; comments?: string }
interface StudySpec {
  patient: PatientSpec; date: string; time?: string; accession?: string; studyId?: string; description: string;
  referring?: string; age?: string;
}
interface SeriesSpec {
  study: string; modality: keyof typeof SOP_CLASS; number: number; description: string; instances: number;
  manufacturer?: string; operator?: string; bodyPart?: string; laterality?: string; ppsDate?: string; ppsTime?: string;
  requestAttributes?: boolean;
}

const P = {
  smithJohn: { id: 'PID-001', name: 'Smith^John', birth: '19700101', sex: 'M', comments: 'VIP' },
  smithers: { id: 'PID-002', name: 'SMITHERS^Anna^Marie', birth: '19851224', sex: 'F' },
  smithJane: { id: 'PID-003', name: 'smith^jane', birth: '19900615', sex: 'F' },
  muller: { id: 'PID-004', name: 'Müller^Jürgen', birth: '19601111', sex: 'M' },
  jones: { id: 'PID-001', issuer: 'OTHER', name: 'Jones^Tom', birth: '20000101', sex: 'M' },
  leRoy: { id: 'PID-006', name: 'Le_Roy^Ann', sex: 'F' },
  leXRoy: { id: 'PID-007', name: 'LeXRoy^Bob', sex: 'M' },
} satisfies Record<string, PatientSpec>;

const STUDIES: Record<string, StudySpec> = {
  S1: { patient: P.smithJohn, date: '20240110', time: '093000', accession: 'ACC-1', studyId: 'ST1',
    description: 'Dermatology left forearm', referring: 'House^Gregory', age: '054Y' },
  S2: { patient: P.smithJohn, date: '20240215', time: '141500.123', accession: 'ACC-2', studyId: 'ST2', description: 'Follow-up' },
  S3: { patient: P.smithers, date: '20231231', time: '235900', accession: 'ACC-3', studyId: 'ST3', description: 'Wound check' },
  S4: { patient: P.smithJane, date: '20240110', time: '160000', accession: 'ACC-4', description: 'Mole review',
    referring: 'Wilson^James' },
  S5: { patient: P.muller, date: '20240301', description: 'Hand' },
  S6: { patient: P.jones, date: '20220505', time: '080000', accession: 'ACC-6', description: 'CT head' },
  S7: { patient: P.leRoy, date: '20210101', time: '120000', accession: 'ACC-7', description: '100% crop' },
  S8: { patient: P.leXRoy, date: '20210102', time: '120000', accession: 'ACC-8', description: '1000 crop' },
};

const SERIES: Record<string, SeriesSpec> = {
  SE1: { study: 'S1', modality: 'XC', number: 1, description: 'Left forearm overview', instances: 3, manufacturer: 'Canon',
    operator: 'Doe^Jane', bodyPart: 'ARM', laterality: 'L', ppsDate: '20240110', ppsTime: '0930', requestAttributes: true },
  SE2: { study: 'S1', modality: 'DMS', number: 2, description: 'Dermoscopy', instances: 2, manufacturer: 'Heine' },
  SE3: { study: 'S2', modality: 'XC', number: 1, description: 'Follow-up forearm', instances: 2, manufacturer: 'Canon', laterality: 'L' },
  SE4: { study: 'S3', modality: 'CT', number: 1, description: 'Axial', instances: 3, manufacturer: 'Siemens' },
  SE5: { study: 'S3', modality: 'XC', number: 2, description: 'Wound photo', instances: 1, laterality: 'R' },
  SE6: { study: 'S4', modality: 'DMS', number: 1, description: 'Mole', instances: 1 },
  SE7: { study: 'S5', modality: 'XC', number: 1, description: 'Hand', instances: 1 },
  SE8: { study: 'S6', modality: 'CT', number: 1, description: 'Head', instances: 1 },
  SE9: { study: 'S7', modality: 'XC', number: 1, description: 'Crop', instances: 1 },
  SE10: { study: 'S8', modality: 'XC', number: 1, description: 'Crop', instances: 1 },
};

// UIDs: studies 2.25.1.n, series 2.25.2.n, instances 2.25.3.<series>.<n>; names map back for readable expectations.
const studyUid = (name: string) => `2.25.1.${name.slice(1)}`;
const seriesUid = (name: string) => `2.25.2.${name.slice(2)}`;
const sopUid = (name: string) => { const [se, n] = name.split('.'); return `2.25.3.${se.slice(2)}.${n}`; };
const NAMES = new Map<string, string>();
for (const s of Object.keys(STUDIES)) NAMES.set(studyUid(s), s);
for (const [se, spec] of Object.entries(SERIES)) {
  NAMES.set(seriesUid(se), se);
  for (let n = 1; n <= spec.instances; n++) NAMES.set(sopUid(`${se}.${n}`), `${se}.${n}`);
}

/** A complete instance's DICOM JSON, as ingest would pass it to commitStored. */
function instanceJson(seriesName: string, n: number, overrides: DicomJson = {}): DicomJson {
  const se = SERIES[seriesName];
  const st = STUDIES[se.study];
  const p = st.patient as PatientSpec;
  const json: DicomJson = {
    '00080005': attr('CS', 'ISO_IR 192'),
    '00080016': attr('UI', SOP_CLASS[se.modality]),
    '00080018': attr('UI', sopUid(`${seriesName}.${n}`)),
    '00080020': attr('DA', st.date),
    '00080023': attr('DA', st.date),
    '0008002A': attr('DT', `${st.date}${(st.time ?? '120000').slice(0, 4)}${String(n).padStart(2, '0')}`),
    '00080030': st.time ? attr('TM', st.time) : attr('TM'),
    '00080033': attr('TM', `${(st.time ?? '120000').slice(0, 4)}${String(n).padStart(2, '0')}`),
    '00080050': st.accession ? attr('SH', st.accession) : attr('SH'),
    '00080060': attr('CS', se.modality),
    '00080090': st.referring ? attr('PN', pn(st.referring)) : attr('PN'),
    '00080201': attr('SH', '+0000'),
    '00081030': attr('LO', st.description),
    '0008103E': attr('LO', se.description),
    '00100010': attr('PN', pn(p.name)),
    '00100020': attr('LO', p.id),
    '00100030': p.birth ? attr('DA', p.birth) : attr('DA'),
    '00100040': attr('CS', p.sex),
    '0020000D': attr('UI', studyUid(se.study)),
    '0020000E': attr('UI', seriesUid(seriesName)),
    '00200010': st.studyId ? attr('SH', st.studyId) : attr('SH'),
    '00200011': attr('IS', se.number),
    '00200013': attr('IS', n),
    '00200062': attr('CS', n % 2 ? 'L' : 'R'),
    '00280002': attr('US', 3),
    '00280010': attr('US', se.modality === 'CT' ? 512 : 480),
    '00280011': attr('US', se.modality === 'CT' ? 512 : 640),
    '00280100': attr('US', 8),
    '00082218': { vr: 'SQ', Value: [{ '00080100': attr('SH', '70559009'), '00080102': attr('SH', 'SCT') }] },
    '7FE00010': { vr: 'OB', BulkDataURI: '7FE00010' },
  };
  if (p.issuer) json['00100021'] = attr('LO', p.issuer);
  if (p.comments) json['00104000'] = attr('LT', p.comments);
  if (st.age) json['00101010'] = attr('AS', st.age);
  if (se.manufacturer) json['00080070'] = attr('LO', se.manufacturer);
  if (se.operator) json['00081070'] = attr('PN', pn(se.operator));
  if (se.bodyPart) json['00180015'] = attr('CS', se.bodyPart);
  if (se.laterality) json['00200060'] = attr('CS', se.laterality);
  if (se.ppsDate) json['00400244'] = attr('DA', se.ppsDate);
  if (se.ppsTime) json['00400245'] = attr('TM', se.ppsTime);
  if (se.requestAttributes) {
    json['00400275'] = { vr: 'SQ', Value: [{ '00400009': attr('SH', 'SPS1'), '00401001': attr('SH', 'RP1') }] };
  }
  return { ...json, ...overrides };
}

function pending(json: DicomJson): PendingInstance {
  const v = (tag: string) => String(json[tag].Value![0]);
  return {
    sopInstanceUID: v('00080018'), sopClassUID: v('00080016'), studyInstanceUID: v('0020000D'),
    seriesInstanceUID: v('0020000E'), transferSyntaxUID: '1.2.840.10008.1.2.4.50',
    objectKey: `objects/${v('00080018')}`, sizeBytes: 1234, sha256: 'ab'.repeat(32),
  };
}

async function store(index: PostgresInstanceIndex, json: DicomJson) {
  const reserved = await index.reservePending(pending(json));
  expect(reserved).toEqual({ reserved: true });
  return index.commitStored(String(json['00080018'].Value![0]), pending(json).objectKey, json);
}

/** Runs a QIDO-RS request the way the API does: path → level + scope, query string → QidoQuery. */
function runQuery(index: PostgresInstanceIndex, path: string, qs = '', opts = { defaultLimit: 100, maxLimit: 1000 }): Promise<QidoResult> {
  const m = /^(?:\/studies\/([^/]+))?(?:\/series\/([^/]+))?\/(studies|series|instances)$/.exec(path);
  if (!m) throw new Error(`bad path ${path}`);
  const level = ({ studies: 'study', series: 'series', instances: 'instance' } as const)[m[3] as 'studies'] as QidoLevel;
  const scope = { studyInstanceUID: m[1] && studyUid(m[1]), seriesInstanceUID: m[2] && seriesUid(m[2]) };
  return index.search(parseQidoQuery(level, new URLSearchParams(qs), scope, opts), BASE);
}

const KEY_TAG = { study: '0020000D', series: '0020000E', instance: '00080018' } as const;
const names = (result: QidoResult, path: string) => {
  const level = path.endsWith('/studies') ? 'study' : path.endsWith('/series') ? 'series' : 'instance';
  return result.matches.map((m) => NAMES.get(String(m[KEY_TAG[level]].Value![0])) ?? String(m[KEY_TAG[level]].Value![0]));
};

let db: TestDatabase;
let index: PostgresInstanceIndex;

beforeAll(async () => {
  db = await startTestDatabase();
  index = new PostgresInstanceIndex(db.pool);
});
afterAll(async () => { await db?.stop(); });

describe('QIDO-RS search over a small archive', () => {
  beforeAll(async () => {
    for (const [se, spec] of Object.entries(SERIES)) {
      for (let n = 1; n <= spec.instances; n++) expect(await store(index, instanceJson(se, n))).toEqual({ committed: true });
    }
    // Pending instances are invisible to QIDO: one in an existing series, one of a study never committed.
    await index.reservePending(pending(instanceJson('SE1', 9)));
    await index.reservePending({ ...pending(instanceJson('SE1', 10)), studyInstanceUID: '2.25.1.99', seriesInstanceUID: '2.25.2.99' });
  });

  const cases: Array<[path: string, query: string, expected: string[]]> = [
    // Study level: every matching type on column-backed attributes.
    ['/studies', '', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']],
    ['/studies', 'PatientID=PID-001', ['S1', 'S2', 'S6']],
    ['/studies', 'PatientID=PID-001&IssuerOfPatientID=OTHER', ['S6']],
    ['/studies', '00100020=PID-002', ['S3']],
    ['/studies', 'PatientName=smith^john', ['S1', 'S2']], // PN single value: case-insensitive, exact
    ['/studies', 'PatientName=SMITH', []], // ... and not a prefix match
    ['/studies', 'PatientName=SMITH*', ['S1', 'S2', 'S3', 'S4']],
    ['/studies', 'PatientName=smith^j*', ['S1', 'S2', 'S4']],
    ['/studies', 'PatientName=sm?th^*', ['S1', 'S2', 'S4']],
    ['/studies', 'PatientName=*ITHER*', ['S3']],
    ['/studies', 'PatientName=müller*', ['S5']], // non-ASCII, case-insensitive
    ['/studies', 'PatientName=MÜLLER^JÜRGEN', ['S5']],
    ['/studies', 'PatientName=Le_Roy*', ['S7']], // '_' in the value is a literal, not LIKE's any-char
    ['/studies', 'PatientName=Le?Roy*', ['S7', 'S8']],
    ['/studies', 'PatientName=*', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // '*' alone is universal
    // Only the Alphabetic group is matched, normalised like the stored key.
    ['/studies', 'PatientName=smith*=スミス*', ['S1', 'S2', 'S3', 'S4']],
    ['/studies', 'PatientName=smith^john=スミス^ジョン', ['S1', 'S2']],
    ['/studies', 'PatientName=smith^*^', ['S1', 'S2', 'S4']], // trailing '^' dropped, as in stored keys
    ['/studies', 'PatientName=^', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // no Alphabetic name: universal
    ['/studies', 'PatientName==スミス', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']],
    ['/studies', 'fuzzymatching=true&PatientName=jo sm', ['S1', 'S2']],
    ['/studies', 'fuzzymatching=true&PatientName=smith', ['S1', 'S2', 'S3', 'S4']],
    ['/studies', 'fuzzymatching=true&PatientName=mar', ['S3']], // middle name
    ['/studies', 'fuzzymatching=true&PatientName=JÜR', ['S5']],
    ['/studies', 'fuzzymatching=true&PatientName=ürg', []], // not a prefix of a component
    ['/studies', 'fuzzymatching=true&PatientName=roy', []],
    ['/studies', 'fuzzymatching=true&PatientName=le_r', ['S7']],
    ['/studies', 'fuzzymatching=true&PatientName=s*', ['S1', 'S2', 'S3', 'S4']], // wildcards dropped
    ['/studies', 'fuzzymatching=true&ReferringPhysicianName=gre HOU', ['S1']],
    ['/studies', 'fuzzymatching=true&ReferringPhysicianName=ouse', []],
    ['/studies', 'PatientBirthDate=19700101', ['S1', 'S2']],
    ['/studies', 'PatientBirthDate=19800101-19951231', ['S3', 'S4']],
    ['/studies', 'PatientSex=F', ['S3', 'S4', 'S7']],
    ['/studies', 'StudyDate=20240110', ['S1', 'S4']],
    ['/studies', 'StudyDate=20240101-20240229', ['S1', 'S2', 'S4']],
    ['/studies', 'StudyDate=20240201-', ['S2', 'S5']],
    ['/studies', 'StudyDate=-20221231', ['S6', 'S7', 'S8']],
    ['/studies', 'StudyTime=0900-1000', ['S1']],
    ['/studies', 'StudyTime=14', ['S2']], // a single TM value names its whole hour
    ['/studies', 'StudyTime=141500.123', ['S2']],
    ['/studies', 'StudyTime=1415', ['S2']],
    ['/studies', 'StudyTime=1600-', ['S3', 'S4']],
    // Combined date-time range: from 2023-12-31 23:00 to 2024-01-10 09:30:59.
    ['/studies', 'StudyDate=20231231-20240110&StudyTime=2300-0930', ['S1', 'S3']],
    ['/studies', 'StudyDate=20240110-&StudyTime=1200-', ['S2', 'S4', 'S5']],
    ['/studies', 'StudyDate=20240110&StudyTime=1200-', ['S4']], // single date: matched independently
    // ... an empty StudyTime (S5) counts as the whole day, also on a boundary date.
    ['/studies', 'StudyDate=20240301-20240302&StudyTime=-1000', ['S5']], // no time bound on the lower date
    ['/studies', 'StudyDate=20240301-&StudyTime=1200-', ['S5']],
    ['/studies', 'StudyDate=20240215-20240301&StudyTime=1500-0800', ['S5']], // S2 at 14:15 is before 15:00
    ['/studies', 'AccessionNumber=ACC-2', ['S2']],
    ['/studies', 'AccessionNumber=ACC-*', ['S1', 'S2', 'S3', 'S4', 'S6', 'S7', 'S8']],
    ['/studies', 'AccessionNumber=acc-2', []], // case-sensitive outside PN
    ['/studies', 'StudyID=ST1', ['S1']],
    ['/studies', `StudyInstanceUID=${studyUid('S1')},${studyUid('S3')}`, ['S1', 'S3']],
    ['/studies', `StudyInstanceUID=${studyUid('S2')}\\${studyUid('S4')}`, ['S2', 'S4']],
    ['/studies', `StudyInstanceUID=${studyUid('S2')}`, ['S2']],
    ['/studies', 'StudyDescription=100%*', ['S7']], // '%' in the value is a literal
    ['/studies', 'StudyDescription=*crop', ['S7', 'S8']],
    ['/studies', 'StudyDescription=*forearm*', ['S1']],
    ['/studies', 'ReferringPhysicianName=house*', ['S1']],
    ['/studies', 'ReferringPhysicianName=WILSON^JAMES', ['S4']],
    ['/studies', 'ModalitiesInStudy=DMS', ['S1', 'S4']],
    ['/studies', 'ModalitiesInStudy=CT,DMS', ['S1', 'S3', 'S4', 'S6']],
    ['/studies', 'ModalitiesInStudy=CT\\DMS', ['S1', 'S3', 'S4', 'S6']],
    ['/studies', 'ModalitiesInStudy=*', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // universal
    ['/studies', 'ModalitiesInStudy=D*', ['S1', 'S4']],
    ['/studies', 'ModalitiesInStudy=C?,DM*', ['S1', 'S3', 'S4', 'S6']],
    ['/studies', `SOPClassesInStudy=${SOP_CLASS.CT}`, ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // computed: ignored
    ['/studies', 'InstanceAvailability=ONLINE', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']],
    ['/studies', 'InstanceAvailability=OFFLINE', []],
    ['/studies', 'PatientName=smith*&StudyDate=20240110', ['S1', 'S4']],
    // Attributes without a column: exact values by jsonb containment, at their own level.
    ['/studies', 'PatientComments=VIP', ['S1', 'S2']], // patient level
    ['/studies', 'PatientAge=054Y', ['S1']], // study level (Patient Study module)
    ['/studies', 'PatientAge=05*', []], // no wildcards for AS (PS3.4 C.2.2.2.4): a literal value
    ['/studies', 'PatientComments=V*', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // wildcard without a column: ignored
    ['/studies', 'Modality=CT', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // series attribute ignored
    ['/studies', 'ProcedureCodeSequence=x', ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8']], // sequence ignored

    // Series level, unscoped and within a study.
    ['/studies/S1/series', '', ['SE1', 'SE2']],
    ['/studies/S1/series', 'Modality=DMS', ['SE2']],
    ['/studies/S3/series', 'SeriesNumber=2', ['SE5']],
    ['/series', 'Modality=XC', ['SE1', 'SE3', 'SE5', 'SE7', 'SE9', 'SE10']],
    ['/series', 'Modality=XC&PatientName=smith*', ['SE1', 'SE3', 'SE5']], // patient attribute at series level
    ['/series', 'StudyDate=20240110', ['SE1', 'SE2', 'SE6']], // study attribute at series level
    ['/series', `SeriesInstanceUID=${seriesUid('SE2')},${seriesUid('SE8')}`, ['SE2', 'SE8']],
    ['/series', 'SeriesDescription=*forearm*', ['SE1', 'SE3']],
    ['/series', 'BodyPartExamined=ARM', ['SE1']],
    ['/series', 'Laterality=L', ['SE1', 'SE3']],
    ['/series', 'PerformedProcedureStepStartDate=20240110', ['SE1']],
    ['/series', 'PerformedProcedureStepStartTime=0930', ['SE1']],
    ['/series', 'Manufacturer=Canon', ['SE1', 'SE3']], // series attrs containment
    ['/series', 'Manufacturer=canon', []],
    ['/series', 'OperatorsName=Doe^Jane', ['SE1']], // PN without a column: exact containment
    ['/series', 'OperatorsName=Doe^Jane=ドウ', ['SE1']], // ... on the Alphabetic group
    ['/series', 'OperatorsName=doe^jane', []], // ... case-sensitive
    ['/series', 'PatientComments=VIP', ['SE1', 'SE2', 'SE3']],
    ['/series', 'ModalitiesInStudy=CT', ['SE4', 'SE5', 'SE8']],
    ['/series', 'ImageLaterality=L', ['SE1', 'SE2', 'SE3', 'SE4', 'SE5', 'SE6', 'SE7', 'SE8', 'SE9', 'SE10']], // instance attr ignored

    // Instance level: in a series, in a study, and across the archive.
    ['/studies/S1/series/SE1/instances', '', ['SE1.1', 'SE1.2', 'SE1.3']],
    ['/studies/S1/instances', '', ['SE1.1', 'SE1.2', 'SE1.3', 'SE2.1', 'SE2.2']],
    ['/studies/S1/instances', 'Modality=DMS', ['SE2.1', 'SE2.2']],
    ['/studies/S2/series/SE1/instances', '', []], // series not in that study
    ['/instances', `SOPInstanceUID=${sopUid('SE1.2')},${sopUid('SE4.3')}`, ['SE1.2', 'SE4.3']],
    ['/instances', `SOPInstanceUID=${sopUid('SE1.9')}`, []], // pending
    ['/instances', `SOPClassUID=${SOP_CLASS.DMS}`, ['SE2.1', 'SE2.2', 'SE6.1']],
    ['/instances', 'InstanceNumber=3', ['SE1.3', 'SE4.3']],
    ['/instances', 'Rows=512', ['SE4.1', 'SE4.2', 'SE4.3', 'SE8.1']],
    ['/instances', 'NumberOfFrames=1&Modality=DMS', ['SE2.1', 'SE2.2', 'SE6.1']], // single-frame images: 1
    ['/instances', 'ContentDate=20240110&ContentTime=0931-', ['SE6.1']], // only one is a range: independent
    ['/instances', 'ContentDate=20240110-20240110&ContentTime=093002-093003', ['SE1.2', 'SE1.3', 'SE2.2']],
    ['/instances', 'AcquisitionDateTime=202401100930-202401100930', ['SE1.1', 'SE1.2', 'SE1.3', 'SE2.1', 'SE2.2']],
    ['/instances', 'AcquisitionDateTime=20240110093002', ['SE1.2', 'SE2.2']],
    ['/instances', 'AcquisitionDateTime=2021-', ['SE1.1', 'SE1.2', 'SE1.3', 'SE2.1', 'SE2.2', 'SE3.1', 'SE3.2', 'SE4.1',
      'SE4.2', 'SE4.3', 'SE5.1', 'SE6.1', 'SE7.1', 'SE8.1', 'SE9.1', 'SE10.1']],
    ['/instances', 'AcquisitionDateTime=-2021%2B0100', ['SE9.1', 'SE10.1']],
    ['/instances', 'ImageLaterality=R&PatientID=PID-001&IssuerOfPatientID=', ['SE1.2', 'SE2.2', 'SE3.2']],
    ['/instances', 'PatientID=PID-002', ['SE4.1', 'SE4.2', 'SE4.3', 'SE5.1']],
  ];

  it.each(cases)('%s?%s', async (path, query, expected) => {
    const result = await runQuery(index, path, query);
    expect(names(result, path).sort()).toEqual([...expected].sort());
    expect(result.truncated).toBe(false);
  });

  it('orders studies newest first, series by number, instances by number', async () => {
    expect(names(await runQuery(index, '/studies'), '/studies')).toEqual(['S5', 'S2', 'S4', 'S1', 'S3', 'S6', 'S8', 'S7']);
    expect(names(await runQuery(index, '/studies/S3/series'), '/series')).toEqual(['SE4', 'SE5']);
    expect(names(await runQuery(index, '/studies/S3/instances'), '/instances')).toEqual(['SE4.1', 'SE5.1', 'SE4.2', 'SE4.3']);
  });

  it('returns the PS3.18 study attributes, counts over stored instances, sorted by tag', async () => {
    const { matches: [s1] } = await runQuery(index, '/studies', `StudyInstanceUID=${studyUid('S1')}`);
    expect(Object.keys(s1)).toEqual([...Object.keys(s1)].sort());
    expect(s1).toEqual({
      '00080005': attr('CS', 'ISO_IR 192'),
      '00080020': attr('DA', '20240110'),
      '00080030': attr('TM', '093000'),
      '00080050': attr('SH', 'ACC-1'),
      '00080056': attr('CS', 'ONLINE'),
      '00080061': attr('CS', 'DMS', 'XC'),
      '00080090': attr('PN', pn('House^Gregory')),
      '00080201': attr('SH', '+0000'),
      '00081190': attr('UR', `${BASE}/studies/${studyUid('S1')}`),
      '00100010': attr('PN', pn('Smith^John')),
      '00100020': attr('LO', 'PID-001'),
      '00100030': attr('DA', '19700101'),
      '00100040': attr('CS', 'M'),
      '0020000D': attr('UI', studyUid('S1')),
      '00200010': attr('SH', 'ST1'),
      '00201206': attr('IS', 2), // SE1, SE2
      '00201208': attr('IS', 5), // 3 + 2 stored; the pending SE1.9 does not count
    });
  });

  it('returns empty Type 2 attributes with only their VR', async () => {
    const { matches: [s5] } = await runQuery(index, '/studies', 'PatientID=PID-004');
    expect(s5['00080030']).toEqual({ vr: 'TM' });
    expect(s5['00080050']).toEqual({ vr: 'SH' });
    expect(s5['00080090']).toEqual({ vr: 'PN' });
    expect(s5['00200010']).toEqual({ vr: 'SH' });
    expect(s5['00100010']).toEqual(attr('PN', pn('Müller^Jürgen')));
  });

  it('returns matching keys, including universal ones, and includefield attributes found', async () => {
    const { matches: [s1] } = await runQuery(index, '/studies',
      `StudyInstanceUID=${studyUid('S1')}&PatientAge=&StudyDescription=&includefield=PatientComments,00081030&includefield=PatientWeight`);
    expect(s1['00101010']).toEqual(attr('AS', '054Y'));
    expect(s1['00081030']).toEqual(attr('LO', 'Dermatology left forearm'));
    expect(s1['00104000']).toEqual(attr('LT', 'VIP'));
    expect(s1['00101030']).toBeUndefined(); // not present anywhere
    const { matches: [s2] } = await runQuery(index, '/studies', `StudyInstanceUID=${studyUid('S2')}&PatientAge=`);
    expect(s2['00101010']).toEqual({ vr: 'AS' }); // a universal key without value
  });

  it('includefield=all returns the level and its parents, never lower levels or bulk data', async () => {
    const { matches: [s1] } = await runQuery(index, '/studies', `StudyInstanceUID=${studyUid('S1')}&includefield=all`);
    expect(s1['00104000']).toEqual(attr('LT', 'VIP')); // patient
    expect(s1['00081030']).toEqual(attr('LO', 'Dermatology left forearm')); // study
    expect(s1['00080060']).toBeUndefined(); // series
    expect(s1['00201208']).toEqual(attr('IS', 5));
    const { matches: [i] } = await runQuery(index, '/studies/S1/series/SE1/instances', `SOPInstanceUID=${sopUid('SE1.1')}&includefield=all`);
    expect(i['00200062']).toEqual(attr('CS', 'L')); // instance
    expect(i['00080070']).toEqual(attr('LO', 'Canon')); // series
    expect(i['00081030']).toEqual(attr('LO', 'Dermatology left forearm')); // study
    expect(i['00104000']).toEqual(attr('LT', 'VIP')); // patient
    expect(i['00082218']).toEqual(instanceJson('SE1', 1)['00082218']);
    expect(i['7FE00010']).toBeUndefined();
    expect(Object.keys(i)).toEqual([...Object.keys(i)].sort());
  });

  it('returns series attributes, with study attributes only when not scoped to a study', async () => {
    const { matches: [se1] } = await runQuery(index, '/studies/S1/series', 'SeriesNumber=1');
    expect(se1).toEqual({
      '00080005': attr('CS', 'ISO_IR 192'),
      '00080060': attr('CS', 'XC'),
      '0008103E': attr('LO', 'Left forearm overview'),
      '00080201': attr('SH', '+0000'),
      '00081190': attr('UR', `${BASE}/studies/${studyUid('S1')}/series/${seriesUid('SE1')}`),
      '0020000E': attr('UI', seriesUid('SE1')),
      '00200011': attr('IS', 1),
      '00201209': attr('IS', 3),
      '00400244': attr('DA', '20240110'),
      '00400245': attr('TM', '0930'),
      '00400275': { vr: 'SQ', Value: [{ '00400009': attr('SH', 'SPS1'), '00401001': attr('SH', 'RP1') }] },
    });
    const { matches: [unscoped] } = await runQuery(index, '/series', `SeriesInstanceUID=${seriesUid('SE2')}`);
    expect(unscoped['0020000D']).toEqual(attr('UI', studyUid('S1')));
    expect(unscoped['00100010']).toEqual(attr('PN', pn('Smith^John')));
    expect(unscoped['00201206']).toEqual(attr('IS', 2));
    expect(unscoped['00080061']).toEqual(attr('CS', 'DMS', 'XC'));
    expect(unscoped['00201209']).toEqual(attr('IS', 2));
    expect(unscoped['00081190']).toEqual(attr('UR', `${BASE}/studies/${studyUid('S1')}/series/${seriesUid('SE2')}`));
  });

  it('returns instance attributes, with series and study attributes when unscoped', async () => {
    const { matches: [scoped] } = await runQuery(index, '/studies/S1/series/SE1/instances', 'InstanceNumber=2');
    expect(scoped).toEqual({
      '00080005': attr('CS', 'ISO_IR 192'),
      '00080016': attr('UI', SOP_CLASS.XC),
      '00080018': attr('UI', sopUid('SE1.2')),
      '00080056': attr('CS', 'ONLINE'),
      '00080201': attr('SH', '+0000'),
      '00081190': attr('UR', `${BASE}/studies/${studyUid('S1')}/series/${seriesUid('SE1')}/instances/${sopUid('SE1.2')}`),
      '00200013': attr('IS', 2),
      '00280008': attr('IS', 1), // the index's value for a single-frame image without NumberOfFrames
      '00280010': attr('US', 480),
      '00280011': attr('US', 640),
      '00280100': attr('US', 8),
    });
    const { matches: [inStudy] } = await runQuery(index, '/studies/S1/instances', `SOPInstanceUID=${sopUid('SE2.1')}`);
    expect(inStudy['00080060']).toEqual(attr('CS', 'DMS'));
    expect(inStudy['00201209']).toEqual(attr('IS', 2));
    expect(inStudy['00100010']).toBeUndefined();
    const { matches: [unscoped] } = await runQuery(index, '/instances', `SOPInstanceUID=${sopUid('SE4.1')}`);
    expect(unscoped['0020000D']).toEqual(attr('UI', studyUid('S3')));
    expect(unscoped['0020000E']).toEqual(attr('UI', seriesUid('SE4')));
    expect(unscoped['00100010']).toEqual(attr('PN', pn('SMITHERS^Anna^Marie')));
    expect(unscoped['00080061']).toEqual(attr('CS', 'CT', 'XC'));
    expect(unscoped['00201208']).toEqual(attr('IS', 4));
  });

  it('pages with limit and offset, and reports truncation', async () => {
    const page1 = await runQuery(index, '/studies', 'limit=3');
    expect(names(page1, '/studies')).toEqual(['S5', 'S2', 'S4']);
    expect(page1.truncated).toBe(true);
    const page3 = await runQuery(index, '/studies', 'limit=3&offset=6');
    expect(names(page3, '/studies')).toEqual(['S8', 'S7']);
    expect(page3.truncated).toBe(false);
    const exact = await runQuery(index, '/studies', 'limit=2&offset=6');
    expect(exact.truncated).toBe(false);
    expect(names(await runQuery(index, '/studies', 'offset=100'), '/studies')).toEqual([]);
    const none = await runQuery(index, '/studies', 'limit=0');
    expect(none.matches).toEqual([]);
    expect(none.truncated).toBe(true);
    const defaulted = await runQuery(index, '/studies/S1/instances', '', { defaultLimit: 2, maxLimit: 10 });
    expect(defaulted.matches).toHaveLength(2);
    expect(defaulted.truncated).toBe(true);
    const capped = await runQuery(index, '/instances', 'limit=500', { defaultLimit: 2, maxLimit: 10 });
    expect(capped.matches).toHaveLength(10);
    expect(capped.truncated).toBe(true);
    expect(capped.warnings.join()).toMatch(/limit 500 exceeds the maximum 10/);
  });

  it('reports ignored matching keys as warnings', async () => {
    const result = await runQuery(index, '/studies', 'PatientComments=V*&Modality=CT&ProcedureCodeSequence=x&NumberOfStudyRelatedInstances=5');
    expect(result.warnings).toEqual([
      'Modality: not a study-level attribute; ignored',
      'ProcedureCodeSequence: matching on sequence attributes is not supported; ignored',
      'NumberOfStudyRelatedInstances: matching on this attribute is not supported; ignored',
      'PatientComments: wildcard matching is only supported on indexed attributes; ignored',
    ]);
  });

  it('returns NumberOfFrames from the index, the value it matches on', async () => {
    const { matches } = await runQuery(index, '/instances', 'NumberOfFrames=1&Modality=DMS');
    expect(matches.map((m) => m['00280008'])).toEqual([attr('IS', 1), attr('IS', 1), attr('IS', 1)]);
  });

  it('computes SOPClassesInStudy over stored instances', async () => {
    const { matches: [s1] } = await runQuery(index, '/studies', `StudyInstanceUID=${studyUid('S1')}&includefield=SOPClassesInStudy`);
    expect(s1['00080062']).toEqual(attr('UI', SOP_CLASS.XC, SOP_CLASS.DMS));
    const { matches: [s3] } = await runQuery(index, '/studies', `StudyInstanceUID=${studyUid('S3')}&SOPClassesInStudy=`);
    expect(s3['00080062']).toEqual(attr('UI', SOP_CLASS.CT, SOP_CLASS.XC));
  });
});

describe('the index write path', () => {
  beforeAll(async () => { await resetDatabase(db.pool); });

  it('reservePending claims a UID once and reports the existing row afterwards', async () => {
    const json = instanceJson('SE1', 1);
    expect(await index.reservePending(pending(json))).toEqual({ reserved: true });
    const again = await index.reservePending({ ...pending(json), sha256: 'cd'.repeat(32) });
    expect(again).toEqual({
      reserved: false,
      existing: expect.objectContaining({ status: 'pending', sha256: 'ab'.repeat(32), objectKey: `objects/${sopUid('SE1.1')}`,
        studyInstanceUID: studyUid('S1'), seriesInstanceUID: seriesUid('SE1'), sopClassUID: SOP_CLASS.XC }),
    });
    const first = pending(json).objectKey;
    expect(await index.replacePending({ ...pending(json), objectKey: 'objects/retry', sha256: 'ef'.repeat(32) }, first)).toBe(true);
    expect(await index.commitStored(sopUid('SE1.1'), 'objects/retry', json)).toEqual({ committed: true });
    expect(await index.commitStored(sopUid('SE1.1'), 'objects/retry', json)).toEqual({ committed: false, reason: 'not-pending' });
    expect(await index.replacePending(pending(json), 'objects/retry')).toBe(false);
    await index.deletePending(sopUid('SE1.1'), 'objects/retry'); // a stored row is never deleted by this
    const [found] = await index.findInstances({ studyInstanceUID: studyUid('S1') }, { withMetadata: true });
    expect(found).toEqual({
      studyInstanceUID: studyUid('S1'), seriesInstanceUID: seriesUid('SE1'), sopInstanceUID: sopUid('SE1.1'),
      sopClassUID: SOP_CLASS.XC, transferSyntaxUID: '1.2.840.10008.1.2.4.50', objectKey: 'objects/retry', sizeBytes: 1234,
      sha256: 'ef'.repeat(32), numberOfFrames: 1, hasPixelData: true, decodable: true, patientId: 'PID-001', issuer: '', metadata: json,
    });
    const existing = await index.reservePending(pending(json));
    expect(existing).toMatchObject({ reserved: false, existing: { status: 'stored' } });
  });

  it('deletePending removes a pending row', async () => {
    const json = instanceJson('SE1', 2);
    await index.reservePending(pending(json));
    await index.deletePending(sopUid('SE1.2'), pending(json).objectKey);
    expect(await index.commitStored(sopUid('SE1.2'), pending(json).objectKey, json)).toEqual({ committed: false, reason: 'not-pending' });
    expect(await index.reservePending(pending(json))).toEqual({ reserved: true });
  });

  it('findInstances orders by series number then instance number and filters by series and instance', async () => {
    await resetDatabase(db.pool);
    for (const [se, n] of [['SE2', 2], ['SE1', 3], ['SE2', 1], ['SE1', 1]] as const) await store(index, instanceJson(se, n));
    const all = await index.findInstances({ studyInstanceUID: studyUid('S1') });
    expect(all.map((i) => NAMES.get(i.sopInstanceUID))).toEqual(['SE1.1', 'SE1.3', 'SE2.1', 'SE2.2']);
    const series = await index.findInstances({ studyInstanceUID: studyUid('S1'), seriesInstanceUID: seriesUid('SE2') });
    expect(series.map((i) => NAMES.get(i.sopInstanceUID))).toEqual(['SE2.1', 'SE2.2']);
    const one = await index.findInstances({ studyInstanceUID: studyUid('S1'), sopInstanceUID: sopUid('SE1.3') });
    expect(one.map((i) => NAMES.get(i.sopInstanceUID))).toEqual(['SE1.3']);
    expect(await index.findInstances({ studyInstanceUID: studyUid('S2') })).toEqual([]);
  });

  it('refuses a study that belongs to another patient, changing nothing', async () => {
    await resetDatabase(db.pool);
    await store(index, instanceJson('SE1', 1));
    const before = await db.pool.query('SELECT * FROM patients ORDER BY pk');
    const intruder = instanceJson('SE1', 2, { '00100020': attr('LO', 'PID-999'), '00100010': attr('PN', pn('Other^Person')) });
    expect(await store(index, intruder)).toEqual({ committed: false, reason: 'patient-mismatch' });
    expect((await db.pool.query('SELECT * FROM patients ORDER BY pk')).rows).toEqual(before.rows);
    const { rows } = await db.pool.query('SELECT status FROM instances WHERE sop_uid = $1', [sopUid('SE1.2')]);
    expect(rows).toEqual([{ status: 'pending' }]);
  });

  it('refuses a series that belongs to another study', async () => {
    await resetDatabase(db.pool);
    await store(index, instanceJson('SE1', 1));
    const moved = instanceJson('SE1', 3, { '0020000D': attr('UI', studyUid('S2')) });
    expect(await store(index, moved)).toEqual({ committed: false, reason: 'study-mismatch' });
    expect(await db.pool.query('SELECT count(*)::int AS n FROM studies')).toMatchObject({ rows: [{ n: 1 }] });
  });

  it('shows no study or series without a stored instance (rows a refused racing commit may leave)', async () => {
    await db.pool.query(`INSERT INTO studies (study_uid, patient_fk) SELECT '2.25.1.77', pk FROM patients LIMIT 1`);
    await db.pool.query(`INSERT INTO series (series_uid, study_fk) SELECT '2.25.2.77', pk FROM studies WHERE study_uid = $1`, [studyUid('S1')]);
    expect(names(await runQuery(index, '/studies'), '/studies')).toEqual(['S1']);
    expect(names(await runQuery(index, '/series'), '/series')).toEqual(['SE1']);
    const { matches: [s1] } = await runQuery(index, '/studies');
    expect(s1['00201206']).toEqual(attr('IS', 1));
  });

  it('lets the latest committed instance win for patient, study and series attributes', async () => {
    await store(index, instanceJson('SE1', 4, {
      '00081030': attr('LO', 'Renamed study'), '00100010': attr('PN', pn('Smith^Johnny')), '00080070': attr('LO', 'Nikon'),
    }));
    const { matches: [s] } = await runQuery(index, '/series', `SeriesInstanceUID=${seriesUid('SE1')}&includefield=StudyDescription,Manufacturer`);
    expect(s['00081030']).toEqual(attr('LO', 'Renamed study'));
    expect(s['00100010']).toEqual(attr('PN', pn('Smith^Johnny')));
    expect(s['00080070']).toEqual(attr('LO', 'Nikon'));
    expect(names(await runQuery(index, '/studies', 'PatientName=smith^johnny'), '/studies')).toEqual(['S1']);
  });

  it('commits 16 instances of one new patient/study/series concurrently', async () => {
    await resetDatabase(db.pool);
    const series = ['SE1', 'SE2'] as const;
    const jsons = Array.from({ length: 16 }, (_, k) => instanceJson(series[k % 2], k + 1));
    await Promise.all(jsons.map((j) => index.reservePending(pending(j))));
    const results = await Promise.all(jsons.map((j) => index.commitStored(String(j['00080018'].Value![0]), pending(j).objectKey, j)));
    expect(results).toEqual(Array(16).fill({ committed: true }));
    const counts = await db.pool.query(`SELECT (SELECT count(*) FROM patients)::int AS p, (SELECT count(*) FROM studies)::int AS st,
      (SELECT count(*) FROM series)::int AS se, (SELECT count(*) FROM instances WHERE status = 'stored')::int AS i`);
    expect(counts.rows[0]).toEqual({ p: 1, st: 1, se: 2, i: 16 });
    const { matches: [s1] } = await runQuery(index, '/studies');
    expect(s1['00201206']).toEqual(attr('IS', 2));
    expect(s1['00201208']).toEqual(attr('IS', 16));
  });

  it('refuses, without errors, the losers of a race to create one study under two patients', async () => {
    await resetDatabase(db.pool);
    const other = { '00100020': attr('LO', 'PID-999'), '00100010': attr('PN', pn('Other^Person')) };
    const jsons = Array.from({ length: 16 }, (_, k) => instanceJson('SE1', k + 1, k % 2 ? other : {}));
    await Promise.all(jsons.map((j) => index.reservePending(pending(j))));
    const results = await Promise.all(jsons.map((j) => index.commitStored(String(j['00080018'].Value![0]), pending(j).objectKey, j)));
    const committed = results.map((r, k) => (r.committed ? k % 2 : undefined)).filter((k) => k !== undefined);
    expect(committed).toHaveLength(8);
    expect(new Set(committed).size).toBe(1); // all winners belong to the same patient
    expect(results.filter((r) => !r.committed)).toEqual(Array(8).fill({ committed: false, reason: 'patient-mismatch' }));
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM instances WHERE status = 'pending'`);
    expect(rows).toEqual([{ n: 8 }]);
  });
});
