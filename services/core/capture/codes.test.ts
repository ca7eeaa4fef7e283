import {
  ANATOMIC_SITES, CID_244_LATERALITY, CID_4028_CRANIOFACIAL_ANATOMIC_REGION, CID_4029_DERMATOLOGY_ANATOMIC_SITE,
  CID_4031_COMMON_ANATOMIC_REGION, CID_4062_VL_VIEW, CID_4063_VL_DENTAL_VIEW, FACIAL_KEYS, VIEWS_SUPPORTED,
  findAnatomicSite, findView, lateralityConcept, lateralityFromCode, toCodedConcept,
} from './codes.js';
import { FORBIDDEN_IN_LO } from './dicom-text.js';

const TABLES = {
  'CID 4029': CID_4029_DERMATOLOGY_ANATOMIC_SITE,
  'CID 4031': CID_4031_COMMON_ANATOMIC_REGION,
  'CID 4028': CID_4028_CRANIOFACIAL_ANATOMIC_REGION,
  'CID 4062': CID_4062_VL_VIEW,
  'CID 4063': CID_4063_VL_DENTAL_VIEW,
};

describe('the supported value sets (transcribed from PS3.16)', () => {
  it('have every row of the published context groups', () => {
    // Row counts of the versions transcribed (see codes.ts): a lost or duplicated line shows here.
    expect(Object.fromEntries(Object.entries(TABLES).map(([cid, rows]) => [cid, rows.length]))).toEqual({
      'CID 4029': 208, 'CID 4031': 119, 'CID 4028': 56, 'CID 4062': 10, 'CID 4063': 1,
    });
  });

  it.each(Object.entries(TABLES))('%s lists each code once, with values that fit Code Value (SH 16) and Code Meaning (LO 64)', (_cid, rows) => {
    const keys = rows.map(([scheme, code]) => `${scheme}:${code}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const [scheme, code, meaning] of rows) {
      expect(['SCT', 'FMA', 'DCM']).toContain(scheme);
      expect(code).toMatch(/^[0-9]{1,16}$/);
      expect(meaning.length).toBeGreaterThan(0);
      expect(meaning.length).toBeLessThanOrEqual(64);
      expect(meaning).not.toMatch(FORBIDDEN_IN_LO);
    }
  });

  it('gives a code the same meaning in every group that lists it (so merging them loses nothing)', () => {
    const meanings = new Map<string, string>();
    for (const rows of Object.values(TABLES)) {
      for (const [scheme, code, meaning] of rows) {
        const key = `${scheme}:${code}`;
        expect(meanings.get(key) ?? meaning).toBe(meaning);
        meanings.set(key, meaning);
      }
    }
  });

  it('merges the three anatomic groups into one list, remembering which groups list each site', () => {
    const distinct = new Set([...CID_4029_DERMATOLOGY_ANATOMIC_SITE, ...CID_4031_COMMON_ANATOMIC_REGION, ...CID_4028_CRANIOFACIAL_ANATOMIC_REGION]
      .map(([s, c]) => `${s}:${c}`));
    expect(ANATOMIC_SITES).toHaveLength(distinct.size);
    expect(findAnatomicSite('69536005')?.cids).toEqual([4031, 4028]); // Head
    expect(findAnatomicSite('38199008')?.cids).toEqual([4029, 4028]); // Tooth
    expect(VIEWS_SUPPORTED).toHaveLength(11);
  });

  it('marks as facial only codes that exist in the tables', () => {
    // An emptied list would pass the loops below vacuously (and stop flagging faces as recognisable).
    expect(FACIAL_KEYS.sites.length).toBeGreaterThanOrEqual(80);
    expect(FACIAL_KEYS.views.length).toBeGreaterThanOrEqual(1);
    for (const key of FACIAL_KEYS.sites) {
      const [scheme, code] = key.split(':');
      expect(findAnatomicSite(code, scheme)?.facial).toBe(true);
    }
    for (const key of FACIAL_KEYS.views) {
      const [scheme, code] = key.split(':');
      expect(findView(code, scheme)?.facial).toBe(true);
    }
    // ...and nothing else is facial: the flagged rows are exactly the lists (no duplicates either).
    const keysOf = (rows: readonly { scheme: string; code: string }[]) => rows.map((r) => `${r.scheme}:${r.code}`).sort();
    expect(keysOf(ANATOMIC_SITES.filter((s) => s.facial))).toEqual([...FACIAL_KEYS.sites].sort());
    expect(keysOf(VIEWS_SUPPORTED.filter((v) => v.facial))).toEqual([...FACIAL_KEYS.views].sort());
  });
});

describe('findAnatomicSite', () => {
  it('finds a dermatology site by SNOMED CT code, SCT being the default scheme', () => {
    expect(findAnatomicSite('70559009')).toEqual({
      code: '70559009', scheme: 'SCT', meaning: 'Skin of anterior surface of forearm', cids: [4029], facial: false,
    });
  });

  it('finds the FMA and DCM sites of CID 4029 under their own schemes only', () => {
    expect(findAnatomicSite('59532', 'FMA')?.meaning).toBe('Skin of dorsum of nose');
    expect(findAnatomicSite('130305', 'DCM')?.meaning).toBe('Skin of anterior helix of ear');
    expect(findAnatomicSite('59532')).toBeUndefined();
  });

  it('finds sites of CID 4031 and CID 4028', () => {
    expect(findAnatomicSite('38266002')?.meaning).toBe('Entire body');
    expect(findAnatomicSite('48477009')?.meaning).toBe('Lip');
  });

  it('does not know codes outside the supported groups, or a known code under another scheme', () => {
    expect(findAnatomicSite('89545001')).toBeUndefined(); // Face: CID 4, not supported
    expect(findAnatomicSite('70559009', 'SRT')).toBeUndefined();
    expect(findAnatomicSite('')).toBeUndefined();
  });

  it.each([
    ['73897004', 'Skin of face'], ['113179006', 'Skin of nose'], ['40069000', 'Skin of lower eyelid'],
    ['1902009', 'Skin of ear'], ['88089004', 'Skin of lip'], ['69536005', 'Head'], ['38266002', 'Entire body'],
    ['28347008', 'External ear'], ['48477009', 'Lip'],
  ])('marks %s (%s) as facial', (code) => {
    expect(findAnatomicSite(code)?.facial).toBe(true);
  });

  it.each([
    ['70559009', 'Skin of anterior surface of forearm'], ['66643007', 'Skin of back'], ['43067004', 'Skin of scalp'],
    ['43081002', 'Skin of neck'], ['21974007', 'Tongue'], ['38199008', 'Tooth'], ['56459004', 'Foot'],
  ])('does not mark %s (%s) as facial', (code) => {
    expect(findAnatomicSite(code)?.facial).toBe(false);
  });
});

describe('findView', () => {
  it('finds the VL views of CID 4062 with their standard (lower-case) meanings', () => {
    expect(toCodedConcept(findView('399033003')!)).toEqual({ code: '399033003', scheme: 'SCT', meaning: 'frontal' });
    expect(findView('399173006')?.meaning).toBe('left lateral');
  });

  it('finds the dental view of CID 4063', () => {
    expect(findView('260499007')?.meaning).toBe('Occlusal projection');
  });

  it('treats only the submentovertical view as facial: the others are projections of any site', () => {
    expect(VIEWS_SUPPORTED.filter((v) => v.facial).map((v) => v.meaning)).toEqual(['submentovertical']);
  });

  it('does not know anatomic sites or other codes as views', () => {
    expect(findView('70559009')).toBeUndefined();
  });
});

describe('laterality (CID 244)', () => {
  it('maps Image Laterality R, L and B to the CID 244 concepts, and U to none', () => {
    expect(lateralityConcept('R')).toEqual({ code: '24028007', scheme: 'SCT', meaning: 'Right' });
    expect(lateralityConcept('L')).toEqual({ code: '7771000', scheme: 'SCT', meaning: 'Left' });
    expect(lateralityConcept('B')).toEqual({ code: '51440002', scheme: 'SCT', meaning: 'Bilateral' });
    expect(lateralityConcept('U')).toBeUndefined();
  });

  it('maps the codes back', () => {
    for (const side of ['R', 'L', 'B'] as const) {
      expect(lateralityFromCode(CID_244_LATERALITY[side].code)).toBe(side);
    }
    expect(lateralityFromCode('66459002')).toBeUndefined(); // Unilateral: no Image Laterality for it
    expect(lateralityFromCode('24028007', 'DCM')).toBeUndefined();
  });
});
