import sharp from 'sharp';
import { expectLucidaError } from '../../../test/helpers/errors.js';
import { CANARIES, makeCameraJpeg, restartJpegFixture } from '../../../test/fixtures/photos.js';
import { jpegEntropyCodedData, parseJpeg, parseJpegHeader, strippedJpegParts } from './jpeg.js';

/** A marker segment: FF, marker, 16-bit length (payload + 2), payload. */
function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/** Inserts segments right after SOI. */
const afterSoi = (jpeg: Buffer, ...segments: Buffer[]) => Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);

/** Marker bytes of the segments before the first SOS. */
const markers = (jpeg: Buffer) => parseJpegHeader(jpeg).segments.map((s) => s.marker);

const raw = (jpeg: Buffer) => sharp(jpeg, { ignoreIcc: true }).raw().toBuffer();

/** The stripped JPEG as one buffer, and the ICC profile (what the converter stores). */
function strip(jpeg: Buffer): { jpeg: Buffer; icc?: Buffer } {
  const { parts, length, icc } = strippedJpegParts(jpeg);
  return { jpeg: Buffer.concat(parts, length), icc };
}

describe('parseJpeg', () => {
  it('reads the frame of a baseline colour JPEG', async () => {
    const s = parseJpeg(await makeCameraJpeg({ width: 40, height: 30 }));
    expect(s.frame).toMatchObject({ marker: 0xc0, process: 'baseline', arithmetic: false, precision: 8, width: 40, height: 30 });
    expect(s.frame.components.map((c) => [c.id, c.h, c.v])).toEqual([[1, 2, 2], [2, 1, 1], [3, 1, 1]]);
    expect(s.subsampling).toBe('4:2:0');
    expect(s.scans).toBe(1);
  });

  it('tells progressive, greyscale and 4:4:4 apart', async () => {
    const progressive = parseJpeg(await makeCameraJpeg({ progressive: true }));
    expect([progressive.frame.marker, progressive.frame.process]).toEqual([0xc2, 'progressive']);
    expect(progressive.scans).toBeGreaterThan(1);
    expect(parseJpeg(await makeCameraJpeg({ grayscale: true })).frame.components).toHaveLength(1);
    expect(parseJpeg(await makeCameraJpeg({ chromaSubsampling: '4:4:4' })).subsampling).toBe('4:4:4');
  });

  it('reads the APP14 Adobe transform flag', async () => {
    const adobe = Buffer.from('Adobe\0\x64\0\0\0\0\x00', 'latin1'); // version 100, flags 0, transform 0 (RGB)
    expect(parseJpeg(afterSoi(await makeCameraJpeg(), segment(0xee, adobe))).adobeTransform).toBe(0);
  });

  it('refuses a JPEG without EOI (truncated upload)', async () => {
    const jpeg = await makeCameraJpeg();
    expectLucidaError('INVALID_IMAGE', () => parseJpeg(jpeg.subarray(0, jpeg.length - 100)), /truncated/);
    expectLucidaError('INVALID_IMAGE', () => parseJpeg(jpeg.subarray(0, jpeg.length - 2)), /end-of-image/);
  });

  it('refuses a header cut inside a segment, and a segment running past the end', async () => {
    const jpeg = await makeCameraJpeg();
    expectLucidaError('INVALID_IMAGE', () => parseJpegHeader(jpeg.subarray(0, 30)), /truncated/);
    const lying = Buffer.from(jpeg);
    lying.writeUInt16BE(0xfff0, 4); // APP1 length
    expectLucidaError('INVALID_IMAGE', () => parseJpegHeader(lying), /runs past the end/);
  });

  it('refuses garbage after SOI and a scan before the frame header', () => {
    expectLucidaError('INVALID_IMAGE', () => parseJpegHeader(Buffer.from([0xff, 0xd8, 0x12, 0x34, 0, 0])), /expected a marker/);
    const sos = segment(0xda, Buffer.from([1, 1, 0, 0, 63, 0]));
    expectLucidaError('INVALID_IMAGE', () => parseJpegHeader(Buffer.concat([Buffer.from([0xff, 0xd8]), sos])), /before the frame/);
  });

  it('refuses a frame whose quantization tables are not defined', async () => {
    const jpeg = await makeCameraJpeg();
    const dqt = parseJpegHeader(jpeg).segments.filter((seg) => seg.marker === 0xdb);
    const without = Buffer.concat([jpeg.subarray(0, dqt[0].offset), jpeg.subarray(dqt[dqt.length - 1].end)]);
    expectLucidaError('INVALID_IMAGE', () => parseJpegHeader(without), /quantization table/);
  });

  it('counts restart markers: a cut scan "repaired" with an EOI is refused', () => {
    const jpeg = restartJpegFixture();
    const s = parseJpeg(jpeg);
    expect(s.frame.process).toBe('baseline');
    // Cut just before the last RST marker (the 11th: RST0…RST7, RST0, RST1, RST2) and close the file.
    const lastRst = jpeg.lastIndexOf(Buffer.from([0xff, 0xd2]));
    const repaired = Buffer.concat([jpeg.subarray(0, lastRst), Buffer.from([0xff, 0xd9])]);
    expectLucidaError('INVALID_IMAGE', () => parseJpeg(repaired), /10 of 11 restart markers/);
  });

  it('refuses restart markers out of sequence', () => {
    const jpeg = Buffer.from(restartJpegFixture());
    const first = jpeg.indexOf(Buffer.from([0xff, 0xd0]), parseJpegHeader(jpeg).entropyStart);
    jpeg[first + 1] = 0xd3;
    expectLucidaError('INVALID_IMAGE', () => parseJpeg(jpeg), /out of sequence/);
  });
});

