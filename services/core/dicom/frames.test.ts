import { CT_PATTERN, ctHounsfield, makeCtImage, makeJpeg, makeVlPhoto } from '../../../test/fixtures/dicom.js';
import { identityElements, rawPart10, us, type RawElement } from '../../../test/fixtures/dicom-raw.js';
import { MAX_DECODE_PIXELS, assertDecodable, extractFrame, getFrames, type PixelDescription } from './frames.js';
import { TS } from './uids.js';
import { expectLucidaError } from '../../../test/helpers/errors.js';

const ids = { sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' };


/** Stored CT value at column `c` of frame `f` (see the fixture's documented pattern). */
const stored = (c: number, columns: number, f: number) => (ctHounsfield(c, columns, f) - CT_PATTERN.rescaleIntercept) / CT_PATTERN.rescaleSlope;

describe('native pixel data', () => {
  it('slices frames of a multi-frame 16-bit image, identical in every native syntax', async () => {
    const rows = 4;
    const columns = 8;
    const reference = getFrames(await makeCtImage({ rows, columns, frames: 3 }));
    expect(reference).toMatchObject({ rows, columns, numberOfFrames: 3, bitsAllocated: 16, pixelRepresentation: 1, encapsulated: false });
    for (let f = 1; f <= 3; f++) {
      const frame = reference.frame(f);
      expect(frame.length).toBe(rows * columns * 2);
      const values = Array.from({ length: columns }, (_, c) => frame.readInt16LE(c * 2));
      expect(values).toEqual(Array.from({ length: columns }, (_, c) => stored(c, columns, f)));
    }
    expect(reference.frame(1).readInt16LE(0)).toBe(-1952); // air, stored two's complement
    for (const transferSyntax of ['implicit', 'bigendian', 'deflated'] as const) {
      const bytes = await makeCtImage({ rows, columns, frames: 3, transferSyntax });
      for (let f = 1; f <= 3; f++) {
        const { data, transferSyntaxUID } = extractFrame(bytes, f);
        expect(transferSyntaxUID).toBe(TS.ExplicitVRLittleEndian);
        expect(data).toEqual(reference.frame(f));
      }
    }
  });

  it('refuses frame numbers outside 1..NumberOfFrames', async () => {
    const bytes = await makeCtImage({ rows: 2, columns: 2, frames: 3 });
    expect(getFrames(bytes).numberOfFrames).toBe(3);
    for (const n of [0, 4, -1, 1.5, Number.NaN]) expectLucidaError('NOT_FOUND', () => extractFrame(bytes, n), `frame ${n} does not exist`);
  });

  it('reports one frame when NumberOfFrames is absent', async () => {
    expect(getFrames(await makeCtImage({ rows: 2, columns: 2 })).numberOfFrames).toBe(1);
  });

  it('reports pixel data shorter than the frames it declares', async () => {
    const bytes = await makeCtImage({ rows: 2, columns: 2, frames: 2, extra: { NumberOfFrames: '3' } });
    expect(extractFrame(bytes, 2).data.length).toBe(8);
    expectLucidaError('INVALID_DICOM', () => extractFrame(bytes, 3), /shorter/);
  });

  it('extracts 1-bit frames only when they end on a byte boundary', () => {
    const bitImage = (rows: number, columns: number, frames: number) => rawPart10({
      transferSyntaxUID: TS.ExplicitVRLittleEndian,
      elements: [...identityElements(ids),
        { tag: 0x00280002, vr: 'US', value: us(1) },
        { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280008, vr: 'IS', value: String(frames) },
        { tag: 0x00280010, vr: 'US', value: us(rows) },
        { tag: 0x00280011, vr: 'US', value: us(columns) },
        { tag: 0x00280100, vr: 'US', value: us(1) },
        { tag: 0x7fe00010, vr: 'OB', value: Buffer.alloc(Math.ceil((rows * columns * frames) / 8) + 1, 0xaa) },
      ],
    });
    expect(extractFrame(bitImage(4, 4, 2), 2).data).toEqual(Buffer.from([0xaa, 0xaa]));
    expect(extractFrame(bitImage(3, 3, 1), 1).data).toEqual(Buffer.from([0xaa, 0xaa]));
    expectLucidaError('NOT_ACCEPTABLE', () => extractFrame(bitImage(3, 3, 2), 2));
  });

  it('swaps big-endian 8-bit OW pixel data as one value, so odd-sized frames come out intact', () => {
    // Three 3×3 8-bit frames: 27 bytes, padded to 28, stored as 14 big-endian 16-bit words (OW).
    const pixels = Buffer.from(Array.from({ length: 28 }, (_, i) => (i < 27 ? i + 1 : 0)));
    const bytes = rawPart10({
      transferSyntaxUID: TS.ExplicitVRBigEndian,
      elements: [...identityElements(ids),
        { tag: 0x00280002, vr: 'US', value: Buffer.from([0, 1]) },
        { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280008, vr: 'IS', value: '3' },
        { tag: 0x00280010, vr: 'US', value: Buffer.from([0, 3]) },
        { tag: 0x00280011, vr: 'US', value: Buffer.from([0, 3]) },
        { tag: 0x00280100, vr: 'US', value: Buffer.from([0, 8]) },
        { tag: 0x00280101, vr: 'US', value: Buffer.from([0, 8]) },
        { tag: 0x7fe00010, vr: 'OW', value: Buffer.from(pixels).swap16() },
      ],
    });
    const frames = getFrames(bytes);
    expect(frames).toMatchObject({ rows: 3, columns: 3, bitsAllocated: 8, numberOfFrames: 3, frameTransferSyntaxUID: TS.ExplicitVRLittleEndian });
    expect([1, 2, 3].map((n) => [...frames.frame(n)])).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14, 15, 16, 17, 18],
      [19, 20, 21, 22, 23, 24, 25, 26, 27],
    ]);
  });

  it('says NOT_FOUND for an instance without pixel data', () => {
    expectLucidaError('NOT_FOUND', () => getFrames(rawPart10({ transferSyntaxUID: TS.ExplicitVRLittleEndian, elements: identityElements(ids) })), /no Pixel Data/);
  });
});

