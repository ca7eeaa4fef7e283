import sharp from 'sharp';
import { seededRandom } from '../../../test/fixtures/dicom.js';
import { expectLucidaRejection } from '../../../test/helpers/errors.js';
import { DEFAULT_QA_THRESHOLDS, measureImageQa, type ImageQa } from './qa.js';

const codes = (qa: ImageQa) => qa.flags.map((f) => f.code).sort();

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Grey checkerboard of `square`-pixel squares (levels 50 and 200) under a tiled seeded noise of ±20. */
async function checkerboard(width: number, height: number, square = 16, channels: 1 | 3 = 3): Promise<Buffer> {
  const rand = seededRandom(7);
  const t = 256; // a multiple of 2 × square for the sizes used here
  const tile = Buffer.alloc(t * t * 3);
  for (let y = 0; y < t; y++) {
    for (let x = 0; x < t; x++) {
      const v = clamp(((Math.floor(x / square) + Math.floor(y / square)) % 2 ? 200 : 50) + (rand() - 0.5) * 40);
      tile.fill(v, (y * t + x) * 3, (y * t + x) * 3 + 3);
    }
  }
  let img = sharp({ create: { width, height, channels: 3, background: '#000' } })
    .composite([{ input: tile, raw: { width: t, height: t, channels: 3 }, tile: true, gravity: 'northwest' }]);
  img = sharp(await img.removeAlpha().raw().toBuffer(), { raw: { width, height, channels: 3 } });
  if (channels === 1) img = img.toColourspace('b-w');
  return img.jpeg({ quality: 90 }).toBuffer();
}

/**
 * A vector scene (a light-to-dark gradient under 400 seeded shapes of many sizes) rendered at any
 * size: the same picture at every resolution, as a camera would take it at different settings.
 */
