import { jest } from '@jest/globals';
import { TS } from '../dicom/index.js';
import { expectLucidaRejection } from '../../../test/helpers/errors.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import {
  CANARIES, IROT90_QUADRANTS, QUADRANT_COLOURS, dciodvfy, decodeVlPhoto, heicFixture, jsonValue, photoContext,
  quadrantDistance, quadrantsOf,
} from '../../../test/fixtures/photos.js';
import { convertPhoto } from './convert.js';
import { parseJpeg } from './jpeg.js';

const limits = { maxPixels: 50_000_000 };
const convert = (bytes: Buffer) => convertPhoto(bytes, photoContext(), limits);

describe('convertPhoto: HEIC decoded and re-encoded as baseline JPEG', () => {
  it('converts a HEIC file', async () => {
    const out = await convert(heicFixture('plain'));
    expect(out).toMatchObject({ encoding: 'reencoded', sourceFormat: 'heic', transferSyntaxUID: TS.JPEGBaseline8Bit, columns: 64, rows: 48 });
    const d = await decodeVlPhoto(out.part10);
    expect(parseJpeg(d.frame).frame.process).toBe('baseline');
    expect(quadrantDistance(quadrantsOf(d.pixels, d.width, d.height, 3), QUADRANT_COLOURS)).toBeLessThan(24);
    const m = d.metadata;
    expect(jsonValue(m, '00280004')).toBe('YBR_FULL_422');
    // HEVC first, then JPEG: PS3.3 C.7.6.1.1.5 lists successive lossy steps in order.
    expect(m['00282114'].Value).toEqual(['ISO_23008_2', 'ISO_10918_1']);
    expect(m['00282112'].Value).toHaveLength(2);
    expect(jsonValue(m, '00082111')).toBe('decoded from HEIC (HEVC) and encoded as baseline JPEG (quality 95, 4:4:4)');
    expect(m['00282000']).toBeUndefined(); // no colour profile in this file
  });

  it('applies the HEIF rotation (irot)', async () => {
    const out = await convert(heicFixture('irot90'));
    expect([out.columns, out.rows]).toEqual([48, 64]);
    const d = await decodeVlPhoto(out.part10);
    expect(quadrantDistance(quadrantsOf(d.pixels, d.width, d.height, 3), IROT90_QUADRANTS)).toBeLessThan(24);
    expect(jsonValue(d.metadata, '00082111')).toMatch(/^HEIF rotation 90° applied; decoded from HEIC/);
  });

  it('uses EXIF dates and camera, ignores EXIF orientation, keeps the ICC profile, drops GPS', async () => {
    const out = await convert(heicFixture('exif-gps'));
    expect([out.columns, out.rows]).toEqual([64, 48]); // EXIF says 6, HEIF has no irot: stored upright
    const d = await decodeVlPhoto(out.part10);
    expect(quadrantDistance(quadrantsOf(d.pixels, d.width, d.height, 3), QUADRANT_COLOURS)).toBeLessThan(24);
    const m = d.metadata;
    expect([jsonValue(m, '00080070'), jsonValue(m, '00081090'), jsonValue(m, '00080023'), jsonValue(m, '00080033')])
      .toEqual(['Apple', 'iPhone 15', '20250607', '080910']);
    expect(jsonValue(m, '00282002')).toBe('SRGB');
    expect(out.part10.includes(CANARIES.gpsMapDatum)).toBe(false);
    expect(out.part10.includes('Exif\0\0')).toBe(false);
    expect(out.part10.includes(Buffer.from('II*\0', 'latin1'))).toBe(false);
  });

  it('refuses a damaged HEIC', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined); // libheif-js reports failures there
    const heic = heicFixture('plain');
    // Boxes intact, coded data zeroed: the header probes, the decoder fails.
    const broken = Buffer.from(heic);
    broken.fill(0, broken.length - 300);
    await expectLucidaRejection('INVALID_IMAGE', convert(broken));
    await expectLucidaRejection('INVALID_IMAGE', convert(heic.subarray(0, heic.length - 100)));
    log.mockRestore();
  });

  itWithTools(['dciodvfy'], 'dciodvfy accepts the results without errors', async () => {
    for (const name of ['plain', 'irot90', 'exif-gps'] as const) {
      const report = dciodvfy((await convert(heicFixture(name))).part10);
      expect(report.iod).toBe('VLPhotographicImage');
      expect(report.errors).toEqual([]);
    }
  }, 30_000);
});
