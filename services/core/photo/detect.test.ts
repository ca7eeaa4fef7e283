import sharp from 'sharp';
import { expectLucidaError } from '../../../test/helpers/errors.js';
import { heicFixture, makeCameraJpeg, makePng, makeTiff, pngHeader } from '../../../test/fixtures/photos.js';
import { probePhoto, readTiffHeader } from './detect.js';
import { parseJpegHeader } from './jpeg.js';

/** A big-endian TIFF header whose first IFD has ImageWidth (LONG) and ImageLength (SHORT). */
function bigEndianTiff(width: number, height: number): Buffer {
  const b = Buffer.alloc(8 + 2 + 2 * 12 + 4);
  b.write('MM\0*', 0, 'latin1');
  b.writeUInt32BE(8, 4);
  b.writeUInt16BE(2, 8);
  b.writeUInt16BE(256, 10); b.writeUInt16BE(4, 12); b.writeUInt32BE(1, 14); b.writeUInt32BE(width, 18);
  b.writeUInt16BE(257, 22); b.writeUInt16BE(3, 24); b.writeUInt32BE(1, 26); b.writeUInt16BE(height, 30);
  return b;
}

describe('probePhoto', () => {
  it('identifies JPEG, PNG, TIFF and HEIC and reads their stored size', async () => {
    expect(probePhoto(await makeCameraJpeg({ width: 40, height: 30 }))).toEqual({ format: 'jpeg', width: 40, height: 30 });
    expect(probePhoto(await makeCameraJpeg({ progressive: true }))).toEqual({ format: 'jpeg', width: 64, height: 48 });
    // Stored size, before orientation: a portrait photo from a camera held upright is stored landscape.
    expect(probePhoto(await makeCameraJpeg({ width: 48, height: 64, orientation: 6 }))).toEqual({ format: 'jpeg', width: 64, height: 48 });
    expect(probePhoto(await makePng({ bitDepth: 16, alpha: 200 }))).toEqual({ format: 'png', width: 64, height: 48 });
    expect(probePhoto(await makeTiff({ width: 30, height: 20 }))).toEqual({ format: 'tiff', width: 30, height: 20 });
    expect(probePhoto(bigEndianTiff(70000, 500))).toEqual({ format: 'tiff', width: 70000, height: 500 });
    expect(probePhoto(heicFixture('plain'))).toEqual({ format: 'heic', width: 64, height: 48 });
    expect(probePhoto(heicFixture('irot90'))).toEqual({ format: 'heic', width: 64, height: 48 });
  });

  it('reads a decompression bomb header without decoding or allocating', () => {
    const bomb = pngHeader(60000, 60000);
    const before = process.memoryUsage().arrayBuffers;
    expect(probePhoto(bomb)).toEqual({ format: 'png', width: 60000, height: 60000 });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('does not decode: a JPEG with garbage image data still probes', async () => {
    const jpeg = Buffer.from(await makeCameraJpeg());
    jpeg.fill(0x55, parseJpegHeader(jpeg).entropyStart, jpeg.length); // and no EOI
    expect(probePhoto(jpeg).format).toBe('jpeg');
  });

  it('refuses what is not a supported image with UNSUPPORTED_IMAGE', async () => {
    const webp = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).webp().toBuffer();
    const gif = Buffer.from('GIF89a\x08\x00\x08\x00', 'latin1');
    const pdf = Buffer.from('%PDF-1.7\n', 'latin1');
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom\0\0\0\0isommp42', 'latin1')]);
    for (const bytes of [Buffer.from('hello, world'), webp, gif, pdf, mp4, Buffer.from([0xff, 0xd8])]) {
      expectLucidaError('UNSUPPORTED_IMAGE', () => probePhoto(bytes));
    }
  });

  it('says AVIF is not supported', async () => {
    const avif = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).avif().toBuffer();
    expectLucidaError('UNSUPPORTED_IMAGE', () => probePhoto(avif), /AVIF/);
  });

  it('refuses an empty file and damaged headers with INVALID_IMAGE', async () => {
    const jpeg = await makeCameraJpeg();
    expectLucidaError('INVALID_IMAGE', () => probePhoto(Buffer.alloc(0)), /empty/);
    expectLucidaError('INVALID_IMAGE', () => probePhoto(jpeg.subarray(0, 40)), /truncated/);
    expectLucidaError('INVALID_IMAGE', () => probePhoto(pngHeader(64, 48).subarray(0, 20)), /truncated/);
    expectLucidaError('INVALID_IMAGE', () => probePhoto(pngHeader(64, 48, 7)), /bit depth/);
    expectLucidaError('INVALID_IMAGE', () => probePhoto(pngHeader(0, 48)), /empty image/);
    expectLucidaError('INVALID_IMAGE', () => probePhoto(bigEndianTiff(64, 48).subarray(0, 20)), /truncated/);
    expectLucidaError('INVALID_IMAGE', () => probePhoto(heicFixture('plain').subarray(0, 200)), /truncated/);
  });
});

describe('readTiffHeader', () => {
  it('reads the compression of the first image', async () => {
    expect(readTiffHeader(await makeTiff({ compression: 'lzw' })).compression).toBe(5);
    expect(readTiffHeader(await makeTiff({ compression: 'jpeg' })).compression).toBe(7);
    expect(readTiffHeader(bigEndianTiff(10, 10)).compression).toBe(1);
  });
});