describe('strippedJpegParts', () => {
  it('drops EXIF (GPS, owner, serials), XMP, IPTC, COM and vendor APPn; keeps the entropy-coded data byte for byte', async () => {
    const camera = await makeCameraJpeg({ gps: true, identifying: true, icc: 'srgb' });
    const withMore = afterSoi(
      camera,
      segment(0xe1, Buffer.from(`http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>${CANARIES.gpsMapDatum}</x:xmpmeta>`, 'latin1')),
      segment(0xed, Buffer.from(`Photoshop 3.0\0${CANARIES.artist}`, 'latin1')),
      segment(0xe2, Buffer.from('MPF\0MM\0*', 'latin1')),
      segment(0xeb, Buffer.from('vendor maker data', 'latin1')),
      segment(0xfe, Buffer.from(CANARIES.comment, 'latin1')),
    );
    const { jpeg, icc } = strip(withMore);
    for (const canary of Object.values(CANARIES)) expect(jpeg.includes(canary)).toBe(false);
    expect(jpeg.includes('Exif\0\0')).toBe(false);
    expect(markers(jpeg).filter((m) => m >= 0xe0 && m <= 0xef || m === 0xfe)).toEqual([]);
    expect(jpegEntropyCodedData(jpeg).equals(jpegEntropyCodedData(withMore))).toBe(true);
    expect(icc?.equals((await sharp(camera).metadata()).icc!)).toBe(true);
    expect((await raw(jpeg)).equals(await raw(camera))).toBe(true);
  });

  it('keeps APP14 Adobe and a JFIF APP0 without its thumbnail', async () => {
    const thumbnail = Buffer.from([2, 1, 10, 20, 30, 40, 50, 60]); // 2 × 1 RGB
    const jfif = segment(0xe0, Buffer.concat([Buffer.from('JFIF\0\x01\x02\x01\x00\x48\x00\x48', 'latin1'), thumbnail]));
    const adobe = segment(0xee, Buffer.from('Adobe\0\x64\0\0\0\0\x01', 'latin1'));
    const { jpeg } = strip(afterSoi(await makeCameraJpeg(), jfif, adobe));
    expect(markers(jpeg).slice(0, 2)).toEqual([0xe0, 0xee]);
    expect(jpeg.subarray(2, 20)).toEqual(Buffer.from('\xff\xe0\x00\x10JFIF\0\x01\x02\x01\x00\x48\x00\x48\x00\x00', 'latin1'));
    expect(parseJpeg(jpeg).adobeTransform).toBe(1);
  });

  it('reassembles a multi-chunk ICC profile in sequence order', async () => {
    const jpeg = await makeCameraJpeg({ exposure: false });
    const profile = Buffer.alloc(150_000);
    for (let i = 0; i < profile.length; i++) profile[i] = (i * 7) % 251;
    const chunks = [profile.subarray(0, 65_000), profile.subarray(65_000, 130_000), profile.subarray(130_000)];
    const app2 = (seq: number) => segment(0xe2, Buffer.concat([Buffer.from(`ICC_PROFILE\0${String.fromCharCode(seq, 3)}`, 'latin1'), chunks[seq - 1]]));
    expect(strip(afterSoi(jpeg, app2(2), app2(1), app2(3))).icc?.equals(profile)).toBe(true);
    // An incomplete profile is dropped rather than returned wrong.
    const { jpeg: out, icc } = strip(afterSoi(jpeg, app2(1), app2(3)));
    expect(icc).toBeUndefined();
    expect(out.includes('ICC_PROFILE')).toBe(false);
  });

  it('drops data after EOI (MPF secondary images, vendor trailers) and APPn between scans', async () => {
    const progressive = await makeCameraJpeg({ progressive: true });
    const s = parseJpeg(progressive);
    // An APP1 between the first and second scans.
    const second = progressive.indexOf(Buffer.from([0xff, 0xda]), s.entropyStart);
    const exif = segment(0xe1, Buffer.from(`Exif\0\0${CANARIES.bodySerial}`, 'latin1'));
    const trailer = Buffer.concat([await makeCameraJpeg({ gps: true }), Buffer.from(CANARIES.cameraOwner)]);
    const input = Buffer.concat([progressive.subarray(0, second), exif, progressive.subarray(second), trailer]);
    expect(parseJpeg(input).lateMetadata).toHaveLength(1);
    const { jpeg } = strip(input);
    for (const canary of Object.values(CANARIES)) expect(jpeg.includes(canary)).toBe(false);
    expect(jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    expect((await raw(jpeg)).equals(await raw(progressive))).toBe(true);
  });
});

describe('jpegEntropyCodedData', () => {
  it('is everything from after the first SOS header to EOI inclusive', async () => {
    const jpeg = await makeCameraJpeg();
    const s = parseJpeg(jpeg);
    const data = jpegEntropyCodedData(jpeg);
    expect(data.equals(jpeg.subarray(s.entropyStart))).toBe(true);
    expect(data.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
  });
});
