import sharp from 'sharp';
import { QUADRANT_COLOURS, SC_COLOURS, makeCtImage, makeJpeg, makeSecondaryCaptureRgb, makeVlPhoto } from '../../../test/fixtures/dicom.js';
import { identityElements, rawPart10, us } from '../../../test/fixtures/dicom-raw.js';
import { getFrames } from './frames.js';
import { encodeRendering, framePipeline, renderFrame } from './render.js';
import { TS } from './uids.js';
import { expectLucidaRejection } from '../../../test/helpers/errors.js';

async function decode(image: Buffer) {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels));
  return { info, at };
}

function expectClose(actual: number[], expected: readonly number[], tolerance: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(tolerance));
}

/** Grey value of each of the CT fixture's four bands (one sample per band, row 0). */
async function bands(image: Buffer, columns: number): Promise<number[]> {
  expect((await sharp(image).metadata()).channels).toBe(1); // a greyscale PNG
  const { at } = await decode(image);
  return [0, 1, 2, 3].map((b) => at(Math.floor((b + 0.5) * (columns / 4)), 0)[0]);
}

describe('renderFrame: JPEG Baseline photographs', () => {
  let photo: Buffer;
  beforeAll(async () => {
    photo = await makeVlPhoto({ jpeg: await makeJpeg(64, 48) });
  });

  it('renders the photograph with its colours', async () => {
    for (const format of ['png', 'jpeg'] as const) {
      const { info, at } = await decode(await renderFrame(photo, 1, { format }));
      expect(info).toMatchObject({ width: 64, height: 48, format: 'raw' });
      expectClose(at(16, 12), QUADRANT_COLOURS.topLeft, 12);
      expectClose(at(48, 12), QUADRANT_COLOURS.topRight, 12);
      expectClose(at(16, 36), QUADRANT_COLOURS.bottomLeft, 12);
      expectClose(at(48, 36), QUADRANT_COLOURS.bottomRight, 12);
    }
  });

  it('renders greyscale JPEGs as greyscale, inverting MONOCHROME1', async () => {
    const grey = await makeJpeg(64, 48, { grayscale: true });
    const source = await sharp(grey).extractChannel(0).raw().toBuffer();
    for (const [pi, invert] of [['MONOCHROME2', false], ['MONOCHROME1', true]] as const) {
      const png = await renderFrame(await makeVlPhoto({ jpeg: grey, extra: { PhotometricInterpretation: pi } }), 1, { format: 'png' });
      expect((await sharp(png).metadata()).channels).toBe(1);
      const { at } = await decode(png);
      for (const [x, y] of [[16, 12], [48, 12], [16, 36], [48, 36]]) {
        const expected = source[y * 64 + x];
        expect(at(x, y)[0]).toBe(invert ? 255 - expected : expected);
      }
    }
  });

  it('renders 8-bit JPEG Extended (process 2) like Baseline', async () => {
    const bytes = await makeVlPhoto({ jpeg: await makeJpeg(64, 48) });
    const extended = Buffer.from(bytes);
    const at = extended.indexOf(TS.JPEGBaseline8Bit);
    extended.write(TS.JPEGExtended, at, 'latin1'); // same length, in the file meta information
    const { at: px } = await decode(await renderFrame(extended, 1, { format: 'png' }));
    expectClose(px(16, 12), QUADRANT_COLOURS.topLeft, 12);
  });

  it('outputs the requested format and quality', async () => {
    const png = await renderFrame(photo, 1, { format: 'png' });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const low = await renderFrame(photo, 1, { format: 'jpeg', quality: 5 });
    const high = await renderFrame(photo, 1, { format: 'jpeg', quality: 100 });
    expect(low.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(low.length).toBeLessThan(high.length);
    await expectLucidaRejection('BAD_REQUEST', renderFrame(photo, 1, { format: 'jpeg', quality: 101 }));
  });

  it('fits a viewport keeping the aspect ratio, never enlarging', async () => {
    expect((await decode(await renderFrame(photo, 1, { format: 'png', viewport: { width: 32, height: 32 } }))).info).toMatchObject({ width: 32, height: 24 });
    expect((await decode(await renderFrame(photo, 1, { format: 'png', viewport: { width: 640, height: 640 } }))).info).toMatchObject({ width: 64, height: 48 });
    await expectLucidaRejection('BAD_REQUEST', renderFrame(photo, 1, { format: 'png', viewport: { width: 0, height: 10 } }));
  });

  it('refuses frames that do not exist', async () => {
    await expectLucidaRejection('NOT_FOUND', renderFrame(photo, 2, { format: 'png' }), /frame 2 does not exist/);
  });

  it('refuses decompression bombs before and while decoding', async () => {
    const jpeg = await makeJpeg(16, 16);
    const huge = await makeVlPhoto({ jpeg, extra: { Rows: 20000, Columns: 20000 } });
    await expectLucidaRejection('NOT_ACCEPTABLE', renderFrame(huge, 1, { format: 'jpeg' }), /limit/);
    // A JPEG whose frame header claims 15000 × 15000 pixels inside an honest-looking data set.
    const lying = Buffer.from(jpeg);
    const sof = lying.indexOf(Buffer.from([0xff, 0xc0]));
    lying.writeUInt16BE(15000, sof + 5);
    lying.writeUInt16BE(15000, sof + 7);
    const disguised = await makeVlPhoto({ jpeg: lying, extra: { Rows: 16, Columns: 16 } });
    await expectLucidaRejection('NOT_ACCEPTABLE', renderFrame(disguised, 1, { format: 'jpeg' }), /pixel limit/);
  });
});

describe('renderFrame: 16-bit greyscale', () => {
  const columns = 16;

  it('applies Rescale Slope/Intercept and the stored window (PS3.3 C.11.2.1.2)', async () => {
    const ct = await makeCtImage({ rows: 4, columns, frames: 2 });
    expect(await bands(await renderFrame(ct, 1, { format: 'png' }), columns)).toEqual([0, 102, 128, 255]);
    expect(await bands(await renderFrame(ct, 2, { format: 'png' }), columns)).toEqual([0, 166, 128, 255]);
  });

  it('renders every native encoding the same', async () => {
    for (const transferSyntax of ['implicit', 'bigendian', 'deflated'] as const) {
      const ct = await makeCtImage({ rows: 4, columns, transferSyntax });
      expect(await bands(await renderFrame(ct, 1, { format: 'png' }), columns)).toEqual([0, 102, 128, 255]);
    }
  });

  it('stretches min..max without a window', async () => {
    const ct = await makeCtImage({ rows: 4, columns, extra: { WindowCenter: undefined, WindowWidth: undefined } });
    // −1000…1000 HU → 0…255: 0 HU → 127.5, 40 HU → 132.6.
    expect(await bands(await renderFrame(ct, 1, { format: 'png' }), columns)).toEqual([0, 128, 133, 255]);
  });

  it('inverts MONOCHROME1', async () => {
    const ct = await makeCtImage({ rows: 4, columns, extra: { PhotometricInterpretation: 'MONOCHROME1' } });
    expect(await bands(await renderFrame(ct, 1, { format: 'png' }), columns)).toEqual([255, 153, 127, 0]);
  });

  it('takes the window from the functional groups of enhanced multi-frame images', async () => {
    const ct = await makeCtImage({
      rows: 4, columns,
      extra: {
        WindowCenter: undefined, WindowWidth: undefined,
        SharedFunctionalGroupsSequence: [{ FrameVOILUTSequence: [{ WindowCenter: '0', WindowWidth: '2' }] }],
      },
    });
    expect(await bands(await renderFrame(ct, 1, { format: 'png' }), columns)).toEqual([0, 255, 255, 255]);
  });

  it('applies the SIGMOID VOI LUT function', async () => {
    const ct = await makeCtImage({ rows: 4, columns, extra: { VOILUTFunction: 'SIGMOID' } });
    // 255 / (1 + exp(−4 (x − 40) / 400)) at −1000, 0, 40, 1000 HU.
    expect(await bands(await renderFrame(ct, 1, { format: 'png' }), columns)).toEqual([0, 102, 128, 255]);
  });
});

describe('renderFrame: native colour and unsupported images', () => {
  it('renders RGB in either planar configuration', async () => {
    for (const planarConfiguration of [0, 1] as const) {
      const sc = await makeSecondaryCaptureRgb({ rows: 8, columns: 8, planarConfiguration });
      const { at } = await decode(await renderFrame(sc, 1, { format: 'png' }));
      expect(at(1, 1)).toEqual([...SC_COLOURS.patch]);
      expect(at(6, 6)).toEqual([...SC_COLOURS.background]);
      expect(at(6, 1)).toEqual([...SC_COLOURS.background]);
    }
  });

  it('refuses PALETTE COLOR and compressed syntaxes it cannot decode', async () => {
    const palette = await makeSecondaryCaptureRgb({ extra: { PhotometricInterpretation: 'PALETTE COLOR', SamplesPerPixel: 1 } });
    await expectLucidaRejection('NOT_ACCEPTABLE', renderFrame(palette, 1, { format: 'png' }), /PALETTE COLOR/);
    const rle = rawPart10({
      transferSyntaxUID: TS.RLELossless,
      elements: [...identityElements({ sop: '1.2.3.4', study: '1.2.3', series: '1.2.3.5' }),
        { tag: 0x00280010, vr: 'US', value: us(1) },
        { tag: 0x00280011, vr: 'US', value: us(1) },
        { tag: 0x7fe00010, vr: 'OB', fragments: [Buffer.alloc(64)] }],
    });
    await expectLucidaRejection('UNSUPPORTED_TRANSFER_SYNTAX', renderFrame(rle, 1, { format: 'png' }), /1\.2\.840\.10008\.1\.2\.5/);
  });
});

describe('framePipeline and encodeRendering: renderFrame in two steps', () => {
  it('give renderFrame\'s bytes, from pipelines that can be opened more than once', async () => {
    const opts = { format: 'jpeg', quality: 80, viewport: { width: 16, height: 16 } } as const;
    for (const part10 of [await makeSecondaryCaptureRgb({ rows: 24, columns: 32 }), await makeCtImage({ rows: 8, columns: 8 }), await makeVlPhoto({ jpeg: await makeJpeg(40, 30) })]) {
      const pipeline = framePipeline(getFrames(part10), 1);
      expect(await encodeRendering(pipeline.open(), opts)).toEqual(await renderFrame(part10, 1, opts));
      expect(await encodeRendering(pipeline.open(), { format: 'png' })).toEqual(await renderFrame(part10, 1, { format: 'png' }));
    }
  });

  it('hands 8-bit interleaved RGB to sharp as stored, and says how many channels come out', async () => {
    const frames = getFrames(await makeSecondaryCaptureRgb({ rows: 8, columns: 8 }));
    const rgb = framePipeline(frames, 1);
    expect(rgb.channels).toBe(3);
    expect(await rgb.open().raw().toBuffer()).toEqual(frames.frame(1));
    expect(framePipeline(getFrames(await makeCtImage({ rows: 4, columns: 4 })), 1).channels).toBe(1);
    expect(framePipeline(getFrames(await makeVlPhoto({ jpeg: await makeJpeg(8, 8, { grayscale: true }) })), 1).channels).toBe(1);
  });
});
