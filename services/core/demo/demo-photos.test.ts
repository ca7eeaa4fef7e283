/**
 * The demo photographs: the layout's figures (what browser tests calibrate and sample on) hold in the
 * drawn pixels and survive JPEG; the file is a camera JPEG the archive reads as such (EXIF date,
 * make, model, orientation, sRGB) and passes image QA; the same scene always gives the same bytes.
 */
import sharp from 'sharp';
import { readExif } from '../photo/exif.js';
import { measureImageQa } from '../photo/qa.js';
import { PATCH_COLOURS, demoPhotoLayout, demoPhotoPixels, renderDemoPhoto, type DemoPhotoScene } from './demo-photos.js';

const scene = (over: Partial<DemoPhotoScene> = {}): DemoPhotoScene => ({
  width: 800, height: 600, skin: [228, 184, 158], lesion: { kind: 'naevus', diameterMm: 8 }, light: 'left', seed: 7,
  takenAt: { exif: '2025:07:15 14:05:00', offset: '+01:00' }, ...over,
});

const at = (pixels: Buffer, width: number, x: number, y: number) => {
  const i = (Math.floor(y) * width + Math.floor(x)) * 3;
  return [pixels[i], pixels[i + 1], pixels[i + 2]];
};

describe('demoPhotoLayout', () => {
  it('gives the figures of the default 2048 × 1536 photo', () => {
    const l = demoPhotoLayout(2048, 1536, 8);
    expect(l.pxPerMm).toBe(10.24);
    expect(l.ruler).toMatchObject({ x0: 204.5, x5cm: 716.5, x10cm: 1228.5, y: 1242, tickTop: 1229, tickWidth: 3, lengthMm: 100 });
    expect(l.patches).toEqual([
      { name: 'red', x: 1392, y: 116, w: 154, h: 154, rgb: [200, 40, 40] },
      { name: 'green', x: 1585, y: 116, w: 154, h: 154, rgb: [40, 140, 60] },
      { name: 'blue', x: 1778, y: 116, w: 154, h: 154, rgb: [40, 70, 190] },
    ]);
    expect(l.lesion).toMatchObject({ cx: 860.5, cy: 768.5, rx: 40.96, longAxisMm: 8, shortAxisMm: 6.4 });
  });

  it.each([[640, 480], [800, 600], [1600, 1200], [2048, 1536], [1200, 1600], [4000, 3000]])(
    'fits ruler, card and a 20 mm lesion apart in %i × %i, with patches of at least 120 px', (w, h) => {
      const l = demoPhotoLayout(w, h, 20);
      expect(l.ruler.x10cm - l.ruler.x0).toBeCloseTo(100 * l.pxPerMm, 9);
      expect(l.ruler.x0 % 1).toBe(0.5); // on a pixel centre
      for (const p of l.patches) expect(Math.min(p.w, p.h)).toBeGreaterThanOrEqual(120);
    });

  it('refuses sizes and lesions it cannot lay out', () => {
    expect(() => demoPhotoLayout(320, 240)).toThrow(RangeError);
    expect(() => demoPhotoLayout(800, 600.5)).toThrow(RangeError);
    expect(() => demoPhotoLayout(800, 600, 21)).toThrow(RangeError);
    expect(() => demoPhotoLayout(8001, 6000)).toThrow(RangeError);
  });
});

