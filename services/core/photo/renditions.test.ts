import sharp, { type Sharp } from 'sharp';
import { makeCtImage, makeJpeg, makeSecondaryCaptureRgb, makeVlPhoto } from '../../../test/fixtures/dicom.js';
import { expectLucidaRejection } from '../../../test/helpers/errors.js';
import { SOP_CLASS, extractFrame, readPart10, renderFrame } from '../dicom/index.js';
import { STANDARD_RENDITIONS } from '../dicom/renditions.js';
import { measureImageQa } from './qa.js';
import { deriveStandardRenditions, isPlainBaselineJpeg, storedFrameAsRendered } from './renditions.js';

/** What the /rendered and /thumbnail routes render on a cache miss. */
const routeRendered = (part10: Buffer) => renderFrame(part10, 1, STANDARD_RENDITIONS.rendered);
const routeThumbnail = (part10: Buffer) => renderFrame(part10, 1, STANDARD_RENDITIONS.thumbnail);

async function pixels(image: Buffer) {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Mean absolute difference, in levels, between two decoded images of the same size and kind. */
async function meanDifference(a: Buffer, b: Buffer): Promise<number> {
  const [pa, pb] = await Promise.all([pixels(a), pixels(b)]);
  expect([pb.width, pb.height, pb.channels]).toEqual([pa.width, pa.height, pa.channels]);
  let sum = 0;
  for (let i = 0; i < pa.data.length; i++) sum += Math.abs(pa.data[i] - pb.data[i]);
  return sum / pa.data.length;
}

const storedFrame = (part10: Buffer) => extractFrame(part10, 1).data;

describe('deriveStandardRenditions: JPEG Baseline photographs', () => {
  let jpeg: Buffer;
  let part10: Buffer;
  beforeAll(async () => {
    jpeg = await makeJpeg(1600, 1200);
    part10 = await makeVlPhoto({ jpeg });
  });

  it('serves the stored JPEG bitstream as the rendered image, byte for byte', async () => {
    const { rendered } = await deriveStandardRenditions(part10);
    expect(rendered.equals(storedFrame(part10))).toBe(true);
    expect(rendered.subarray(0, jpeg.length).equals(jpeg)).toBe(true); // plus the even-length pad
  });

  it('whose pixels are exactly those renderFrame renders, without its second JPEG generation', async () => {
    const { rendered } = await deriveStandardRenditions(part10);
    expect(await meanDifference(rendered, await renderFrame(part10, 1, { format: 'png' }))).toBe(0);
    expect(await meanDifference(rendered, await routeRendered(part10))).toBeLessThan(1.5);
  });

  it('makes the thumbnail the route would: a JPEG fitting 256×256, nearly the same pixels', async () => {
    const { thumbnail } = await deriveStandardRenditions(part10);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ format: 'jpeg', width: 256, height: 192, channels: 3 });
    expect(await meanDifference(thumbnail, await routeThumbnail(part10))).toBeLessThan(3);
  });

  it('measures QA from the same decode, with the figures of the stored JPEG measured alone', async () => {
    const { qa } = await deriveStandardRenditions(part10);
    expect(qa).toEqual(await measureImageQa(storedFrame(part10)));
    expect(qa).toMatchObject({ width: 1600, height: 1200, analysed: { width: 1024, height: 768 } });
  });

  it('keeps greyscale photographs greyscale', async () => {
    const grey = await makeVlPhoto({ jpeg: await makeJpeg(1600, 1200, { grayscale: true }) });
    const { rendered, thumbnail, qa } = await deriveStandardRenditions(grey);
    expect(rendered.equals(storedFrame(grey))).toBe(true);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ width: 256, height: 192, channels: 1 });
    expect(await meanDifference(thumbnail, await routeThumbnail(grey))).toBeLessThan(3);
    expect(qa?.width).toBe(1600);
  });

  it('never enlarges the thumbnail of a small photograph, and flags its resolution', async () => {
    const small = await makeVlPhoto({ width: 64, height: 48 });
    const { thumbnail, qa } = await deriveStandardRenditions(small);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ format: 'jpeg', width: 64, height: 48 });
    expect(qa?.flags.map((f) => f.code)).toContain('LOW_RESOLUTION');
  });

  it('measures Dermoscopic Photography too', async () => {
    const derm = await makeVlPhoto({ jpeg, extra: { SOPClassUID: SOP_CLASS.DermoscopicPhotographyImage } });
    const { qa } = await deriveStandardRenditions(derm);
    expect(qa).toEqual(await measureImageQa(storedFrame(derm)));
    expect(qa).toMatchObject({ width: 1600, height: 1200, analysed: { width: 1024, height: 768 } });
  });

  it('reads a file once: takes it already read, and the SOP class from the caller', async () => {
    const file = readPart10(part10);
    const fromFile = await deriveStandardRenditions(file);
    expect(fromFile.rendered.equals(storedFrame(part10))).toBe(true);
    expect(fromFile.qa).toEqual(await measureImageQa(storedFrame(part10)));
    // The caller's SOP class wins over the data set's (what the index says the instance is).
    expect((await deriveStandardRenditions(file, { sopClassUID: SOP_CLASS.SecondaryCapture })).qa).toBeUndefined();
    expect(storedFrameAsRendered(file)?.equals(storedFrame(part10))).toBe(true);
    expect(storedFrameAsRendered(part10)?.equals(storedFrame(part10))).toBe(true);
  });

  it('does not measure a JPEG that is not a photograph, and its thumbnail is byte for byte the route\'s', async () => {
    const sc = await makeVlPhoto({ jpeg, extra: { SOPClassUID: SOP_CLASS.SecondaryCapture } });
    const { rendered, thumbnail, qa } = await deriveStandardRenditions(sc);
    expect(qa).toBeUndefined();
    expect(rendered.equals(storedFrame(sc))).toBe(true);
    expect(thumbnail.equals(await routeThumbnail(sc))).toBe(true);
  });
});

