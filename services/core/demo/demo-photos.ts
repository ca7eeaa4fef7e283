/**
 * Synthetic clinical photographs for the demo patients: camera-like JPEGs (sRGB, EXIF date, make,
 * model, Orientation 1) of skin with a lesion, a millimetre ruler and a colour reference card, drawn
 * pixel by pixel in JavaScript (no fonts, no SVG, no downloads), so the same scene gives the same
 * bytes on every machine with the same sharp/libjpeg build: the demo's captures replay exactly under
 * their Idempotency-Key.
 *
 * Everything a test needs to know about a photo comes from {@link demoPhotoLayout}, a pure function
 * of the size (and the lesion's diameter): where the ruler's 0 and 10 cm ticks are, how many pixels
 * make a millimetre, where the colour patches are and what colour they are, where the lesion is.
 *
 * Coordinates are continuous image coordinates: pixel (i, j) covers [i, i+1) × [j, j+1), so its
 * centre is (i + 0.5, j + 0.5). Every tick is centred on its millimetre position; the 0 mm tick
 * always sits on a pixel centre (column ⌊x0⌋), and so do the 5 and 10 cm ticks when the width is a
 * multiple of 4.
 */
import sharp from 'sharp';

/**
 * Math's functions as module constants: the pixel loops call them millions of times, and a global
 * lookup inside a vm context (jest runs every test file in one) goes through an interceptor that is
 * about fifty times slower than a local.
 */
const { round, floor, ceil, min, max, sin, cos, sqrt, imul } = Math;

export type Rgb = readonly [number, number, number];

/** An axis-aligned rectangle in pixels (integer-aligned). */
export interface Rect { x: number; y: number; w: number; h: number }

export interface ColourPatch extends Rect {
  name: 'red' | 'green' | 'blue';
  /** The patch's sRGB colour as encoded (before JPEG). */
  rgb: Rgb;
}

export interface DemoPhotoLayout {
  width: number;
  height: number;
  /** Pixels per millimetre in the photographed plane (ruler and lesion alike): width / 200. */
  pxPerMm: number;
  ruler: {
    /** The white strip the ticks are printed on. */
    strip: Rect;
    /** Centre line (x) of the 0 mm tick, of the 50 mm tick and of the 100 mm (10 cm) tick. */
    x0: number;
    x5cm: number;
    x10cm: number;
    /** A row through every tick (half-way down the 1 mm ticks): sample ticks along it. */
    y: number;
    /** Ticks hang from the strip's top edge (this row); their lengths in pixels. */
    tickTop: number;
    tickLength: { mm: number; halfCm: number; cm: number };
    /** Tick width in pixels (odd, so a tick on a pixel centre is symmetric). */
    tickWidth: number;
    /** Labels 0…10 (cm), 7-segment digits centred under each centimetre tick: their top row and height. */
    labelTop: number;
    labelHeight: number;
    lengthMm: 100;
  };
  /** The colour reference card (dark grey) and its three saturated patches, top right. */
  card: Rect & { rgb: Rgb };
  patches: ColourPatch[];
  /** The lesion: an ellipse, long axis horizontal. */
  lesion: { cx: number; cy: number; rx: number; ry: number; longAxisMm: number; shortAxisMm: number };
}

/** The reference colours: saturated, and far from skin tones, so a colour cast shows at once. */
export const PATCH_COLOURS: Readonly<Record<ColourPatch['name'], Rgb>> = {
  red: [200, 40, 40],
  green: [40, 140, 60],
  blue: [40, 70, 190],
};

const CARD_RGB: Rgb = [52, 52, 52];
const RULER_RGB: Rgb = [246, 246, 242];
const INK_RGB: Rgb = [18, 18, 18];
/** Short axis / long axis of every lesion. */
const LESION_ASPECT = 0.8;
/** Largest lesion (long axis, mm): it stays clear of the colour card and the ruler at every size. */
const MAX_LESION_MM = 20;
/** Smallest photo the layout fits (patches of 120 px, ruler and lesion apart). */
const MIN_DEMO_PHOTO = { width: 640, height: 480 } as const;
/** Largest: 8 000 px a side (the capture API's pixel limit is far above 64 MP anyway). */
const MAX_DEMO_PHOTO_SIDE = 8000;

/**
 * Where everything is in a width × height demo photo with a lesion of `lesionDiameterMm` (long axis).
 * Pure: tests compute their expectations from it without decoding anything.
 * @throws RangeError when the size is outside {@link MIN_DEMO_PHOTO}…{@link MAX_DEMO_PHOTO_SIDE} or the parts do not fit.
 */
