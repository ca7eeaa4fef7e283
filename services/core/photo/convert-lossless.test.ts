import sharp from 'sharp';
import { TS } from '../dicom/index.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import {
  GREY_QUADRANTS, QUADRANT_COLOURS, type Quadrants, dciodvfy, decodeVlPhoto, jsonValue, makePng, makeTiff, photoContext,
  quadrantPixels, quadrantsOf,
} from '../../../test/fixtures/photos.js';
import { convertPhoto } from './convert.js';

const limits = { maxPixels: 50_000_000 };
const convert = (bytes: Buffer) => convertPhoto(bytes, photoContext(), limits);

/** Exact quadrant colours (lossless), after flattening `alpha` onto white when given. */
function expectQuadrants(pixels: Buffer, width: number, height: number, channels: number, expected: Quadrants, alpha?: number) {
  const blend = (c: number) => (alpha === undefined ? c : Math.round((c * alpha + 255 * (255 - alpha)) / 255));
  const want = Object.fromEntries(Object.entries(expected).map(([k, c]) => [k, c.map(blend)]));
  const got = quadrantsOf(pixels, width, height, channels);
  for (const k of Object.keys(want) as (keyof Quadrants)[]) {
    got[k].forEach((v, i) => expect(Math.abs(v - want[k][i])).toBeLessThanOrEqual(1));
  }
}

describe('convertPhoto: PNG and TIFF stored losslessly', () => {
  it('stores an RGB PNG as native RGB pixels, unchanged', async () => {
    const out = await convert(await makePng());
    expect(out).toMatchObject({ encoding: 'lossless', sourceFormat: 'png', transferSyntaxUID: TS.ExplicitVRLittleEndian, columns: 64, rows: 48 });
    const d = await decodeVlPhoto(out.part10);
    expect(d.pixels.equals(quadrantPixels(64, 48))).toBe(true);
    const m = d.metadata;
    expect([jsonValue(m, '00280004'), jsonValue(m, '00280002'), jsonValue(m, '00280006'), jsonValue(m, '00282110')]).toEqual(['RGB', 3, 0, '00']);
    expect([m['00282112'], m['00282114'], m['00082111']]).toEqual([undefined, undefined, undefined]);
  });

  it('flattens alpha onto white and says so', async () => {
    const d = await decodeVlPhoto((await convert(await makePng({ alpha: 128 }))).part10);
    expect(d.channels).toBe(3);
    expectQuadrants(d.pixels, d.width, d.height, 3, QUADRANT_COLOURS, 128);
    expect(jsonValue(d.metadata, '00082111')).toBe('alpha channel flattened onto white');
  });

  it('stores 16-bit greyscale as 8-bit MONOCHROME2', async () => {
    const png = await makePng({ grey: true, bitDepth: 16 });
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const d = await decodeVlPhoto((await convert(png)).part10);
    expect([jsonValue(d.metadata, '00280004'), d.channels, jsonValue(d.metadata, '00280101')]).toEqual(['MONOCHROME2', 1, 8]);
    expectQuadrants(d.pixels, d.width, d.height, 1, GREY_QUADRANTS);
    expect(jsonValue(d.metadata, '00082111')).toBe('16-bit samples reduced to 8 bits');
  });

  it('stores 16-bit RGB with alpha as 8-bit RGB', async () => {
    const d = await decodeVlPhoto((await convert(await makePng({ bitDepth: 16, alpha: 255 }))).part10);
    expectQuadrants(d.pixels, d.width, d.height, 3, QUADRANT_COLOURS);
  });

  it('applies PNG (eXIf) and TIFF orientation to the pixels', async () => {
    for (const bytes of [await makePng({ orientation: 6 }), await makeTiff({ orientation: 8 })]) {
      const out = await convert(bytes);
      expect([out.columns, out.rows]).toEqual([64, 48]);
      const d = await decodeVlPhoto(out.part10);
      expectQuadrants(d.pixels, d.width, d.height, 3, QUADRANT_COLOURS);
      expect(jsonValue(d.metadata, '00082111')).toMatch(/orientation [68] applied/);
    }
  });

  it('stores LZW TIFF losslessly, and records that a JPEG-compressed TIFF was lossy', async () => {
    const lzw = await decodeVlPhoto((await convert(await makeTiff({ compression: 'lzw' }))).part10);
    expect(lzw.pixels.equals(quadrantPixels(64, 48))).toBe(true);
    expect(jsonValue(lzw.metadata, '00282110')).toBe('00');
    const jpeg = await decodeVlPhoto((await convert(await makeTiff({ compression: 'jpeg' }))).part10);
    expect([jsonValue(jpeg.metadata, '00282110'), jsonValue(jpeg.metadata, '00282114'), jpeg.metadata['00282112']]).toEqual(['01', 'ISO_10918_1', undefined]);
  });

  it('pads odd-length native pixel data to even length', async () => {
    const png = await sharp(quadrantPixels(5, 3), { raw: { width: 5, height: 3, channels: 3 } }).png().toBuffer();
    const d = await decodeVlPhoto((await convert(png)).part10);
    expect(d.pixels.equals(quadrantPixels(5, 3))).toBe(true);
  });

  it('writes the same bytes for the same input and context', async () => {
    const png = await makePng({ alpha: 100 });
    const context = photoContext();
    expect((await convertPhoto(png, context, limits)).part10.equals((await convertPhoto(png, context, limits)).part10)).toBe(true);
  });

  itWithTools(['dciodvfy'], 'dciodvfy accepts the results without errors', async () => {
    const inputs = [
      await makePng(), await makePng({ alpha: 128 }), await makePng({ grey: true, bitDepth: 16 }),
      await makeTiff(), await makeTiff({ compression: 'jpeg', orientation: 6 }),
    ];
    for (const input of inputs) {
      const report = dciodvfy((await convert(input)).part10);
      expect(report.iod).toBe('VLPhotographicImage');
      expect(report.errors).toEqual([]);
    }
  }, 30_000);
});
