import { expectLucidaError } from '../../../test/helpers/errors.js';
import { makeJpeg } from '../../../test/fixtures/dicom.js';
import { getFrames } from './frames.js';
import { parsePart10 } from './parse.js';
import { readAscii, readPart10 } from './reader.js';
import { LUCIDA_IMPLEMENTATION_CLASS_UID, TS, newUid } from './uids.js';
import { writePart10 } from './write.js';

const base = () => ({
  SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
  SOPInstanceUID: newUid(),
  StudyInstanceUID: newUid(),
  SeriesInstanceUID: newUid(),
  PatientName: 'DOE^JANE',
  Rows: 2,
  Columns: 2,
  BitsAllocated: 8,
  SamplesPerPixel: 1,
  PhotometricInterpretation: 'MONOCHROME2',
});

describe('writePart10', () => {
  it('fills in the file meta information', () => {
    const ds = { ...base(), PixelData: Buffer.from([1, 2, 3, 4]), _vrMap: { PixelData: 'OB' } };
    const file = readPart10(writePart10({}, ds));
    const meta = (tag: number) => readAscii(file.bytes, file.meta.elements.get(tag));
    expect(meta(0x00020002)).toBe(ds.SOPClassUID);
    expect(meta(0x00020003)).toBe(ds.SOPInstanceUID);
    expect(meta(0x00020010)).toBe(TS.ExplicitVRLittleEndian);
    expect(meta(0x00020012)).toBe(LUCIDA_IMPLEMENTATION_CLASS_UID);
    expect(meta(0x00020013)).toBe('LUCIDA_0_1');
    expect(parsePart10(writePart10({}, ds)).metadata['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE' }] });
  });

  it('encapsulates a JPEG byte for byte in one fragment', async () => {
    const jpeg = await makeJpeg(10, 10);
    const bytes = writePart10({ TransferSyntaxUID: TS.JPEGBaseline8Bit }, { ...base(), PixelData: [jpeg], _vrMap: { PixelData: 'OB' } });
    const pixel = readPart10(bytes).dataset.elements.get(0x7fe00010)!;
    expect(pixel.fragments).toHaveLength(1);
    const { offset, length } = pixel.fragments![0];
    expect(bytes.subarray(offset, offset + jpeg.length)).toEqual(jpeg);
    expect(length).toBe(jpeg.length + (jpeg.length % 2));
  });

  it('can split frames into fragments with a Basic Offset Table that frames.ts follows', () => {
    const frameA = Buffer.alloc(50_000, 0xa1);
    const frameB = Buffer.alloc(30_001, 0xb2);
    const bytes = writePart10(
      { TransferSyntaxUID: TS.JPEGBaseline8Bit },
      { ...base(), NumberOfFrames: '2', PixelData: [frameA, frameB], _vrMap: { PixelData: 'OB' } },
      { fragmentMultiframe: true },
    );
    const frames = getFrames(bytes);
    expect(frames.file.dataset.elements.get(0x7fe00010)!.fragments!.length).toBeGreaterThan(2);
    expect(frames.frame(1)).toEqual(frameA);
    expect(frames.frame(2).subarray(0, frameB.length)).toEqual(frameB);
  });

  it.each([
    [TS.ImplicitVRLittleEndian],
    [TS.ExplicitVRBigEndian],
    [TS.DeflatedExplicitVRLittleEndian],
  ])('writes %s through re-encoding', (ts) => {
    const ds = { ...base(), PixelData: Buffer.from([1, 2, 3, 4]) };
    const parsed = parsePart10(writePart10({ TransferSyntaxUID: ts }, ds));
    expect(parsed.transferSyntaxUID).toBe(ts);
    const expected = parsePart10(writePart10({}, ds)).metadata;
    expect(expected['7FE00010']).toEqual({ vr: 'OB', BulkDataURI: '7FE00010' });
    // Implicit VR has no VR on the wire: Pixel Data reads back as OW (PS3.5 §A.1).
    if (ts === TS.ImplicitVRLittleEndian) expected['7FE00010'] = { vr: 'OW', BulkDataURI: '7FE00010' };
    expect(parsed.metadata).toEqual(expected);
  });

  it('reports what dcmjs cannot write as INTERNAL', () => {
    expectLucidaError('INTERNAL', () => writePart10({}, { ...base(), Rows: 'abc' }), /^cannot write DICOM: Not a number: abc$/);
  });
});