export function demoPhotoLayout(width: number, height: number, lesionDiameterMm = 8): DemoPhotoLayout {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < MIN_DEMO_PHOTO.width || height < MIN_DEMO_PHOTO.height
    || width > MAX_DEMO_PHOTO_SIDE || height > MAX_DEMO_PHOTO_SIDE) {
    throw new RangeError(`demo photos are ${MIN_DEMO_PHOTO.width}×${MIN_DEMO_PHOTO.height} to ${MAX_DEMO_PHOTO_SIDE}×${MAX_DEMO_PHOTO_SIDE} pixels, got ${width}×${height}`);
  }
  if (!(lesionDiameterMm > 0 && lesionDiameterMm <= MAX_LESION_MM)) throw new RangeError(`the lesion is 0 to ${MAX_LESION_MM} mm across`);
  // A 200 mm field of view across: a close-up of a forearm or a cheek, as a macro lens frames it.
  const pxPerMm = width / 200;
  const mm = (n: number) => n * pxPerMm;

  // Ruler: 10 cm from 10 % of the width; the 0 tick on a pixel centre.
  const x0 = floor(width * 0.1) + 0.5;
  const x10cm = x0 + mm(100);
  const tickTop = round(height * 0.8);
  const tickLength = { mm: round(mm(2.5)), halfCm: round(mm(4)), cm: round(mm(5.5)) };
  const labelTop = tickTop + round(mm(6.5));
  const labelHeight = max(9, round(mm(3.6)));
  const stripLeft = floor(x0 - mm(4));
  const strip = { x: stripLeft, y: tickTop, w: ceil(x10cm + mm(4)) - stripLeft, h: round(mm(12)) };

  // Colour card, top right: three squares of at least 120 px (JPEG 4:2:0 keeps a 16 px chroma block
  // around any edge; the centre of a 120 px square is far from all of them).
  const side = max(120, round(min(width, height) * 0.1));
  const gap = round(side / 4);
  const margin = round(min(width, height) * 0.05);
  const cardW = 3 * side + 4 * gap;
  const card = { x: width - margin - cardW, y: margin, w: cardW, h: side + 2 * gap, rgb: CARD_RGB };
  const patches: ColourPatch[] = (['red', 'green', 'blue'] as const).map((name, k) => ({
    name, x: card.x + gap + k * (side + gap), y: card.y + gap, w: side, h: side, rgb: PATCH_COLOURS[name],
  }));

  const rx = mm(lesionDiameterMm / 2);
  const lesion = {
    cx: round(width * 0.42) + 0.5, cy: round(height * 0.5) + 0.5, rx, ry: rx * LESION_ASPECT,
    longAxisMm: lesionDiameterMm, shortAxisMm: lesionDiameterMm * LESION_ASPECT,
  };

  const layout: DemoPhotoLayout = {
    width, height, pxPerMm,
    ruler: {
      strip, x0, x5cm: x0 + mm(50), x10cm, y: tickTop + floor(tickLength.mm / 2), tickTop, tickLength,
      tickWidth: 2 * floor(mm(0.1)) + 1, labelTop, labelHeight, lengthMm: 100,
    },
    card, patches, lesion,
  };
  checkFits(layout);
  return layout;
}

function checkFits(l: DemoPhotoLayout): void {
  const inside = (r: Rect) => r.x >= 0 && r.y >= 0 && r.x + r.w <= l.width && r.y + r.h <= l.height;
  const apart = (a: Rect, b: Rect) => a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
  const { lesion } = l;
  // The lesion with a margin of a quarter of its size around it (its soft edge).
  const lesionBox = {
    x: floor(lesion.cx - lesion.rx * 1.25), y: floor(lesion.cy - lesion.ry * 1.25),
    w: ceil(lesion.rx * 2.5), h: ceil(lesion.ry * 2.5),
  };
  const labelsBottom = l.ruler.labelTop + l.ruler.labelHeight;
  if (!inside(l.ruler.strip) || !inside(l.card) || !inside(lesionBox) || labelsBottom > l.ruler.strip.y + l.ruler.strip.h
    || !apart(l.card, l.ruler.strip) || !apart(lesionBox, l.card) || !apart(lesionBox, l.ruler.strip)) {
    throw new RangeError(`the demo photo's ruler, colour card and lesion do not fit in ${l.width}×${l.height}`);
  }
}

/** What a demo photograph shows and when it was taken. */
export interface DemoPhotoScene {
  width: number;
  height: number;
  /** The patient's skin tone (sRGB), before shading. */
  skin: Rgb;
  lesion: { kind: 'naevus' | 'wound'; diameterMm: number };
  /** Where the light comes from: a second view of the same site is lit from the other side. */
  light: 'left' | 'right';
  /** Seeds the skin's fine texture (noise): one per photograph. */
  seed: number;
  /** EXIF DateTimeOriginal 'YYYY:MM:DD HH:MM:SS' (local time) and OffsetTimeOriginal '+HH:MM'. */
  takenAt: { exif: string; offset: string };
  camera?: { make: string; model: string };
}