describe('encapsulated pixel data', () => {
  it('returns the JPEG of a VL photo byte for byte', async () => {
    const jpeg = await makeJpeg(33, 17);
    const { data, transferSyntaxUID } = extractFrame(await makeVlPhoto({ jpeg }), 1);
    expect(transferSyntaxUID).toBe(TS.JPEGBaseline8Bit);
    expect(data.subarray(0, jpeg.length)).toEqual(jpeg);
    expect(data.length - jpeg.length).toBe(jpeg.length % 2); // dcmjs pads odd frames with one byte
  });

  const frameA = Buffer.from([0xff, 0xd8, 1, 2, 3, 4, 0xff, 0xd9]);
  const frameB = Buffer.from([0xff, 0xd8, 5, 6, 0xff, 0xd9]);
  const frameC = Buffer.from([0xff, 0xd8, 7, 8, 9, 10, 11, 12, 0xff, 0xd9]);
  const image = (frames: number, pixel: RawElement, more: RawElement[] = [], ts: string = TS.JPEGBaseline8Bit) => rawPart10({
    transferSyntaxUID: ts,
    elements: [...identityElements(ids),
      { tag: 0x00280002, vr: 'US', value: us(1) },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280008, vr: 'IS', value: String(frames) },
      { tag: 0x00280010, vr: 'US', value: us(1) },
      { tag: 0x00280011, vr: 'US', value: us(1) },
      { tag: 0x00280100, vr: 'US', value: us(8) },
      ...more,
      pixel,
    ],
  });
  const split = (b: Buffer, at: number) => [b.subarray(0, at), b.subarray(at)];
  const pixel = (fragments: Buffer[], offsetTable: number[] = []): RawElement => ({ tag: 0x7fe00010, vr: 'OB', fragments, offsetTable });

  it('uses the Basic Offset Table to gather fragments into frames', () => {
    const fragments = [...split(frameA, 4), frameB, ...split(frameC, 2).flatMap((b) => split(b, 1))];
    // Offsets of each frame's first fragment item, measured from the first fragment item.
    const offsets = [0, 8 + 4 + 8 + 4, 8 + 4 + 8 + 4 + 8 + 6];
    const frames = getFrames(image(3, pixel(fragments, offsets)));
    expect([frames.frame(1), frames.frame(2), frames.frame(3)]).toEqual([frameA, frameB, frameC]);
  });

  it('takes one fragment per frame when there are as many fragments as frames', () => {
    const frames = getFrames(image(3, pixel([frameA, frameB, frameC])));
    expect(frames.frame(2)).toEqual(frameB);
    expect(frames.frame(3)).toEqual(frameC);
    expectLucidaError('NOT_FOUND', () => frames.frame(4), 'frame 4 does not exist');
  });

  it('concatenates all fragments of a single frame', () => {
    expect(extractFrame(image(1, pixel(split(frameC, 4))), 1).data).toEqual(frameC);
  });

  it('finds frame starts from JPEG markers when there is no offset table', () => {
    const frames = getFrames(image(2, pixel([...split(frameA, 2), ...split(frameC, 6)])));
    expect([frames.frame(1), frames.frame(2)]).toEqual([frameA, frameC]);
  });

  it('uses the Extended Offset Table (PS3.5 §A.4) when present', () => {
    const ov = (values: number[]) => {
      const b = Buffer.alloc(values.length * 8);
      values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), i * 8));
      return b;
    };
    const bytes = image(3, pixel([frameA, frameB, frameC]), [
      { tag: 0x7fe00001, vr: 'OV', value: ov([0, 8 + frameA.length, 16 + frameA.length + frameB.length]) },
      { tag: 0x7fe00002, vr: 'OV', value: ov([frameA.length, frameB.length, frameC.length - 2]) },
    ]);
    const frames = getFrames(bytes);
    expect(frames.frame(1)).toEqual(frameA);
    expect(frames.frame(3)).toEqual(frameC.subarray(0, frameC.length - 2)); // the table's length wins
    const broken = image(1, pixel([frameA]), [
      { tag: 0x7fe00001, vr: 'OV', value: ov([4]) },
      { tag: 0x7fe00002, vr: 'OV', value: ov([2]) },
    ]);
    expectLucidaError('INVALID_DICOM', () => extractFrame(broken, 1), /does not point at a fragment/);
  });

  it('reports pixel data whose encapsulation contradicts the transfer syntax, or has no fragments', () => {
    expectLucidaError('INVALID_DICOM', () => getFrames(image(1, { tag: 0x7fe00010, vr: 'OB', value: Buffer.alloc(2) })), /not encapsulated/);
    expectLucidaError('INVALID_DICOM', () => getFrames(image(1, pixel([frameA]), [], TS.ExplicitVRLittleEndian)), /is encapsulated/);
    expectLucidaError('INVALID_DICOM', () => extractFrame(image(1, pixel([])), 1), /no fragments/);
  });

  it('refuses to guess frame boundaries it cannot see', () => {
    const bytes = image(2, pixel([Buffer.from([1, 2]), Buffer.from([3, 4]), Buffer.from([5, 6])]), [], TS.RLELossless);
    expectLucidaError('NOT_ACCEPTABLE', () => extractFrame(bytes, 1), /cannot locate frames/);
  });
});

describe('assertDecodable', () => {
  const size = (rows: number, columns: number): PixelDescription => ({
    rows, columns, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, pixelRepresentation: 0,
    photometricInterpretation: 'RGB', planarConfiguration: 0, numberOfFrames: 1,
  });

  it('refuses frames above MAX_DECODE_PIXELS, naming their size', () => {
    expect(() => assertDecodable(size(10_000, MAX_DECODE_PIXELS / 10_000))).not.toThrow();
    expectLucidaError('NOT_ACCEPTABLE', () => assertDecodable(size(10_001, MAX_DECODE_PIXELS / 10_000)), /10000×10001 pixels/);
  });
});