describe('writePart10 with appended Pixel Data', () => {
  it('appends an encapsulated fragment, given in pieces, that reads back as the same frame', async () => {
    const jpeg = await makeJpeg(11, 7); // pieces of odd total length get the pad byte
    const pieces = [jpeg.subarray(0, 20), jpeg.subarray(20, 21), jpeg.subarray(21)];
    const meta = { TransferSyntaxUID: TS.JPEGBaseline8Bit };
    const bytes = writePart10(meta, base(), { pixelData: { fragments: [pieces] } });
    const pixel = readPart10(bytes).dataset.elements.get(0x7fe00010)!;
    expect(pixel.fragments).toHaveLength(1);
    expect(pixel.offsetTable?.length ?? 0).toBe(0);
    expect(getFrames(bytes).frame(1).subarray(0, jpeg.length)).toEqual(jpeg);
    expect(pixel.fragments![0].length).toBe(jpeg.length + (jpeg.length % 2));
  });

  it('appends one fragment per frame', () => {
    const frames = [Buffer.alloc(9, 0xa1), Buffer.alloc(4, 0xb2)];
    const bytes = writePart10(
      { TransferSyntaxUID: TS.JPEGBaseline8Bit },
      { ...base(), NumberOfFrames: '2' },
      { pixelData: { fragments: frames.map((f) => [f]) } },
    );
    const read = getFrames(bytes);
    expect(read.frame(1)).toEqual(Buffer.concat([frames[0], Buffer.alloc(1)]));
    expect(read.frame(2)).toEqual(frames[1]);
  });

  it.each([
    [TS.ExplicitVRLittleEndian],
    [TS.ImplicitVRLittleEndian],
    [TS.ExplicitVRBigEndian],
    [TS.DeflatedExplicitVRLittleEndian],
  ])('appends native pixels that read back as the same bytes in %s', (ts) => {
    const ds = { ...base(), Rows: 3, Columns: 3 }; // one data set: base() makes new UIDs
    const pixels = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]); // odd: padded
    const bytes = writePart10({ TransferSyntaxUID: ts }, ds, { pixelData: { native: pixels } });
    expect(parsePart10(bytes).transferSyntaxUID).toBe(ts);
    expect(getFrames(bytes).frame(1)).toEqual(pixels);
    expect(bytes).toEqual(writePart10({ TransferSyntaxUID: ts }, { ...ds, PixelData: pixels }));
  });

  it('refuses Pixel Data the transfer syntax cannot hold, twice given, or not last', () => {
    const fragments = { fragments: [[Buffer.from([0xff, 0xd8])]] };
    const native = { native: Buffer.alloc(4) };
    expectLucidaError('INTERNAL', () => writePart10({}, base(), { pixelData: fragments }), /encapsulated Pixel Data cannot be written/);
    expectLucidaError('INTERNAL', () => writePart10({ TransferSyntaxUID: TS.JPEGBaseline8Bit }, base(), { pixelData: native }), /native Pixel Data cannot be written/);
    expectLucidaError('INTERNAL', () => writePart10({ TransferSyntaxUID: TS.JPEGBaseline8Bit }, base(), { pixelData: { fragments: [] } }), /at least one fragment/);
    expectLucidaError('INTERNAL', () => writePart10({}, { ...base(), PixelData: Buffer.alloc(4) }, { pixelData: native }), /both/);
    expectLucidaError('INTERNAL', () => writePart10({}, { ...base(), DataSetTrailingPadding: Buffer.alloc(2) }, { pixelData: native }), /after elements that follow it/);
  });
});