const DEMO_CAMERA = { make: 'Canon', model: 'EOS R6' } as const;

const LESION_COLOURS: Record<DemoPhotoScene['lesion']['kind'], { centre: Rgb; edge: Rgb }> = {
  naevus: { centre: [78, 48, 34], edge: [124, 84, 60] },
  wound: { centre: [146, 46, 44], edge: [188, 98, 88] },
};

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)); the same seed gives the same texture everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : round(v));

/** A raw RGB canvas with area-weighted (box-filtered) rectangle fills: fractional edges blend. */
class Canvas {
  readonly data: Buffer;
  constructor(readonly width: number, readonly height: number) { this.data = Buffer.alloc(width * height * 3); }

  fillRect(x0: number, y0: number, x1: number, y1: number, rgb: Rgb): void {
    const left = max(0, floor(x0));
    const right = min(this.width, ceil(x1));
    const top = max(0, floor(y0));
    const bottom = min(this.height, ceil(y1));
    for (let y = top; y < bottom; y++) {
      const cy = min(y + 1, y1) - max(y, y0);
      for (let x = left; x < right; x++) {
        const a = cy * (min(x + 1, x1) - max(x, x0));
        if (a <= 0) continue;
        const i = (y * this.width + x) * 3;
        for (let c = 0; c < 3; c++) this.data[i + c] = clamp8(this.data[i + c] * (1 - a) + rgb[c] * a);
      }
    }
  }
}

/**
 * 7-segment digits, in units of the digit's height (width 0.6): segments a–g as rectangles. Drawn,
 * not typeset: no font on the machine changes a pixel.
 */
const SEGMENTS: Record<string, [number, number, number, number]> = {
  a: [0, 0, 0.6, 0.12], b: [0.48, 0, 0.6, 0.56], c: [0.48, 0.44, 0.6, 1], d: [0, 0.88, 0.6, 1],
  e: [0, 0.44, 0.12, 1], f: [0, 0, 0.12, 0.56], g: [0, 0.44, 0.6, 0.56],
};
const DIGITS = ['abcdef', 'bc', 'abdeg', 'abcdg', 'bcfg', 'acdfg', 'acdefg', 'abc', 'abcdefg', 'abcdfg'];

function drawNumber(canvas: Canvas, text: string, centreX: number, top: number, height: number, rgb: Rgb): void {
  const w = 0.6 * height;
  const spacing = 0.3 * height;
  const total = text.length * w + (text.length - 1) * spacing;
  let x = centreX - total / 2;
  for (const ch of text) {
    for (const s of DIGITS[Number(ch)]) {
      const [a, b, c, d] = SEGMENTS[s];
      canvas.fillRect(x + a * height, top + b * height, x + c * height, top + d * height, rgb);
    }
    x += w + spacing;
  }
}

/** The photo's pixels (raw RGB, 3 bytes a pixel, row by row). */
export function demoPhotoPixels(scene: DemoPhotoScene): Buffer {
  const layout = demoPhotoLayout(scene.width, scene.height, scene.lesion.diameterMm);
  const { width, height, pxPerMm } = layout;
  const canvas = new Canvas(width, height);
  paintSkin(canvas, scene, pxPerMm);
  paintLesion(canvas, scene, layout);

  const { card, patches, ruler } = layout;
  canvas.fillRect(card.x, card.y, card.x + card.w, card.y + card.h, card.rgb);
  for (const p of patches) canvas.fillRect(p.x, p.y, p.x + p.w, p.y + p.h, p.rgb);

  const { strip } = ruler;
  canvas.fillRect(strip.x, strip.y, strip.x + strip.w, strip.y + strip.h, RULER_RGB);
  const half = ruler.tickWidth / 2;
  for (let k = 0; k <= ruler.lengthMm; k++) {
    const x = ruler.x0 + k * pxPerMm;
    const length = k % 10 === 0 ? ruler.tickLength.cm : k % 5 === 0 ? ruler.tickLength.halfCm : ruler.tickLength.mm;
    canvas.fillRect(x - half, ruler.tickTop, x + half, ruler.tickTop + length, INK_RGB);
  }
  for (let cm = 0; cm <= 10; cm++) drawNumber(canvas, String(cm), ruler.x0 + cm * 10 * pxPerMm, ruler.labelTop, ruler.labelHeight, INK_RGB);
  return canvas.data;
}

/**
 * Skin: the tone, lit from one side (a gentle gradient and vignette, as a studio flash gives), a
 * blotchy low-frequency variation and fine noise (pores, sensor), all scaled in millimetres so the
 * texture looks alike at every image size.
 */
