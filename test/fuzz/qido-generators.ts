/**
 * Random QIDO-RS requests (PS3.18 §10.6): paths at every level (with real, random and broken UIDs),
 * query strings mixing valid and invalid attribute keywords and tags (any attribute of the PS3.6
 * dictionary), values by VR (dates, ranges, times, names with wildcards, UID lists, integers at the
 * edges), fuzzymatching, includefield, limit/offset edge values, repeated keys, unicode,
 * percent-encoding garbage, and Accept headers the server can and cannot produce.
 */
import dcmjs from 'dcmjs';
import { nastyString, type Rng } from './random.js';

export interface QidoCase { path: string; headers: Record<string, string>; description: string }

const dictionary = Object.values(dcmjs.data.DicomMetaDictionary.nameMap as Record<string, { tag: string; name: string; vr: string }>)
  .filter((e) => /^\([0-9A-F]{4},[0-9A-F]{4}\)$/i.test(e.tag) && e.name);

const COMMON = ['PatientName', 'PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientSex', 'StudyInstanceUID', 'StudyDate',
  'StudyTime', 'AccessionNumber', 'StudyID', 'StudyDescription', 'ReferringPhysicianName', 'ModalitiesInStudy', 'SeriesInstanceUID',
  'Modality', 'SeriesNumber', 'SeriesDescription', 'SeriesDate', 'SeriesTime', 'PerformedProcedureStepStartDate',
  'PerformedProcedureStepStartTime', 'BodyPartExamined', 'Laterality', 'SOPInstanceUID', 'SOPClassUID', 'InstanceNumber', 'Rows',
  'Columns', 'NumberOfFrames', 'ContentDate', 'ContentTime', 'AcquisitionDateTime', 'InstanceAvailability', 'OperatorsName',
  'NumberOfStudyRelatedInstances', 'RetrieveURL', 'AnatomicRegionSequence', 'ImageLaterality', 'WindowCenter', 'SliceThickness'];

const vrOf = new Map(dictionary.map((e) => [e.name, e.vr]));

function dateValue(rng: Rng): string {
  return rng.pick<() => string>([
    () => '20260101', () => '19000101-20991231', () => '20260101-', () => '-20260101', () => '-', () => '2026', () => '20261301',
    () => '20260230', () => '00000000', () => '99999999', () => '2026-01-01', () => '20260101-20250101', () => '20260101--20260102',
    () => `${rng.int(1000, 9999)}${String(rng.int(0, 13)).padStart(2, '0')}${String(rng.int(0, 32)).padStart(2, '0')}`,
  ])();
}

function timeValue(rng: Rng): string {
  return rng.pick(['09', '0930', '093000', '093000.123456', '093000.1234567', '25', '0960', '2359-', '-0100', '0900-1000', '24',
    '23:59:59', '1', '093000.', '.5', '1000-0900']);
}

function dateTimeValue(rng: Rng): string {
  return rng.pick(['2026', '20260101093000', '20260101093000+0100', '20260101093000-0500', '2026-2027', '20260101093000+0100-',
    '-20260101093000+1400', '20260101093000+9999', '20261301', '2026010109300', ' 0100', '20260101093000.123456+0000']);
}

function valueFor(rng: Rng, vr: string): string {
  if (rng.chance(0.15)) return nastyString(rng);
  switch (vr) {
    case 'DA': return dateValue(rng);
    case 'TM': return timeValue(rng);
    case 'DT': return dateTimeValue(rng);
    case 'PN': return rng.pick(['Smith*', '*', '?', 'SMITH^JOHN', 'smith', '^', '=山田', 'Yamada*=山田*', 'a^b^c^d^e^f', '*^*', 'O\'Brien', '%', '_', 'jo sm', '--', '\\']);
    case 'UI': return rng.pick(['1.2.3', '1.2.3\\4.5.6', '1.2.3,4.5.6', '1..2', '01.2', 'x', `1.${'2'.repeat(70)}`, '1.2.3\\', '\\\\', '1.2.3 , 4.5']);
    case 'IS': case 'US': case 'SS': case 'UL': case 'SL': case 'UV': case 'SV':
      return rng.pick(['1', '0', '-1', '+5', '2147483647', '2147483648', '-2147483649', '99999999999999999999', '1.5', 'abc', '1e3', '0x10', ' 7 ', '']);
    case 'DS': case 'FL': case 'FD':
      return rng.pick(['1.5', '-0', '1e308', '1e309', 'Infinity', 'NaN', '0x10', '.', '1,5', '  ', '-1e-400']);
    case 'CS': return rng.pick(['XC', 'CT', 'C*', '*', 'x?', 'ONLINE', 'OFFLINE', 'CT\\XC', 'CT,XC', ',', 'lower', 'X'.repeat(200)]);
    default: return rng.pick(['a', '*', 'abc*def', '?', 'x'.repeat(rng.int(1, 3000)), '']);
  }
}