function scene(width: number, height: number): Promise<Buffer> {
  const rand = seededRandom(42);
  let shapes = '';
  for (let i = 0; i < 400; i++) {
    const fill = `rgb(${[0, 1, 2].map(() => 30 + Math.floor(rand() * 196)).join(',')})`;
    const x = (rand() * 400).toFixed(2);
    const y = (rand() * 300).toFixed(2);
    const r = 1 + rand() * rand() * 40;
    shapes += rand() < 0.5
      ? `<circle cx="${x}" cy="${y}" r="${r.toFixed(2)}" fill="${fill}"/>`
      : `<rect x="${x}" y="${y}" width="${(r * 1.5).toFixed(2)}" height="${r.toFixed(2)}" fill="${fill}"/>`;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 400 300">`
    + '<defs><linearGradient id="g"><stop offset="0" stop-color="rgb(70,50,40)"/><stop offset="1" stop-color="rgb(230,200,180)"/></linearGradient></defs>'
    + `<rect width="400" height="300" fill="url(#g)"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

function solid(width: number, height: number, level: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: level, g: level, b: level } } }).jpeg().toBuffer();
}

describe('measureImageQa: resolution', () => {
  it('reports the size of the image, not of the analysis copy, and flags under 2 MP', async () => {
    const qa = await measureImageQa(await checkerboard(640, 480));
    expect(qa).toMatchObject({ width: 640, height: 480, megapixels: 0.3072 });
    // Smaller than the analysis grid: measured at its own size, never enlarged.
    expect(qa.analysed).toEqual({ width: 640, height: 480 });
    expect(codes(qa)).toContain('LOW_RESOLUTION');
    expect(qa.verdict).toBe('review');
    expect(qa.flags.find((f) => f.code === 'LOW_RESOLUTION')?.message).toMatch(/640×480 is 0\.31 MP, below the 2 MP minimum/);
  });

  it('does not flag 2 MP and more', async () => {
    const qa = await measureImageQa(await checkerboard(1920, 1080));
    expect(qa.megapixels).toBeCloseTo(2.07, 2);
    expect(codes(qa)).not.toContain('LOW_RESOLUTION');
  });
});

describe('measureImageQa: sharpness', () => {
  it('scores a heavily blurred copy far lower and flags only it BLURRED', async () => {
    const crisp = await checkerboard(2400, 1800);
    const blurred = await sharp(crisp).blur(8).jpeg({ quality: 90 }).toBuffer();
    const a = await measureImageQa(crisp);
    const b = await measureImageQa(blurred);
    expect(b.sharpness).toBeLessThan(a.sharpness / 20);
    expect(a.sharpness).toBeGreaterThan(DEFAULT_QA_THRESHOLDS.minSharpness * 4);
    expect(codes(a)).toEqual([]);
    expect(a.verdict).toBe('ok');
    expect(codes(b)).toEqual(['BLURRED']);
    expect(b.verdict).toBe('review');
  });

  it('gives the same scene about the same score at 12 MP, 3 MP and as a downsampled copy', async () => {
    const large = await scene(4000, 3000);
    const small = await scene(2000, 1500);
    const resampled = await sharp(large).resize(2000, 1500).jpeg({ quality: 90 }).toBuffer();
    const [l, s, r] = await Promise.all([large, small, resampled].map((img) => measureImageQa(img)));
    expect(l.analysed).toEqual(s.analysed);
    for (const other of [s, r]) {
      expect(other.sharpness / l.sharpness).toBeGreaterThan(2 / 3);
      expect(other.sharpness / l.sharpness).toBeLessThan(3 / 2);
    }
    for (const qa of [l, s, r]) expect(codes(qa)).toEqual([]);
  });

  it('depends on content: a smooth gradient with no detail reads as BLURRED even when in focus', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="1500"><defs><linearGradient id="g">'
      + '<stop offset="0" stop-color="rgb(40,40,40)"/><stop offset="1" stop-color="rgb(215,215,215)"/></linearGradient></defs>'
      + '<rect width="2000" height="1500" fill="url(#g)"/></svg>';
    const qa = await measureImageQa(await sharp(Buffer.from(svg)).png().toBuffer());
    expect(codes(qa)).toEqual(['BLURRED']);
  });
});

describe('measureImageQa: exposure', () => {
  it('flags an all-white image OVEREXPOSED: every pixel blown', async () => {
    const qa = await measureImageQa(await solid(2000, 1500, 255));
    expect(qa.clipping).toEqual({ shadows: 0, highlights: 1 });
    expect(qa.meanLuminance).toBe(255);
    expect(codes(qa)).toContain('OVEREXPOSED');
    expect(codes(qa)).not.toContain('UNDEREXPOSED');
    expect(qa.flags.find((f) => f.code === 'OVEREXPOSED')?.message).toMatch(/100\.0 % of the image is blown white \(limit 5\.0 %\)/);
  });

  it('flags an all-black image UNDEREXPOSED: every pixel crushed', async () => {
    const qa = await measureImageQa(await solid(2000, 1500, 0));
    expect(qa.clipping).toEqual({ shadows: 1, highlights: 0 });
    expect(qa.meanLuminance).toBe(0);
    expect(codes(qa)).toContain('UNDEREXPOSED');
    expect(codes(qa)).not.toContain('OVEREXPOSED');
  });

  it('flags a dim image with nothing clipped on its mean luma', async () => {
    const qa = await measureImageQa(await solid(2000, 1500, 25));
    expect(qa.clipping.shadows).toBe(0);
    expect(qa.meanLuminance).toBeCloseTo(25, 0);
    expect(qa.flags.find((f) => f.code === 'UNDEREXPOSED')?.message).toMatch(/mean brightness 25 is below 40/);
  });

  it('counts luma, not channels: saturated red alone is not a blown highlight', async () => {
    const red = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: { r: 255, g: 60, b: 60 } } }).png().toBuffer();
    const qa = await measureImageQa(red);
    expect(qa.clipping.highlights).toBe(0);
    expect(qa.meanLuminance).toBeCloseTo((77 * 255 + 150 * 60 + 29 * 60) / 256, 0);
  });

  it('does not flag a normal photograph: a gradient background under detailed shapes', async () => {
    const qa = await measureImageQa(await scene(2400, 1800));
    expect(qa.clipping.shadows).toBeLessThan(0.01);
    expect(qa.clipping.highlights).toBeLessThan(0.01);
    expect(qa.flags).toEqual([]);
    expect(qa.verdict).toBe('ok');
  });

  it('takes department thresholds', async () => {
    const white = await solid(2000, 1500, 255);
    const qa = await measureImageQa(white, { thresholds: { maxHighlightClipping: 1, maxMeanLuminance: 255, minSharpness: 0 } });
    expect(qa.flags).toEqual([]);
  });
});

describe('measureImageQa: inputs', () => {
  it('measures decoded pixels like the encoded image, with the source size when given', async () => {
    const png = await sharp(await checkerboard(1200, 900)).png().toBuffer();
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const fromRaw = await measureImageQa({ pixels: data, width: info.width, height: info.height, channels: 3 });
    const fromPng = await measureImageQa(png);
    expect(fromRaw).toEqual(fromPng);

    // An analysis-size copy is used as it is; its source size is reported as the resolution.
    const grid = await sharp(png).resize(1024, 768).raw().toBuffer();
    const fromGrid = await measureImageQa({ pixels: grid, width: 1024, height: 768, channels: 3, sourceWidth: 4000, sourceHeight: 3000 });
    expect(fromGrid).toMatchObject({ width: 4000, height: 3000, megapixels: 12, analysed: { width: 1024, height: 768 } });
  });

  it('measures greyscale images on their single channel, like the same picture in colour', async () => {
    const [grey, colour] = await Promise.all([checkerboard(2400, 1800, 16, 1), checkerboard(2400, 1800, 16, 3)]);
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const [g, c] = await Promise.all([measureImageQa(grey), measureImageQa(colour)]);
    expect(g.flags).toEqual([]);
    expect(g.meanLuminance).toBeCloseTo(c.meanLuminance, 0);
    expect(g.sharpness / c.sharpness).toBeGreaterThan(0.9);
    expect(g.sharpness / c.sharpness).toBeLessThan(1.1);
  });

  it('rejects bytes that are not an image and malformed raw input', async () => {
    await expectLucidaRejection('INVALID_IMAGE', measureImageQa(Buffer.from('not an image')));
    await expectLucidaRejection('INVALID_IMAGE', measureImageQa({ pixels: Buffer.alloc(10), width: 10, height: 10, channels: 3 }));
  });
});

