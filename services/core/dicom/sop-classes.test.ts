import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { itWithTools } from '../../../test/fixtures/tools.js';
import { PHOTOGRAPH_SOP_CLASSES, SOP_CLASS, STORAGE_SOP_CLASSES, isPhotograph, isStorageSopClass, sopClassOf } from './sop-classes.js';
import { readPart10 } from './reader.js';
import { isValidUid } from './uids.js';
import { writePart10 } from './write.js';

describe('storage SOP classes', () => {
  it('lists the classes Lucida relies on with their PS3.6 names', () => {
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.77.1.4')).toBe('VL Photographic Image Storage');
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.77.1.7')).toBe('Dermoscopic Photography Image Storage');
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.2')).toBe('CT Image Storage');
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.7')).toBe('Secondary Capture Image Storage');
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.104.1')).toBe('Encapsulated PDF Storage');
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.88.59')).toBe('Key Object Selection Document Storage');
    expect(STORAGE_SOP_CLASSES.get('1.2.840.10008.5.1.4.1.1.481.3')).toBe('RT Structure Set Storage');
    expect(SOP_CLASS.VLPhotographicImage).toBe('1.2.840.10008.5.1.4.1.1.77.1.4');
  });

  it('has only valid, distinct UIDs and names', () => {
    expect(STORAGE_SOP_CLASSES.size).toBeGreaterThan(100);
    for (const uid of STORAGE_SOP_CLASSES.keys()) expect(isValidUid(uid)).toBe(true);
    expect(new Set(STORAGE_SOP_CLASSES.values()).size).toBe(STORAGE_SOP_CLASSES.size);
  });

  it('isStorageSopClass', () => {
    expect(isStorageSopClass('1.2.840.10008.5.1.4.1.1.77.1.4')).toBe(true);
    expect(isStorageSopClass('1.2.840.10008.1.1')).toBe(false); // Verification
    expect(isStorageSopClass('1.2.840.10008.5.1.4.1.1.77.1.4.9')).toBe(false);
  });

  // Every UID is checked against DCMTK's own UID table: dcmdump prints "=<Name>" for UIDs it knows.
  itWithTools(['dcmdump'], 'agrees with DCMTK on every UID it knows', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lucida-sop-'));
    try {
      const uids = [...STORAGE_SOP_CLASSES.keys()];
      const file = path.join(dir, 'classes.dcm');
      writeFileSync(file, writePart10({}, {
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
        SOPInstanceUID: '1.2.3',
        ReferencedSOPSequence: uids.map((u) => ({ ReferencedSOPClassUID: u, ReferencedSOPInstanceUID: '1.2.3' })),
      }));
      const dump = execFileSync('dcmdump', ['-q', file], { encoding: 'utf8' });
      const names = [...dump.matchAll(/\(0008,1150\) UI (\S+)/g)].map((m) => m[1]);
      expect(names).toHaveLength(uids.length);
      const norm = (s: string) => s.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
      // DCMTK 3.6.7 spells two names differently and predates one class.
      const dcmtkSpelling: Record<string, string> = { '12leadecgwaveformstorage': 'twelveleadecgwaveformstorage' };
      const newerThanDcmtk = new Set(['1.2.840.10008.5.1.4.1.1.66.7']);
      uids.forEach((uid, i) => {
        if (newerThanDcmtk.has(uid) && names[i].startsWith('[')) return;
        const ours = norm(STORAGE_SOP_CLASSES.get(uid)!);
        expect([uid, norm(names[i].replace(/^=/, ''))]).toEqual([uid, dcmtkSpelling[ours] ?? ours]);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SOP_CLASS', () => {
  it('names storage classes by their PS3.6 keyword without "Storage"', () => {
    const keyword = (name: string) => name.replace(/ Storage$/, '').replace(/ - /g, ' ').replace(/(^| )(\w)/g, (_m, _s, c: string) => c.toUpperCase())
      .replace(/[^A-Za-z0-9]/g, '');
    for (const [key, uid] of Object.entries(SOP_CLASS)) {
      const name = STORAGE_SOP_CLASSES.get(uid);
      expect([key, name && keyword(name)]).toEqual([key, key === 'SecondaryCapture' ? 'SecondaryCaptureImage' : key]);
    }
  });
});

describe('isPhotograph', () => {
  it('is true for single-frame VL still-image classes only', () => {
    expect(isPhotograph(SOP_CLASS.VLPhotographicImage, 1)).toBe(true);
    expect(isPhotograph(SOP_CLASS.DermoscopicPhotographyImage, 1)).toBe(true);
    expect(isPhotograph('1.2.840.10008.5.1.4.1.1.77.1.1', 1)).toBe(true); // VL Endoscopic
    expect(isPhotograph(SOP_CLASS.VLPhotographicImage, 2)).toBe(false);
    expect(isPhotograph(SOP_CLASS.VideoPhotographicImage, 1)).toBe(false);
    expect(isPhotograph('1.2.840.10008.5.1.4.1.1.77.1.6', 1)).toBe(false); // whole slide
    expect(isPhotograph(SOP_CLASS.CTImage, 1)).toBe(false);
  });

  it('covers exactly these VL storage classes', () => {
    expect([...PHOTOGRAPH_SOP_CLASSES].map((uid) => STORAGE_SOP_CLASSES.get(uid))).toEqual([
      'VL Endoscopic Image Storage',
      'VL Microscopic Image Storage',
      'VL Slide-Coordinates Microscopic Image Storage',
      'VL Photographic Image Storage',
      'Ophthalmic Photography 8 Bit Image Storage',
      'Ophthalmic Photography 16 Bit Image Storage',
      'Wide Field Ophthalmic Photography Stereographic Projection Image Storage',
      'Wide Field Ophthalmic Photography 3D Coordinates Image Storage',
      'Dermoscopic Photography Image Storage',
    ]);
  });
});

describe('sopClassOf', () => {
  it('reads the SOP Class UID of a read file', () => {
    const file = readPart10(writePart10({}, { SOPClassUID: SOP_CLASS.DermoscopicPhotographyImage, SOPInstanceUID: '1.2.3' }));
    expect(sopClassOf(file)).toBe(SOP_CLASS.DermoscopicPhotographyImage);
    expect(sopClassOf(readPart10(writePart10({ MediaStorageSOPClassUID: '1.2' }, { SOPInstanceUID: '1.2.3' })))).toBeUndefined();
  });
});