describe('deriveStandardRenditions: JPEGs a browser could show differently are rendered', () => {
  it.each([
    ['Exif orientation (browsers rotate)', (img: Sharp) => img.withMetadata({ orientation: 6 })],
    ['an ICC profile (sharp converts to sRGB)', (img: Sharp) => img.withIccProfile('p3')],
    ['progressive coding', (img: Sharp) => img.jpeg({ progressive: true })],
  ])('%s', async (_name, alter) => {
    const jpeg = await alter(sharp(await makeJpeg(320, 240)).jpeg()).toBuffer();
    const part10 = await makeVlPhoto({ jpeg });
    const { rendered, qa } = await deriveStandardRenditions(part10);
    expect(rendered.equals(await routeRendered(part10))).toBe(true);
    expect(rendered.equals(storedFrame(part10))).toBe(false);
    expect(storedFrameAsRendered(part10)).toBeUndefined();
    expect(qa?.width).toBe(320);
  });
});

describe('deriveStandardRenditions: native pixel data', () => {
  it('renders RGB Secondary Capture byte for byte as the routes do, without QA', async () => {
    const sc = await makeSecondaryCaptureRgb({ rows: 300, columns: 400 });
    const { rendered, thumbnail, qa } = await deriveStandardRenditions(sc);
    expect(rendered.equals(await routeRendered(sc))).toBe(true);
    expect(thumbnail.equals(await routeThumbnail(sc))).toBe(true);
    expect(qa).toBeUndefined();
  });

  it('measures a photograph stored as native RGB (a converted PNG or TIFF)', async () => {
    const photo = await makeSecondaryCaptureRgb({ rows: 1200, columns: 1600, extra: { SOPClassUID: SOP_CLASS.VLPhotographicImage } });
    const { rendered, thumbnail, qa } = await deriveStandardRenditions(photo);
    expect(rendered.equals(await routeRendered(photo))).toBe(true);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ format: 'jpeg', width: 256, height: 192 });
    expect(await meanDifference(thumbnail, await routeThumbnail(photo))).toBeLessThan(3);
    expect(qa).toMatchObject({ width: 1600, height: 1200 });
  });

  it('renders CT with its window, greyscale, thumbnail never enlarged, without QA', async () => {
    const ct = await makeCtImage({ rows: 64, columns: 64 });
    const { rendered, thumbnail, qa } = await deriveStandardRenditions(ct);
    expect(rendered.equals(await routeRendered(ct))).toBe(true);
    expect(await sharp(thumbnail).metadata()).toMatchObject({ format: 'jpeg', width: 64, height: 64, channels: 1 });
    expect(await meanDifference(thumbnail, await routeThumbnail(ct))).toBeLessThan(3);
    expect(thumbnail.equals(await routeThumbnail(ct))).toBe(true); // not a photograph: the route's own pipeline
    expect(qa).toBeUndefined();
  });

  it('refuses instances without pixel data and bytes that are not DICOM', async () => {
    await expectLucidaRejection('NOT_FOUND', deriveStandardRenditions(await makeVlPhoto({ extra: { PixelData: undefined } })));
    await expectLucidaRejection('INVALID_DICOM', deriveStandardRenditions(Buffer.from('not DICOM')));
  });
});

