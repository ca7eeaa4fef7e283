import type { InstanceFilter } from '../port.js';
import { findInstancesSql, studyPatientSql } from './instances.js';

describe('findInstancesSql', () => {
  const filters: InstanceFilter[] = [
    { studyInstanceUID: '1.2' }, { studyInstanceUID: '1.2', seriesInstanceUID: '1.2.3' },
    { studyInstanceUID: '1.2', sopInstanceUID: '1.2.3.4' }, { studyInstanceUID: '1.2', seriesInstanceUID: '1.2.3', sopInstanceUID: '1.2.3.4' },
    { sopInstanceUID: '1.2.3.4' },
  ];

  it('finds an instance by its SOP Instance UID alone, with no study condition', () => {
    const sql = findInstancesSql({ sopInstanceUID: '1.2.3.4' }, true, { patient: { id: 'P1' } });
    expect(sql.text).not.toMatch(/study_uid =/);
    expect(sql.text).toMatch(/i\.sop_uid = \$1/);
    expect(sql.values).toEqual(['1.2.3.4', 'P1']);
  });

  it('gives each statement text its own prepared-statement name (node-postgres refuses one name for two texts)', () => {
    const texts = new Map<string, string>();
    for (const f of filters) {
      for (const m of [false, true]) {
        const { name, text } = findInstancesSql(f, m);
        expect(texts.get(name!) ?? text).toBe(text);
        texts.set(name!, text);
      }
    }
    expect(texts.size).toBe(filters.length * 2);
  });

  it('refuses a filter with neither a study nor an instance UID (it would read the whole index)', () => {
    expect(() => findInstancesSql({} as InstanceFilter)).toThrow(/no study or instance UID/);
  });
});

describe('studyPatientSql', () => {
  it('finds the patient by study UID, or by the SOP Instance UID of one of its instances', () => {
    expect(studyPatientSql('1.2').text).toMatch(/WHERE st\.study_uid = \$1/);
    const bySop = studyPatientSql({ sopInstanceUID: '1.2.3.4' }, { patient: { id: 'P1' } });
    expect(bySop.text).toMatch(/WHERE i\.sop_uid = \$1/);
    expect(bySop.values).toEqual(['1.2.3.4', 'P1']);
  });
});