function paintSkin(canvas: Canvas, scene: DemoPhotoScene, pxPerMm: number): void {
  const { width, height } = canvas;
  const random = prng(scene.seed);
  // Separable parts of the low-frequency texture, per column and per row.
  const colA = new Float64Array(width);
  const colB = new Float64Array(width);
  const colLight = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    const X = x / pxPerMm;
    colA[x] = sin(X / 7.3 + 1.1);
    colB[x] = sin(X / 3.1);
    const t = x / (width - 1);
    colLight[x] = scene.light === 'left' ? -0.09 * t : -0.09 * (1 - t);
  }
  const rowA = new Float64Array(height);
  const rowB = new Float64Array(height);
  for (let y = 0; y < height; y++) {
    const Y = y / pxPerMm;
    rowA[y] = sin(Y / 5.9);
    rowB[y] = cos(Y / 4.3 + 0.7);
  }
  const [r0, g0, b0] = scene.skin;
  const data = canvas.data;
  const cx = width / 2;
  const cy = height / 2;
  const rr = cx * cx + cy * cy;
  for (let y = 0; y < height; y++) {
    const dy = y - cy;
    for (let x = 0; x < width; x++) {
      const dx = x - cx;
      const shade = 1.03 + colLight[x] - 0.06 * (dy / height) - 0.07 * ((dx * dx + dy * dy) / rr)
        + 0.022 * colA[x] * rowA[y] + 0.012 * colB[x] * rowB[y];
      // Luma noise (same on every channel) and a little chroma noise, as a camera sensor gives.
      const n = (random() - 0.5) * 11;
      const i = (y * width + x) * 3;
      data[i] = clamp8(r0 * shade + n + (random() - 0.5) * 2);
      data[i + 1] = clamp8(g0 * shade + n);
      data[i + 2] = clamp8(b0 * shade + n + (random() - 0.5) * 2);
    }
  }
}

/** The lesion: darker at its centre, a soft edge about half a millimetre wide, mottled. */
function paintLesion(canvas: Canvas, scene: DemoPhotoScene, layout: DemoPhotoLayout): void {
  const { cx, cy, rx, ry } = layout.lesion;
  const { centre, edge } = LESION_COLOURS[scene.lesion.kind];
  const soft = min(0.4, (0.5 * layout.pxPerMm) / rx);
  const data = canvas.data;
  for (let y = max(0, floor(cy - ry - 2)); y < min(canvas.height, ceil(cy + ry + 2)); y++) {
    for (let x = max(0, floor(cx - rx - 2)); x < min(canvas.width, ceil(cx + rx + 2)); x++) {
      const u = (x + 0.5 - cx) / rx;
      const v = (y + 0.5 - cy) / ry;
      const r = sqrt(u * u + v * v);
      // Opaque inside 1 - soft/2, clear beyond 1 + soft/2: the 50 % contour is the ellipse itself.
      const alpha = min(1, max(0, (1 + soft / 2 - r) / soft));
      if (alpha <= 0) continue;
      const mottle = 1 + 0.08 * sin(u * 5.3 + v * 2.1) * cos(v * 4.7 - u * 1.3);
      const t = min(1, r);
      const i = (y * canvas.width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const colour = (centre[c] * (1 - t) + edge[c] * t) * mottle;
        data[i + c] = clamp8(data[i + c] * (1 - alpha) + colour * alpha);
      }
    }
  }
}

/**
 * The photo as a camera JPEG: baseline, 4:2:0, quality 92, an embedded sRGB ICC profile, EXIF IFD0
 * Make/Model/Orientation 1 and Exif IFD DateTimeOriginal/OffsetTimeOriginal with plausible exposure
 * settings for a macro lens and flash (CIPA DC-008). No GPS, no owner or serial numbers.
 */
export async function renderDemoPhoto(scene: DemoPhotoScene): Promise<Buffer> {
  const camera = scene.camera ?? DEMO_CAMERA;
  return sharp(demoPhotoPixels(scene), { raw: { width: scene.width, height: scene.height, channels: 3 } })
    .withIccProfile('srgb')
    .withExif({
      IFD0: { Make: camera.make, Model: camera.model, Orientation: '1', Software: 'Lucida demo photo generator' },
      IFD2: {
        DateTimeOriginal: scene.takenAt.exif, DateTimeDigitized: scene.takenAt.exif, OffsetTimeOriginal: scene.takenAt.offset,
        ExposureTime: '1/160', FNumber: '11/1', ISOSpeedRatings: '200', FocalLength: '100/1', Flash: '1', ColorSpace: '1',
        LensModel: 'RF100mm F2.8 L MACRO IS USM',
      },
    })
    .jpeg({ quality: 92, chromaSubsampling: '4:2:0', progressive: false })
    .toBuffer();
}
