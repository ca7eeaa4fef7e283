import { resolveAttribute } from '../dicom/index.js';
import { CANARIES, heicFixture, makeCameraJpeg, makePng } from '../../../test/fixtures/photos.js';
import { formatDS, mapExif, readExif } from './exif.js';

describe('readExif', () => {
  it('maps camera, date and exposure EXIF to DICOM attributes', async () => {
    const exif = await readExif(await makeCameraJpeg({ offset: '+01:00', subSec: '045' }));
    expect(exif.unreadable).toBe(false);
    expect(exif.orientation).toBe(1); // libexif (sharp) always writes one
    expect(exif.dataset).toEqual({
      Manufacturer: 'Canon',
      ManufacturerModelName: 'EOS R5',
      SoftwareVersions: 'Firmware 1.8.1',
      ContentDate: '20250304',
      ContentTime: '101112.045',
      AcquisitionDateTime: '20250304101112.045+0100',
      EXIFVersion: '0210',
      ExposureTimeInSeconds: '0.008',
      FNumber: '2.8',
      ExposureBiasValue: '-0.3333333333333',
      FocalLength: '50',
      PhotographicSensitivity: '200',
      FocalLengthIn35mmFilm: '50',
      ExposureProgram: 3,
      MeteringMode: 5,
      ExposureMode: 0,
      WhiteBalance: 0,
      SceneCaptureType: 0,
      // Flash 25 = fired, auto mode.
      FlashFiringStatus: 1,
      FlashReturnStatus: 0,
      FlashMode: 3,
      FlashFunctionPresent: 0,
      FlashRedEyeMode: 0,
      LensSpecification: ['24', '70', '2.8', '2.8'],
      LensMake: 'Canon',
      LensModel: 'RF24-70mm F2.8 L IS USM',
    });
  });

  it('only produces attributes DICOM defines', async () => {
    const { dataset } = await readExif(await makeCameraJpeg());
    for (const keyword of Object.keys(dataset)) expect(resolveAttribute(keyword)?.keyword).toBe(keyword);
  });

  it('never copies GPS, owner, serial numbers, artist or descriptions', async () => {
    const { dataset } = await readExif(await makeCameraJpeg({ gps: true, identifying: true }));
    const text = JSON.stringify(dataset);
    for (const canary of Object.values(CANARIES)) expect(text).not.toContain(canary);
    expect(Object.keys(dataset).filter((k) => /GPS|Owner|Serial|Artist|MakerNote|Comment/.test(k))).toEqual([]);
  });

  it('returns the orientation', async () => {
    expect((await readExif(await makeCameraJpeg({ orientation: 6 }))).orientation).toBe(6);
    expect((await readExif(await makePng({ orientation: 8 }))).orientation).toBe(8);
  });

  it('gives nothing for images without EXIF', async () => {
    expect(await readExif(await makePng())).toEqual({ dataset: {}, unreadable: false });
    expect(await readExif(heicFixture('plain'), 'heic')).toEqual({ dataset: {}, unreadable: false });
  });

  it('reads the EXIF item of a HEIC file', async () => {
    const exif = await readExif(heicFixture('exif-gps'), 'heic');
    expect(exif.dataset).toMatchObject({ Manufacturer: 'Apple', ManufacturerModelName: 'iPhone 15', ContentDate: '20250607', ContentTime: '080910' });
    expect(JSON.stringify(exif.dataset)).not.toContain(CANARIES.gpsMapDatum);
    expect(exif.orientation).toBe(6); // reported; the converter ignores it for HEIF (irot/imir rule)
  });

  it('flags damaged EXIF as unreadable instead of failing', async () => {
    const jpeg = Buffer.from(await makeCameraJpeg());
    const tiff = jpeg.indexOf('Exif\0\0', 0, 'latin1') + 6;
    jpeg.write('XX', tiff, 'latin1'); // neither II nor MM
    expect(await readExif(jpeg)).toEqual({ dataset: {}, unreadable: true });
  });
});

describe('mapExif', () => {
  it('ignores unset and impossible dates, bad offsets and sub-seconds', () => {
    expect(mapExif({}, { 0x9003: '0000:00:00 00:00:00' }).dataset).toEqual({});
    expect(mapExif({}, { 0x9003: '    :  :     :  :  ' }).dataset).toEqual({});
    expect(mapExif({}, { 0x9003: '2025:13:01 10:00:00' }).dataset).toEqual({});
    expect(mapExif({}, { 0x9003: '2025:03:04 10:11:12', 0x9011: 'local', 0x9291: '1234567' }).dataset)
      .toEqual({ ContentDate: '20250304', ContentTime: '101112', AcquisitionDateTime: '20250304101112' });
    expect(mapExif({}, { 0x9003: '2025:03:04 10:11:12', 0x9011: '-05:30' }).dataset.AcquisitionDateTime).toBe('20250304101112-0530');
  });

  it('splits the Flash bit field (no flash function, red-eye reduction, reserved return value)', () => {
    expect(mapExif({}, { 0x9209: 0x20 }).dataset).toEqual({ FlashFiringStatus: 0, FlashReturnStatus: 0, FlashMode: 0, FlashFunctionPresent: 1, FlashRedEyeMode: 0 });
    expect(mapExif({}, { 0x9209: 0x5f }).dataset).toEqual({ FlashFiringStatus: 1, FlashReturnStatus: 3, FlashMode: 3, FlashFunctionPresent: 0, FlashRedEyeMode: 1 });
    expect(mapExif({}, { 0x9209: 0x03 }).dataset).not.toHaveProperty('FlashReturnStatus');
  });

  it('drops enumerated values DICOM does not define, and unknown lens data', () => {
    expect(mapExif({}, { 0xa401: 3, 0x9207: 7, 0x9208: 5, 0xa432: [24, 70, NaN, NaN] }).dataset).toEqual({});
    expect(mapExif({}, { 0xa401: 1, 0x9207: 255 }).dataset).toEqual({ CustomRendered: 1, MeteringMode: 255 });
  });

  it('cleans text: no control characters, no backslash in LO, length limits', () => {
    const ds = mapExif({ 0x010f: 'NIKON CORPORATION\0\0', 0x0110: 'A\\B', 0x0131: 'x'.repeat(100) }, {}).dataset;
    expect(ds).toEqual({ Manufacturer: 'NIKON CORPORATION', ManufacturerModelName: 'A/B', SoftwareVersions: 'x'.repeat(64) });
  });

  it('accepts only orientations 1–8', () => {
    expect(mapExif({ 0x0112: 9 }, {}).orientation).toBeUndefined();
    expect(mapExif({ 0x0112: 3 }, {}).orientation).toBe(3);
  });
});

describe('formatDS', () => {
  it('fits any number in 16 characters', () => {
    expect(formatDS(0.008)).toBe('0.008');
    expect(formatDS(1 / 3)).toBe('0.33333333333333');
    expect(formatDS(-1 / 3)).toBe('-0.3333333333333');
    expect(formatDS(123456789.12345679)).toBe('123456789.123457');
    expect(formatDS(1e-20 / 3)).toBe('3.3333333333e-21');
    for (const n of [Math.PI * 1e300, -Math.E * 1e-300, 2 ** 60]) expect(formatDS(n)!.length).toBeLessThanOrEqual(16);
    expect(formatDS(Infinity)).toBeUndefined();
  });
});
