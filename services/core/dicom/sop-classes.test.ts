import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { itWithTools } from '../../../test/fixtures/tools.js';
import { SOP_CLASS, STORAGE_SOP_CLASSES, isStorageSopClass } from './sop-classes.js';
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
