import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeCtImage } from '../../../test/fixtures/dicom.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import { expectLucidaError } from '../../../test/helpers/errors.js';
import { encodePart10 } from './encode.js';
import { parsePart10 } from './parse.js';
import { readPart10 } from './reader.js';
import { TS, newUid } from './uids.js';

describe('encodePart10', () => {
  const uids = { studyUID: newUid(), seriesUID: newUid(), sopUID: newUid(), extra: { FrameOfReferenceUID: newUid() } };

  itWithTools(['dcmdump'], 'writes big endian, implicit and deflated files DCMTK reads', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lucida-encode-'));
    try {
      const source = await makeCtImage({ ...uids, rows: 4, columns: 4, extra: { ...uids.extra, ReferencedImageSequence: [{ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.2', ReferencedSOPInstanceUID: '1.2.3' }] } });
      for (const [ts, name] of [[TS.ExplicitVRBigEndian, 'BigEndianExplicit'], [TS.ImplicitVRLittleEndian, 'LittleEndianImplicit'], [TS.DeflatedExplicitVRLittleEndian, 'DeflatedLittleEndianExplicit']] as const) {
        const out = encodePart10(readPart10(source), ts);
        const file = path.join(dir, `${name}.dcm`);
        writeFileSync(file, out);
        const dump = execFileSync('dcmdump', ['-q', '+L', file], { encoding: 'utf8' });
        expect(dump).toContain(`(0002,0010) UI =${name}`);
        expect(dump).toMatch(/\(0028,1052\) DS \[-24\]/);
        expect(dump).toMatch(/\(0008,1155\) UI \[1\.2\.3\]/);
        expect(dump).toMatch(/\(7fe0,0010\) OW f860\\0030\\0080\\0800\\f860\\0030\\0080\\0800\\/);
        expect(parsePart10(out).metadata).toEqual(parsePart10(source).metadata);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a target that is not a native syntax', async () => {
    const file = readPart10(await makeCtImage());
    expectLucidaError('UNSUPPORTED_TRANSFER_SYNTAX', () => encodePart10(file, TS.JPEGBaseline8Bit));
  });
});