function keyFor(rng: Rng): { key: string; vr: string } {
  return rng.weighted<() => { key: string; vr: string }>([
    [5, () => { const k = rng.pick(COMMON); return { key: k, vr: vrOf.get(k) ?? 'LO' }; }],
    [3, () => { const e = rng.pick(dictionary); return { key: e.name, vr: e.vr }; }],
    [2, () => { const e = rng.pick(dictionary); const tag = e.tag.replace(/[(),]/g, ''); return { key: rng.chance(0.5) ? tag : tag.toLowerCase(), vr: e.vr }; }],
    [1, () => ({ key: rng.u32().toString(16).padStart(8, '0'), vr: 'UN' })],
    [1, () => ({ key: rng.pick(['0009' + '1010', '7FE00010', 'FFFEE000', '00000000']), vr: 'UN' })],
    [1, () => ({ key: rng.pick(['00400275.00400009', 'AnatomicRegionSequence.CodeValue', 'a.b.c', '.', '..', 'PatientName.PatientID', `${'x.'.repeat(200)}x`]), vr: 'LO' })],
    [1, () => ({ key: rng.pick(['NotAKeyword', '', 'patientname', 'PATIENTNAME', 'PatientName ', ' PatientID', nastyString(rng).slice(0, 200)]), vr: 'LO' })],
  ])();
}

/** Encodes a query component: usually properly, sometimes raw (Node still refuses controls and spaces), sometimes with garbage escapes. */
function encode(rng: Rng, s: string): string {
  const mode = rng.weighted<string>([[6, 'proper'], [2, 'raw'], [1, 'garbage']]);
  if (mode === 'proper') return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'));
  const raw = s.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c.replace(/[\ud800-\udfff]/g, '?')));
  if (mode === 'raw') return raw;
  return raw + rng.pick(['%', '%z', '%zz', '%C0%AF', '%00', '%ff%fe', '%uD800', '%%', '%2', '%E2%82']);
}

const CONTROL = ['includefield', 'fuzzymatching', 'limit', 'offset'];

function controlValue(rng: Rng, key: string): string {
  switch (key) {
    case 'includefield': return rng.pick(['all', '00100010', 'PatientName,StudyDescription', 'all,NotAKeyword', 'NotAKeyword', '', ',,,', '00400275.00400009', 'AnatomicRegionSequence', 'x'.repeat(2000), Array.from({ length: rng.int(10, 500) }, () => rng.pick(dictionary).name).join(',')]);
    case 'fuzzymatching': return rng.pick(['true', 'false', 'TRUE', '1', '', 'yes']);
    default: return rng.pick(['0', '1', '-1', '', '10', '1000', '1001', '999999999999999', '9999999999999999', '1e3', '0x10', ' 5', '+1', '18446744073709551616', 'NaN', '2147483648']);
  }
}

export function qidoCase(rng: Rng, known: { study: string; series: string }[]): QidoCase {
  const ref = known.length ? rng.pick(known) : { study: '1.2.3', series: '1.2.3.4' };
  const uid = (real: string) => rng.weighted<() => string>([
    [4, () => real], [2, () => `1.2.${rng.int(1, 1e9)}`], [1, () => encode(rng, nastyString(rng).slice(0, 100))],
    [1, () => rng.pick(['..', '%2e%2e', '1..2', `1.${'9'.repeat(100)}`, '%00', '*'])],
  ])();
  const path = rng.weighted<() => string>([
    [4, () => '/dicomweb/studies'], [3, () => '/dicomweb/series'], [3, () => '/dicomweb/instances'],
    [1, () => `/dicomweb/studies/${uid(ref.study)}/series`], [1, () => `/dicomweb/studies/${uid(ref.study)}/instances`],
    [1, () => `/dicomweb/studies/${uid(ref.study)}/series/${uid(ref.series)}/instances`],
  ])();
  const pairs: string[] = [];
  const what: string[] = [];
  for (let n = rng.int(0, 8); n > 0; n--) {
    if (rng.chance(0.25)) {
      const key = rng.pick(CONTROL);
      pairs.push(`${key}=${encode(rng, controlValue(rng, key))}`);
      what.push(key);
      continue;
    }
    const { key, vr } = keyFor(rng);
    const value = rng.chance(0.1) ? '' : valueFor(rng, vr);
    pairs.push(`${encode(rng, key)}=${encode(rng, value)}`);
    what.push(key.slice(0, 40));
    if (rng.chance(0.05)) pairs.push(pairs[pairs.length - 1]); // repeated key
  }
  if (rng.chance(0.05)) pairs.push(rng.pick(['&&', '=', '==', 'a', ';', '&=&', 'accept=application/dicom+json', 'charset=utf-8', 'accept=text/html', '%', '+']));
  const headers: Record<string, string> = {};
  if (rng.chance(0.3)) {
    headers.Accept = rng.pick(['application/dicom+json', 'application/json', '*/*', 'application/dicom+xml', 'multipart/related; type="application/dicom+xml"',
      'text/html', 'application/dicom+json; q=0', 'application/*;q=0.5, */*;q=0.1', ';;;', 'application/dicom+json; charset=latin1', 'x'.repeat(4000)]);
  }
  const query = pairs.length ? `?${pairs.join('&')}` : rng.chance(0.05) ? '?' : '';
  return { path: `${path}${query}`, headers, description: `${path.split('/').slice(2).join('/').slice(0, 60)} ${what.join(',')}` };
}