describe('demoPhotoPixels', () => {
  const s = scene();
  const l = demoPhotoLayout(s.width, s.height, s.lesion.diameterMm);
  const px = demoPhotoPixels(s);

  it('paints each patch in its exact colour', () => {
    for (const p of l.patches) {
      expect(at(px, s.width, p.x + 1, p.y + 1)).toEqual([...p.rgb]);
      expect(at(px, s.width, p.x + p.w / 2, p.y + p.h / 2)).toEqual([...p.rgb]);
      expect(at(px, s.width, p.x + p.w - 1, p.y + p.h - 1)).toEqual([...p.rgb]);
    }
  });

  it('draws a dark tick at every millimetre of the ruler row and white ruler between them', () => {
    const { ruler, pxPerMm } = l;
    for (let k = 0; k <= 100; k++) {
      const x = ruler.x0 + k * pxPerMm;
      expect(Math.max(...at(px, s.width, x, ruler.y))).toBeLessThan(140);
      if (k < 100) expect(Math.min(...at(px, s.width, x + pxPerMm / 2, ruler.y))).toBeGreaterThan(200);
    }
    // Centimetre ticks are longer than millimetre ticks.
    const below = ruler.tickTop + ruler.tickLength.mm + 1;
    expect(Math.max(...at(px, s.width, ruler.x10cm, below))).toBeLessThan(140);
    expect(Math.min(...at(px, s.width, ruler.x0 + pxPerMm, below))).toBeGreaterThan(200);
  });

  it('puts a lesion darker than the skin where the layout says, of the stated size', () => {
    const { cx, cy, rx } = l.lesion;
    const centre = at(px, s.width, cx, cy);
    const skin = at(px, s.width, cx + rx * 1.6, cy);
    expect(centre[0] + centre[1] + centre[2]).toBeLessThan((skin[0] + skin[1] + skin[2]) / 2);
    // Inside the ellipse near its end: lesion; just outside: skin.
    expect(at(px, s.width, cx + rx * 0.85, cy)[0]).toBeLessThan(150);
    expect(at(px, s.width, cx + rx * 1.15, cy)[0]).toBeGreaterThan(190);
  });

  it('is not flat: the skin varies (shading and texture) and depends on the seed', () => {
    const row = Array.from({ length: 50 }, (_, i) => at(px, s.width, 20 + i * 2, 300)[1]);
    expect(new Set(row).size).toBeGreaterThan(5);
    expect(demoPhotoPixels(scene({ seed: 8 })).equals(px)).toBe(false);
  });
});

describe('renderDemoPhoto', () => {
  it('makes the same bytes from the same scene', async () => {
    const [a, b] = await Promise.all([renderDemoPhoto(scene()), renderDemoPhoto(scene())]);
    expect(a.equals(b)).toBe(true);
  });

  it('is a baseline 4:2:0 sRGB camera JPEG whose EXIF the archive maps to the capture date and camera', async () => {
    const jpeg = await renderDemoPhoto(scene());
    const meta = await sharp(jpeg).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 800, height: 600, chromaSubsampling: '4:2:0', isProgressive: false, space: 'srgb', orientation: 1 });
    expect(meta.icc).toBeDefined();
    const exif = await readExif(jpeg, 'jpeg');
    expect(exif.orientation).toBe(1);
    expect(exif.dataset).toMatchObject({
      Manufacturer: 'Canon', ManufacturerModelName: 'EOS R6', ContentDate: '20250715', ContentTime: '140500',
      AcquisitionDateTime: '20250715140500+0100',
    });
  });

  it('keeps the patch colours at their centres through JPEG (within 4 levels) and the 0 and 10 cm ticks dark', async () => {
    const s = scene({ width: 640, height: 480 });
    const l = demoPhotoLayout(640, 480, 8);
    const { data } = await sharp(await renderDemoPhoto(s)).raw().toBuffer({ resolveWithObject: true });
    for (const p of l.patches) {
      const got = at(data, 640, p.x + p.w / 2, p.y + p.h / 2);
      got.forEach((v, c) => expect(Math.abs(v - PATCH_COLOURS[p.name][c])).toBeLessThanOrEqual(4));
    }
    for (const x of [l.ruler.x0, l.ruler.x10cm]) expect(Math.max(...at(data, 640, x, l.ruler.y))).toBeLessThan(140);
  });

  it('passes image QA at the default size (no flag: sharp, well exposed, 3.1 MP)', async () => {
    const qa = await measureImageQa(await renderDemoPhoto(scene({ width: 2048, height: 1536 })));
    expect(qa.flags).toEqual([]);
  });
});
