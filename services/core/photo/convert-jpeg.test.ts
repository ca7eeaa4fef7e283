import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { TS, extractBulkData } from '../dicom/index.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import {
  CANARIES, GREY_QUADRANTS, QUADRANT_COLOURS, dciodvfy, decodeVlPhoto, jsonValue, makeCameraJpeg, photoContext,
  quadrantDistance, quadrantsOf,
} from '../../../test/fixtures/photos.js';
import { convertPhoto } from './convert.js';
import { jpegEntropyCodedData, parseJpeg } from './jpeg.js';

const limits = { maxPixels: 50_000_000 };
const convert = (bytes: Buffer, dataset: Record<string, unknown> = {}) => convertPhoto(bytes, photoContext(dataset), limits);

/** The ICC profile a converted file stores (0028,2000), and the one sharp reads from the source. */
const storedIcc = (part10: Buffer) => extractBulkData(part10, '00282000').data;
const sourceIcc = async (image: Buffer) => (await sharp(image).metadata()).icc;

/** Stored frame is upright: quadrant colours within JPEG loss of the picture. */
async function expectUpright(part10: Buffer, expected = QUADRANT_COLOURS, size: [number, number] = [64, 48]) {
  const d = await decodeVlPhoto(part10);
  expect([d.width, d.height]).toEqual(size);
  expect(quadrantDistance(quadrantsOf(d.pixels, d.width, d.height, d.channels), expected)).toBeLessThan(24);
}

/** No privacy canary, no EXIF header anywhere in the file (attributes or bitstream). */
function expectNothingPrivate(part10: Buffer) {
  for (const canary of Object.values(CANARIES)) expect(part10.includes(canary)).toBe(false);
  expect(part10.includes('Exif\0\0')).toBe(false);
  expect(part10.includes('http://ns.adobe.com/xap')).toBe(false);
}

describe('convertPhoto: camera JPEG wrapped without re-encoding', () => {
  it('keeps the entropy-coded data byte for byte and describes it as JPEG Baseline YBR_FULL_422', async () => {
    const camera = await makeCameraJpeg({ gps: true, identifying: true, icc: 'srgb', offset: '+01:00' });
    const out = await convert(camera);
    expect(out).toMatchObject({ encoding: 'wrapped', sourceFormat: 'jpeg', transferSyntaxUID: TS.JPEGBaseline8Bit, columns: 64, rows: 48 });
    const d = await decodeVlPhoto(out.part10);
    expect(jpegEntropyCodedData(d.frame).equals(jpegEntropyCodedData(camera))).toBe(true);
    const m = d.metadata;
    expect([jsonValue(m, '00280004'), jsonValue(m, '00280002'), jsonValue(m, '00280006')]).toEqual(['YBR_FULL_422', 3, 0]);
    expect([jsonValue(m, '00282110'), jsonValue(m, '00282114')]).toEqual(['01', 'ISO_10918_1']);
    const ratio = Number(jsonValue(m, '00282112'));
    expect(ratio).toBeCloseTo((64 * 48 * 3) / d.frame.length, 0);
    expect(jsonValue(m, '00282002')).toBe('SRGB');
    expect(storedIcc(out.part10)).toEqual(await sourceIcc(camera)); // ICC Profile: the camera's, byte for byte
    expect(m['00082111']).toBeUndefined(); // nothing was derived
    expect([jsonValue(m, '00080023'), jsonValue(m, '00080033'), jsonValue(m, '0008002A')]).toEqual(['20250304', '101112', '20250304101112+0100']);
    expect([jsonValue(m, '00080070'), jsonValue(m, '00081090'), jsonValue(m, '00181020')]).toEqual(['Canon', 'EOS R5', 'Firmware 1.8.1']);
    expect([jsonValue(m, '00160004'), jsonValue(m, '00160005'), jsonValue(m, '00160018')]).toEqual([0.008, 2.8, 200]);
    expectNothingPrivate(out.part10);
    await expectUpright(out.part10);
  });

  it('wraps greyscale JPEG as MONOCHROME2 and a non-sRGB profile without ColorSpace', async () => {
    const grey = await convert(await makeCameraJpeg({ grayscale: true }));
    expect(grey.encoding).toBe('wrapped');
    const g = await decodeVlPhoto(grey.part10);
    expect([jsonValue(g.metadata, '00280004'), jsonValue(g.metadata, '00280002'), g.metadata['00280006'], g.channels]).toEqual(['MONOCHROME2', 1, undefined, 1]);
    expect(quadrantDistance(quadrantsOf(g.pixels, g.width, g.height, g.channels), GREY_QUADRANTS)).toBeLessThan(12);
    const p3Camera = await makeCameraJpeg({ icc: 'p3' });
    const p3Out = await convert(p3Camera);
    const p3 = await decodeVlPhoto(p3Out.part10);
    expect(storedIcc(p3Out.part10)).toEqual(await sourceIcc(p3Camera));
    expect(p3.metadata['00282002']).toBeUndefined();
  });

  it('wraps orientation 1 and 4:4:4 JPEGs too', async () => {
    expect((await convert(await makeCameraJpeg({ orientation: 1 }))).encoding).toBe('wrapped');
    expect((await convert(await makeCameraJpeg({ chromaSubsampling: '4:4:4' }))).encoding).toBe('wrapped');
  });

  it('writes the same bytes for the same input and context (idempotent retries)', async () => {
    const camera = await makeCameraJpeg({ gps: true });
    const context = photoContext();
    const [a, b] = [await convertPhoto(camera, context, limits), await convertPhoto(camera, context, limits)];
    expect(a.part10.equals(b.part10)).toBe(true);
  });
});