describe('isPlainBaselineJpeg', () => {
  let jpeg: Buffer;
  const size = { rows: 48, columns: 64, components: 3 };
  beforeAll(async () => {
    jpeg = await makeJpeg(64, 48);
  });

  it('accepts a baseline JPEG of the declared size, with zero padding after EOI', () => {
    expect(isPlainBaselineJpeg(jpeg, size)).toBe(true);
    expect(isPlainBaselineJpeg(Buffer.concat([jpeg, Buffer.alloc(1)]), size)).toBe(true);
  });

  it('refuses another size or component count, truncation and trailing data', () => {
    expect(isPlainBaselineJpeg(jpeg, { ...size, rows: 47 })).toBe(false);
    expect(isPlainBaselineJpeg(jpeg, { ...size, components: 1 })).toBe(false);
    expect(isPlainBaselineJpeg(jpeg.subarray(0, jpeg.length - 2), size)).toBe(false);
    expect(isPlainBaselineJpeg(Buffer.concat([jpeg, Buffer.from([0xff, 0xd8])]), size)).toBe(false);
    expect(isPlainBaselineJpeg(Buffer.from('not a jpeg'), size)).toBe(false);
  });

  /** `jpeg` with a segment inserted after SOI. */
  const withSegment = (segment: number[]) => Buffer.concat([jpeg.subarray(0, 2), Buffer.from(segment), jpeg.subarray(2)]);
  /** APP14 Adobe, version 100, flags 0, then the colour transform flag. */
  const adobe = (transform: number) => [0xff, 0xee, 0x00, 0x0e, ...Buffer.from('Adobe'), 0x00, 0x64, 0, 0, 0, 0, transform];

  it('refuses metadata segments: a comment, Exif', () => {
    expect(isPlainBaselineJpeg(withSegment([0xff, 0xfe, 0x00, 0x04, 0x61, 0x62]), size)).toBe(false);
    expect(isPlainBaselineJpeg(withSegment([0xff, 0xe1, 0x00, 0x08, ...Buffer.from('Exif'), 0, 0]), size)).toBe(false);
  });

  it('accepts an Adobe segment only when it declares YCbCr (transform 1), as the converter keeps it', () => {
    expect(isPlainBaselineJpeg(withSegment(adobe(1)), size)).toBe(true);
    expect(isPlainBaselineJpeg(withSegment(adobe(0)), size)).toBe(false);
  });
});

