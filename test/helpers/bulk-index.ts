/**
 * Bulk-loads a synthetic index straight into the tables (for scale tests and query-plan checks),
 * following the column conventions of commitStored (index-rows.ts): PN search keys and word prefixes
 * computed with the real normalize.ts functions, TM as HHMMSS.FFFFFF, level attributes in attrs, a
 * few instance attributes in metadata. Everything else is generated in SQL, so the load stays fast.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { pnSearchKey, pnWordPrefixes } from '../../services/core/index/normalize.js';

const PATIENTS = 2_500;
const STUDIES = 5_000; // 2 per patient
const SERIES = 10_000; // 2 per study
const INSTANCES = 20_000; // 2 per series

const pnJson = (expr: string) => `jsonb_build_object('vr', 'PN', 'Value', jsonb_build_array(jsonb_build_object('Alphabetic', ${expr})))`;
const strJson = (vr: string, expr: string) => `jsonb_build_object('vr', '${vr}', 'Value', jsonb_build_array(${expr}))`;

/** Letters for the hex digits of a hash, some non-ASCII so that upper-casing is exercised beyond ASCII. */
const LETTERS: Record<string, string> = Object.fromEntries([...'0123456789abcdef'].map((c, i) => [c, 'ghijklmnöpabcdéf'[i]]));
const word = (seed: string, length: number) => {
  const letters = [...createHash('md5').update(seed).digest('hex').slice(0, length)].map((c) => LETTERS[c]).join('');
  return letters[0].toUpperCase() + letters.slice(1);
};

/** Each patient's name ('Family^Given'), search key and word prefixes ('|'-joined), as commitStored stores them. */
function patientNames(): { names: string[]; keys: string[]; prefixes: string[] } {
  const names: string[] = [];
  const keys: string[] = [];
  const prefixes: string[] = [];
  for (let g = 1; g <= PATIENTS; g++) {
    const name = `${word(String(g), 7)}^${word(`given${g}`, 5)}`;
    names.push(name);
    keys.push(pnSearchKey(name)!);
    prefixes.push(pnWordPrefixes(name).join('|'));
  }
  return { names, keys, prefixes };
}

const PATIENTS_SQL = `INSERT INTO patients (patient_id, issuer, patient_name, patient_name_search, patient_name_prefixes, birth_date, sex, attrs)
   SELECT 'BULK-' || g, '', n.name, n.search, string_to_array(n.prefixes, '|'),
          to_char(date '1940-01-01' + (g * 7) % 25000, 'YYYYMMDD'),
          CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
          jsonb_build_object('00100010', ${pnJson('n.name')}, '00100020', ${strJson('LO', `'BULK-' || g`)})
   FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS n(name, search, prefixes, ord),
        LATERAL (SELECT n.ord::int AS g) k`;

const LOAD = [
  `INSERT INTO studies (study_uid, patient_fk, study_date, study_time, accession_number, study_id, study_description, attrs)
   SELECT '2.25.9.1.' || g, p.pk, d.date, d.time, 'BULK-ACC-' || g, 'S' || g, 'Bulk study ' || g,
          jsonb_build_object('0020000D', ${strJson('UI', `'2.25.9.1.' || g`)}, '00080020', ${strJson('DA', 'd.date')},
                             '00080050', ${strJson('SH', `'BULK-ACC-' || g`)})
   FROM generate_series(1, ${STUDIES}) g
   JOIN patients p ON p.patient_id = 'BULK-' || ((g - 1) / 2 + 1)
   CROSS JOIN LATERAL (SELECT to_char(date '2015-01-01' + g % 3650, 'YYYYMMDD') AS date,
                              lpad(((g * 7) % 24)::text, 2, '0') || '3000.000000' AS time) d`,
  `INSERT INTO series (series_uid, study_fk, modality, series_number, series_description, attrs)
   SELECT '2.25.9.2.' || g, st.pk, (ARRAY['XC', 'DMS', 'CT'])[g % 3 + 1], g % 2 + 1, 'Bulk series ' || g,
          jsonb_build_object('0020000E', ${strJson('UI', `'2.25.9.2.' || g`)},
                             '00080070', ${strJson('LO', `'Maker ' || (g % 50)`)})
   FROM generate_series(1, ${SERIES}) g
   JOIN studies st ON st.study_uid = '2.25.9.1.' || ((g - 1) / 2 + 1)`,
  `INSERT INTO instances (sop_uid, status, study_uid, series_uid, study_fk, series_fk, sop_class_uid, instance_number,
                          transfer_syntax_uid, rows, columns, number_of_frames, object_key, size_bytes, sha256, metadata)
   SELECT '2.25.9.3.' || g, 'stored', st.study_uid, se.series_uid, st.pk, se.pk, '1.2.840.10008.5.1.4.1.1.77.1.4', g % 2 + 1,
          '1.2.840.10008.5.1.4.1.1.2.4.50', 480, 640, 1, 'objects/' || g, 1000, md5(g::text),
          jsonb_build_object('00080018', ${strJson('UI', `'2.25.9.3.' || g`)}, '00200013', ${strJson('IS', 'g % 2 + 1')},
                             '00200062', ${strJson('CS', `CASE WHEN g % 2 = 0 THEN 'L' ELSE 'R' END`)})
   FROM generate_series(1, ${INSTANCES}) g
   JOIN series se ON se.series_uid = '2.25.9.2.' || ((g - 1) / 2 + 1)
   JOIN studies st ON st.pk = se.study_fk`,
  // A few pending rows, as a live archive has.
  `INSERT INTO instances (sop_uid, status, study_uid, series_uid, sop_class_uid, transfer_syntax_uid, object_key, size_bytes, sha256)
   SELECT '2.25.9.4.' || g, 'pending', '2.25.9.1.1', '2.25.9.2.1', '1.2.840.10008.5.1.4.1.1.77.1.4', '1.2.840.10008.1.2.1',
          'objects/p' || g, 1000, md5(g::text)
   FROM generate_series(1, 50) g`,
];

export const BULK_SIZES = { PATIENTS, STUDIES, SERIES, INSTANCES };

export async function loadBulkIndex(pool: pg.Pool): Promise<void> {
  const { names, keys, prefixes } = patientNames();
  await pool.query(PATIENTS_SQL, [names, keys, prefixes]);
  for (const statement of LOAD) await pool.query(statement);
  // VACUUM also moves the bulk-inserted entries out of the GIN pending lists, as autovacuum does
  // in a live archive; with them still pending the planner rightly avoids the GIN indexes.
  await pool.query('VACUUM ANALYZE patients, studies, series, instances');
}
