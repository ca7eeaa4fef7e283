import { makeCtImage, makeJpeg, makeSecondaryCaptureRgb, makeVlPhoto } from '../../../test/fixtures/dicom.js';
import { identityElements, rawPart10, us } from '../../../test/fixtures/dicom-raw.js';
import { extractBulkData } from './bulkdata.js';
import { parsePart10 } from './parse.js';
import { TS } from './uids.js';
import { expectLucidaError } from '../../../test/helpers/errors.js';

const ids = { sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' };


/** Every BulkDataURI in a DICOM JSON object, depth first. */
function bulkDataUris(json: Record<string, any>): string[] {
  return Object.values(json).flatMap((a: any) => [
    ...(a.BulkDataURI ? [a.BulkDataURI] : []),
    ...(a.vr === 'SQ' && a.Value ? a.Value.flatMap(bulkDataUris) : []),
  ]);
}

describe('extractBulkData', () => {
  const icc = Buffer.alloc(3000, 0x5a);
  const doc = Buffer.alloc(1500, 0x25);
  const file = rawPart10({
    transferSyntaxUID: TS.ExplicitVRBigEndian,
    meta: [{ tag: 0x00020003, vr: 'UI', value: ids.sop }],
    elements: [...identityElements(ids),
      { tag: 0x00282000, vr: 'OB', value: icc },
      { tag: 0x00540016, vr: 'SQ', items: [
        [{ tag: 0x00181078, vr: 'DT', value: '20260101' }],
        [{ tag: 0x00420011, vr: 'OB', value: doc }, { tag: 0x00283006, vr: 'OW', value: Buffer.alloc(2048, 0).fill(0x01, 0, 1) }],
      ] },
    ],
  });

  it('resolves every BulkDataURI that parse produced', () => {
    const uris = bulkDataUris(parsePart10(file).metadata);
    expect(uris).toEqual(['00282000', '00540016/1/00283006', '00540016/1/00420011']);
    expect(extractBulkData(file, '00282000')).toEqual({ data: icc, vr: 'OB' });
    expect(extractBulkData(file, '00540016/1/00420011')).toEqual({ data: doc, vr: 'OB' });
  });

  it('returns OW values in little-endian byte order from a big endian file', () => {
    const { data, vr } = extractBulkData(file, '00540016/1/00283006');
    expect(vr).toBe('OW');
    expect(data.subarray(0, 4)).toEqual(Buffer.from([0x00, 0x01, 0x00, 0x00]));
  });

  it('says NOT_FOUND for paths that name nothing with a value', () => {
    for (const path of ['00100010', '00540016', '00540016/2/00420011', '00540016/1', '00540016/x/00420011', '00540016/01/00420011', 'zz', '', '0054001/1/00420011', '00282000/0/00282000']) {
      expectLucidaError('NOT_FOUND', () => extractBulkData(file, path), /no bulk data/);
    }
  });

  it('returns native pixel data whole, swapped to little endian', async () => {
    const explicit = await makeCtImage({ rows: 4, columns: 4, frames: 2 });
    const bigEndian = await makeCtImage({ rows: 4, columns: 4, frames: 2, transferSyntax: 'bigendian' });
    const a = extractBulkData(explicit, '7FE00010');
    expect(a.vr).toBe('OW');
    expect(a.data.length).toBe(4 * 4 * 2 * 2);
    expect(a.data.readInt16LE(0)).toBe(-1952);
    expect(extractBulkData(bigEndian, '7FE00010').data).toEqual(a.data);
    const rgb = extractBulkData(await makeSecondaryCaptureRgb({ rows: 2, columns: 2 }), '7fe00010');
    expect(rgb).toEqual({ data: Buffer.from([255, 0, 0, 0, 128, 255, 0, 128, 255, 0, 128, 255]), vr: 'OB' });
  });

  it('returns the compressed frame of a single-frame encapsulated image, with its transfer syntax', async () => {
    const jpeg = await makeJpeg(16, 16);
    const got = extractBulkData(await makeVlPhoto({ jpeg }), '7FE00010');
    expect(got.vr).toBe('OB');
    expect(got.transferSyntaxUID).toBe(TS.JPEGBaseline8Bit);
    expect(got.data.subarray(0, jpeg.length)).toEqual(jpeg);
  });

  it('refuses multi-frame encapsulated pixel data: frames are retrieved one by one', () => {
    const multi = rawPart10({
      transferSyntaxUID: TS.JPEGBaseline8Bit,
      elements: [...identityElements(ids),
        { tag: 0x00280008, vr: 'IS', value: '2' },
        { tag: 0x00280010, vr: 'US', value: us(1) },
        { tag: 0x00280011, vr: 'US', value: us(1) },
        { tag: 0x00280100, vr: 'US', value: us(8) },
        { tag: 0x7fe00010, vr: 'OB', fragments: [Buffer.from([0xff, 0xd8]), Buffer.from([0xff, 0xd8])] },
      ],
    });
    expectLucidaError('NOT_ACCEPTABLE', () => extractBulkData(multi, '7FE00010'), /frames\/\{n\}/);
  });
});