describe('convertPhoto: JPEGs that must be re-encoded', () => {
  it.each([2, 3, 4, 5, 6, 7, 8])('applies EXIF orientation %i to the pixels', async (orientation) => {
    const out = await convert(await makeCameraJpeg({ orientation, gps: true, identifying: true }));
    expect(out).toMatchObject({ encoding: 'reencoded', transferSyntaxUID: TS.JPEGBaseline8Bit, columns: 64, rows: 48 });
    await expectUpright(out.part10);
    expectNothingPrivate(out.part10);
    const m = (await decodeVlPhoto(out.part10)).metadata;
    expect(jsonValue(m, '00082111')).toBe(`EXIF orientation ${orientation} applied; re-encoded from baseline JPEG as baseline JPEG (quality 95, 4:4:4)`);
    expect(m['00080008'].Value).toEqual(['ORIGINAL', 'PRIMARY']);
    // Two lossy steps: the camera's and ours (PS3.3 C.7.6.1.1.5).
    expect(m['00282114'].Value).toEqual(['ISO_10918_1', 'ISO_10918_1']);
    expect(m['00282112'].Value).toHaveLength(2);
  });

  it('re-encodes progressive JPEG as baseline, upright and metadata-free', async () => {
    const out = await convert(await makeCameraJpeg({ progressive: true, orientation: 6, gps: true }));
    expect(out.encoding).toBe('reencoded');
    const d = await decodeVlPhoto(out.part10);
    expect(parseJpeg(d.frame).frame.process).toBe('baseline');
    expect(parseJpeg(d.frame).segments.map((s) => s.marker).filter((mk) => mk >= 0xe0)).toEqual([]); // no APPn, COM
    expect(jsonValue(d.metadata, '00082111')).toBe('EXIF orientation 6 applied; re-encoded from progressive JPEG as baseline JPEG (quality 95, 4:4:4)');
    expectNothingPrivate(out.part10);
    await expectUpright(out.part10);
  });

  it('re-encodes greyscale with orientation as one-component baseline', async () => {
    const out = await convert(await makeCameraJpeg({ grayscale: true, orientation: 8 }));
    const d = await decodeVlPhoto(out.part10);
    expect([out.encoding, jsonValue(d.metadata, '00280004'), d.channels]).toEqual(['reencoded', 'MONOCHROME2', 1]);
    expect(quadrantDistance(quadrantsOf(d.pixels, d.width, d.height, 1), GREY_QUADRANTS)).toBeLessThan(12);
  });

  it('converts CMYK JPEG to sRGB with the sRGB profile attached', async () => {
    const cmyk = await sharp(await makeCameraJpeg({ exposure: false })).withIccProfile('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect(parseJpeg(cmyk).frame.components).toHaveLength(4);
    const out = await convert(cmyk);
    const d = await decodeVlPhoto(out.part10);
    expect([out.encoding, jsonValue(d.metadata, '00282002')]).toEqual(['reencoded', 'SRGB']);
    expect(jsonValue(d.metadata, '00082111')).toMatch(/^converted from CMYK to sRGB; re-encoded from CMYK JPEG/);
    // Pure green is outside the CMYK gamut: compare with libvips's own CMYK → sRGB rendering.
    const { data, info } = await sharp(cmyk).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    expect(quadrantDistance(quadrantsOf(d.pixels, d.width, d.height, 3), quadrantsOf(data, info.width, info.height, 3))).toBeLessThan(12);
  });

  it('re-encodes a JPEG whose EXIF cannot be read (orientation unknown)', async () => {
    const jpeg = Buffer.from(await makeCameraJpeg());
    jpeg.write('XX', jpeg.indexOf('Exif\0\0', 0, 'latin1') + 6, 'latin1');
    const out = await convert(jpeg);
    expect(out.encoding).toBe('reencoded');
    expectNothingPrivate(out.part10);
  });
});

describe('convertPhoto: JPEG output validates', () => {
  itWithTools(['dciodvfy'], 'dciodvfy accepts every kind of JPEG result without errors', async () => {
    const inputs = [
      await makeCameraJpeg({ icc: 'srgb', gps: true, identifying: true, offset: '+01:00', subSec: '5' }),
      await makeCameraJpeg({ grayscale: true }),
      await makeCameraJpeg({ progressive: true }),
      await makeCameraJpeg({ orientation: 6 }),
      await makeCameraJpeg({ grayscale: true, orientation: 3 }),
    ];
    for (const input of inputs) {
      const report = dciodvfy((await convert(input, { ImageLaterality: 'L', BodyPartExamined: 'ARM' })).part10);
      expect(report.iod).toBe('VLPhotographicImage');
      expect(report.errors).toEqual([]);
    }
  }, 30_000);

  itWithTools(['dcmj2pnm'], 'DCMTK decodes wrapped (4:2:0) and re-encoded (4:4:4) YBR_FULL_422 frames with the right colours', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lucida-photo-'));
    try {
      for (const input of [await makeCameraJpeg(), await makeCameraJpeg({ orientation: 6 })]) {
        writeFileSync(path.join(dir, 'in.dcm'), (await convert(input)).part10);
        execFileSync('dcmj2pnm', ['--write-png', path.join(dir, 'in.dcm'), path.join(dir, 'out.png')]);
        const { data, info } = await sharp(path.join(dir, 'out.png')).raw().toBuffer({ resolveWithObject: true });
        expect(quadrantDistance(quadrantsOf(data, info.width, info.height, info.channels), QUADRANT_COLOURS)).toBeLessThan(24);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
