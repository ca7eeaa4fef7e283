import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { makeCtImage, makeJpeg, makeVlPhoto } from '../../../test/fixtures/dicom.js';
import { identityElements, rawPart10, us } from '../../../test/fixtures/dicom-raw.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import { extractFrame, getFrames } from './frames.js';
import { parsePart10 } from './parse.js';
import { readPart10, readAscii } from './reader.js';
import { canDecodeToNative, decodeFrame, toExplicitVRLittleEndian } from './transcode.js';
import { LUCIDA_IMPLEMENTATION_CLASS_UID, TS, newUid } from './uids.js';
import { expectLucidaRejection } from '../../../test/helpers/errors.js';
import { jsonValue } from '../../../test/helpers/dicom-json.js';

describe('toExplicitVRLittleEndian from JPEG Baseline', () => {
  const uids = { studyUID: newUid(), seriesUID: newUid(), sopUID: newUid() };
  let jpeg: Buffer;
  let output: Buffer;

  beforeAll(async () => {
    jpeg = await makeJpeg(40, 30);
    output = await toExplicitVRLittleEndian(await makeVlPhoto({ jpeg, ...uids }));
  });

  it('keeps the identity and rewrites the image pixel description', () => {
    const parsed = parsePart10(output);
    expect(parsed).toMatchObject({
      transferSyntaxUID: TS.ExplicitVRLittleEndian,
      sopInstanceUID: uids.sopUID,
      studyInstanceUID: uids.studyUID,
      seriesInstanceUID: uids.seriesUID,
      warnings: [],
    });
    const m = parsed.metadata;
    expect(jsonValue(m, '00280004')).toBe('RGB');
    expect(jsonValue(m, '00280002')).toBe(3);
    expect(jsonValue(m, '00280006')).toBe(0);
    expect(jsonValue(m, '00282110')).toBe('01');
    expect(jsonValue(m, '00280010')).toBe(30);
    expect(m['7FE00010']).toEqual({ vr: 'OB', BulkDataURI: '7FE00010' });
  });

  it('writes new file meta information with Lucida as the implementation', () => {
    const file = readPart10(output);
    const meta = (tag: number) => readAscii(file.bytes, file.meta.elements.get(tag));
    expect(meta(0x00020010)).toBe(TS.ExplicitVRLittleEndian);
    expect(meta(0x00020003)).toBe(uids.sopUID);
    expect(meta(0x00020002)).toBe('1.2.840.10008.5.1.4.1.1.77.1.4');
    expect(meta(0x00020012)).toBe(LUCIDA_IMPLEMENTATION_CLASS_UID);
    expect(meta(0x00020013)).toBe('LUCIDA_0_1');
  });

  it('holds exactly the pixels sharp decodes from the original JPEG', async () => {
    const expected = await sharp(jpeg).raw().toBuffer();
    expect(extractFrame(output, 1).data).toEqual(expected);
  });

  itWithTools(['dcmdump', 'dcmj2pnm'], 'decodes in DCMTK to the same pixels', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lucida-transcode-'));
    try {
      const file = path.join(dir, 'out.dcm');
      writeFileSync(file, output);
      const dump = execFileSync('dcmdump', ['-q', '+W', dir, file], { encoding: 'utf8' });
      expect(dump).toMatch(/\(0002,0010\) UI =LittleEndianExplicit/);
      expect(dump).toMatch(/\(0028,0004\) CS \[RGB\]/);
      expect(dump).toMatch(/\(7fe0,0010\) OB .*# 3600, 1 PixelData/);
      const expected = await sharp(jpeg).raw().toBuffer();
      expect(readFileSync(path.join(dir, 'out.dcm.0.raw'))).toEqual(expected);
      // dcmj2pnm renders the RGB image; its PPM body must be the same pixels.
      execFileSync('dcmj2pnm', ['+op', file, path.join(dir, 'out.ppm')]);
      const ppm = readFileSync(path.join(dir, 'out.ppm'));
      expect(ppm.subarray(ppm.length - expected.length)).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps MONOCHROME2 for a greyscale JPEG and drops Planar Configuration', async () => {
    const grey = await makeJpeg(20, 10, { grayscale: true });
    const out = await toExplicitVRLittleEndian(await makeVlPhoto({ jpeg: grey, extra: { PlanarConfiguration: 0 } }));
    const m = parsePart10(out).metadata;
    expect(jsonValue(m, '00280004')).toBe('MONOCHROME2');
    expect(jsonValue(m, '00280002')).toBe(1);
    expect(m['00280006']).toBeUndefined();
    expect(extractFrame(out, 1).data).toEqual(await sharp(grey).extractChannel(0).raw().toBuffer());
  });

  it('decodes every frame of a multi-frame JPEG instance', async () => {
    const a = await makeJpeg(8, 8);
    const b = await makeJpeg(8, 8, { quality: 50 });
    const bytes = rawPart10({
      transferSyntaxUID: TS.JPEGBaseline8Bit,
      elements: [...identityElements({ sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' }),
        { tag: 0x00280002, vr: 'US', value: us(3) },
        { tag: 0x00280004, vr: 'CS', value: 'YBR_FULL_422' },
        { tag: 0x00280008, vr: 'IS', value: '2' },
        { tag: 0x00280010, vr: 'US', value: us(8) },
        { tag: 0x00280011, vr: 'US', value: us(8) },
        { tag: 0x00280100, vr: 'US', value: us(8) },
        { tag: 0x7fe00010, vr: 'OB', fragments: [a, b] },
      ],
    });
    const out = await toExplicitVRLittleEndian(bytes);
    expect(extractFrame(out, 1).data).toEqual(await sharp(a).raw().toBuffer());
    expect(extractFrame(out, 2).data).toEqual(await sharp(b).raw().toBuffer());
  });

  it('leaves out an encapsulated icon image, which a native syntax cannot hold', async () => {
    const icon = await makeJpeg(8, 8);
    const bytes = rawPart10({
      transferSyntaxUID: TS.JPEGBaseline8Bit,
      elements: [...identityElements({ sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' }),
        { tag: 0x00280002, vr: 'US', value: us(3) },
        { tag: 0x00280004, vr: 'CS', value: 'YBR_FULL_422' },
        { tag: 0x00280010, vr: 'US', value: us(8) },
        { tag: 0x00280011, vr: 'US', value: us(8) },
        { tag: 0x00280100, vr: 'US', value: us(8) },
        { tag: 0x00880200, vr: 'SQ', items: [[{ tag: 0x00280010, vr: 'US', value: us(8) }, { tag: 0x7fe00010, vr: 'OB', fragments: [icon] }]] },
        { tag: 0x7fe00010, vr: 'OB', fragments: [icon] },
      ],
    });
    const m = parsePart10(await toExplicitVRLittleEndian(bytes)).metadata;
    expect(m['00880200']).toEqual({ vr: 'SQ', Value: [{ '00280010': { vr: 'US', Value: [8] } }] });
  });

  it('refuses a JPEG whose size contradicts Rows and Columns', async () => {
    const bytes = await makeVlPhoto({ jpeg: await makeJpeg(16, 16), extra: { Rows: 17 } });
    await expectLucidaRejection('INVALID_DICOM', toExplicitVRLittleEndian(bytes), /16×16×3, the data set says 16×17×3/);
  });
});

describe('toExplicitVRLittleEndian from native syntaxes', () => {
  const uids = { studyUID: newUid(), seriesUID: newUid(), sopUID: newUid(), extra: { FrameOfReferenceUID: newUid() } };

  it('returns Explicit VR Little Endian input unchanged', async () => {
    const bytes = await makeCtImage(uids);
    expect(await toExplicitVRLittleEndian(bytes)).toBe(bytes);
  });

  it.each(['implicit', 'bigendian', 'deflated'] as const)('re-encodes %s with the same data set and pixels', async (transferSyntax) => {
    const reference = await makeCtImage({ ...uids, rows: 8, columns: 8, frames: 2 });
    const out = await toExplicitVRLittleEndian(await makeCtImage({ ...uids, rows: 8, columns: 8, frames: 2, transferSyntax }));
    const parsed = parsePart10(out);
    expect(parsed.transferSyntaxUID).toBe(TS.ExplicitVRLittleEndian);
    expect(parsed.metadata).toEqual(parsePart10(reference).metadata);
    expect(extractFrame(out, 2).data).toEqual(extractFrame(reference, 2).data);
  });

  it('refuses compressed syntaxes other than JPEG Baseline', async () => {
    const bytes = rawPart10({
      transferSyntaxUID: TS.JPEG2000,
      elements: [...identityElements({ sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' }),
        { tag: 0x7fe00010, vr: 'OB', fragments: [Buffer.from([0xff, 0x4f, 0xff, 0x51])] }],
    });
    await expectLucidaRejection('UNSUPPORTED_TRANSFER_SYNTAX', toExplicitVRLittleEndian(bytes), /1\.2\.840\.10008\.1\.2\.4\.91/);
  });
});

describe('decodeFrame and canDecodeToNative', () => {
  it('decodes a JPEG Baseline frame from the FrameSource it is given and passes native frames through', async () => {
    const jpeg = await makeJpeg(40, 30);
    const photo = getFrames(await makeVlPhoto({ jpeg }));
    expect(await decodeFrame(photo, 1)).toEqual(await sharp(jpeg).raw().toBuffer());
    const ct = getFrames(await makeCtImage({ rows: 2, columns: 2, frames: 2, transferSyntax: 'bigendian' }));
    expect(await decodeFrame(ct, 2)).toEqual(ct.frame(2));
  });

  it('refuses what the codec cannot decode, as canDecodeToNative says', async () => {
    expect([TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian, TS.ExplicitVRBigEndian, TS.DeflatedExplicitVRLittleEndian, TS.JPEGBaseline8Bit]
      .every(canDecodeToNative)).toBe(true);
    expect(canDecodeToNative(TS.JPEG2000)).toBe(false);
    const bytes = rawPart10({
      transferSyntaxUID: TS.JPEG2000,
      elements: [...identityElements({ sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' }),
        { tag: 0x00280010, vr: 'US', value: us(1) }, { tag: 0x00280011, vr: 'US', value: us(1) },
        { tag: 0x7fe00010, vr: 'OB', fragments: [Buffer.from([0xff, 0x4f, 0xff, 0x51])] }],
    });
    await expectLucidaRejection('UNSUPPORTED_TRANSFER_SYNTAX', decodeFrame(getFrames(bytes), 1), /1\.2\.840\.10008\.1\.2\.4\.91/);
  });
});
