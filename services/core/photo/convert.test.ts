import { expectLucidaRejection, lucidaRejection } from '../../../test/helpers/errors.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import {
  dciodvfy, decodeVlPhoto, jsonValue, makeCameraJpeg, makePng, photoContext, pngHeader,
} from '../../../test/fixtures/photos.js';
import { convertPhoto } from './convert.js';

const limits = { maxPixels: 50_000_000 };

describe('convertPhoto: the data set around the pixels', () => {
  it('copies the context, fills Type 2 attributes and owns the SOP, image and pixel attributes', async () => {
    const context = photoContext({
      ImageLaterality: 'L',
      AnatomicRegionSequence: [{ CodeValue: '70559009', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Skin of anterior surface of forearm' }],
      OperatorsName: 'PHOTOGRAPHER^ANN',
      // The converter's own attributes cannot be overridden...
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', Modality: 'OT', ImageType: ['DERIVED', 'SECONDARY'], Rows: 1, PhotometricInterpretation: 'RGB',
      // ...and these are never stored.
      GPSLatitude: ['51', '30', '12.34'], CameraOwnerName: 'SOMEONE', DeviceSerialNumber: '12345',
    });
    const out = await convertPhoto(await makePng(), context, limits);
    const m = (await decodeVlPhoto(out.part10)).metadata;
    expect(jsonValue(m, '00080016')).toBe('1.2.840.10008.5.1.4.1.1.77.1.4');
    expect([jsonValue(m, '00080060'), jsonValue(m, '00280010'), jsonValue(m, '00280004'), jsonValue(m, '00080005')]).toEqual(['XC', 48, 'RGB', 'ISO_IR 192']);
    expect(m['00080008'].Value).toEqual(['ORIGINAL', 'PRIMARY']);
    expect([jsonValue(m, '00200062'), jsonValue(m, '00280301')]).toEqual(['L', 'NO']);
    expect(jsonValue(m, '00082218')).toMatchObject({ '00080100': { Value: ['70559009'] } });
    expect(jsonValue(m, '00081070')).toEqual({ Alphabetic: 'PHOTOGRAPHER^ANN' });
    expect([jsonValue(m, '0020000D'), jsonValue(m, '0020000E'), jsonValue(m, '00080018')])
      .toEqual([context.dataset.StudyInstanceUID, context.dataset.SeriesInstanceUID, context.dataset.SOPInstanceUID]);
    expect(Object.keys(m).filter((t) => t.startsWith('0016') || t === '00181000')).toEqual([]);
  });

  it('writes empty Type 2 attributes and defaults when the context has none', async () => {
    const bare = photoContext({
      PatientName: undefined, PatientID: undefined, IssuerOfPatientID: undefined, PatientBirthDate: undefined, PatientSex: undefined,
      StudyDate: undefined, StudyTime: undefined, StudyID: undefined, AccessionNumber: undefined, ReferringPhysicianName: undefined,
      SeriesNumber: undefined, InstanceNumber: undefined, StudyDescription: undefined,
    });
    const m = (await decodeVlPhoto((await convertPhoto(await makePng(), bare, limits)).part10)).metadata;
    for (const tag of ['00100010', '00100020', '00100030', '00100040', '00080020', '00080030', '00080090', '00200010', '00080050', '00200011', '00080070', '00200013', '00200020']) {
      expect(m[tag]).toBeDefined();
      expect(m[tag].Value).toBeUndefined();
    }
    expect(m['00400555']).toEqual({ vr: 'SQ' }); // Acquisition Context Sequence, empty
    expect([jsonValue(m, '00200062'), jsonValue(m, '00280301')]).toEqual(['U', 'NO']);
  });

  it('dates the content from EXIF, else the context, else createdAt (local time)', async () => {
    const createdAt = new Date(2026, 4, 6, 7, 8, 9);
    const fromExif = (await decodeVlPhoto((await convertPhoto(await makeCameraJpeg(), photoContext({}, createdAt), limits)).part10)).metadata;
    expect([jsonValue(fromExif, '00080023'), jsonValue(fromExif, '00080033')]).toEqual(['20250304', '101112']);
    expect([jsonValue(fromExif, '00080012'), jsonValue(fromExif, '00080013')]).toEqual(['20260506', '070809']);
    const fromContext = (await decodeVlPhoto((await convertPhoto(await makePng(), photoContext({ ContentDate: '20240101', ContentTime: '120000' }, createdAt), limits)).part10)).metadata;
    expect([jsonValue(fromContext, '00080023'), jsonValue(fromContext, '00080033')]).toEqual(['20240101', '120000']);
    const fromCreation = (await decodeVlPhoto((await convertPhoto(await makePng(), photoContext({}, createdAt), limits)).part10)).metadata;
    expect([jsonValue(fromCreation, '00080023'), jsonValue(fromCreation, '00080033')]).toEqual(['20260506', '070809']);
    expect(fromCreation['0008002A']).toBeUndefined();
  });

  it('prefers the image\'s EXIF over the context for the same attribute', async () => {
    const m = (await decodeVlPhoto((await convertPhoto(await makeCameraJpeg(), photoContext({ Manufacturer: 'Studio A' }), limits)).part10)).metadata;
    expect(jsonValue(m, '00080070')).toBe('Canon');
  });

  it('refuses a context without UIDs (a caller bug)', async () => {
    await expectLucidaRejection('INTERNAL', convertPhoto(await makePng(), photoContext({ SOPInstanceUID: undefined }), limits), /SOPInstanceUID/);
  });

  itWithTools(['dciodvfy'], 'dciodvfy accepts a fully described instance without errors', async () => {
    const context = photoContext({
      ImageLaterality: 'R', BodyPartExamined: 'ARM', OperatorsName: 'PHOTOGRAPHER^ANN', InstitutionName: 'Lucida Hospital',
      StationName: 'STUDIO1', SeriesDescription: 'Right forearm', RecognizableVisualFeatures: 'NO',
      AnatomicRegionSequence: [{ CodeValue: '70559009', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Skin of anterior surface of forearm' }],
    });
    const report = dciodvfy((await convertPhoto(await makeCameraJpeg({ icc: 'srgb' }), context, limits)).part10);
    expect(report.iod).toBe('VLPhotographicImage'); // proof that dciodvfy ran and checked the IOD meant
    expect(report.errors).toEqual([]);
  });
});

describe('convertPhoto: refusals', () => {
  it('refuses a decompression bomb from its header, before decoding', async () => {
    const bomb = pngHeader(60000, 60000); // no image data: decoding would fail with INVALID_IMAGE
    await expectLucidaRejection('IMAGE_TOO_LARGE', convertPhoto(bomb, photoContext(), limits), /60000 × 60000/);
  });

  it('applies maxPixels to every format', async () => {
    await expectLucidaRejection('IMAGE_TOO_LARGE', convertPhoto(await makeCameraJpeg(), photoContext(), { maxPixels: 64 * 48 - 1 }));
    expect((await convertPhoto(await makeCameraJpeg(), photoContext(), { maxPixels: 64 * 48 })).rows).toBe(48);
  });

  it('names the problem without patient data', async () => {
    const jpeg = await makeCameraJpeg();
    const cases: [Buffer, string][] = [
      [Buffer.from('%PDF-1.7 not a photo'), 'UNSUPPORTED_IMAGE'],
      [Buffer.alloc(0), 'INVALID_IMAGE'],
      [jpeg.subarray(0, jpeg.length - 50), 'INVALID_IMAGE'],
      [(await makePng()).subarray(0, 60), 'INVALID_IMAGE'],
    ];
    for (const [bytes, code] of cases) {
      const e = await lucidaRejection(code, convertPhoto(bytes, photoContext({ PatientName: 'SECRET^NAME' }), limits));
      expect(e.message).not.toContain('SECRET');
    }
  });

  it('refuses a JPEG with a marker inside its image data', async () => {
    const jpeg = Buffer.from(await makeCameraJpeg({ exposure: false, width: 256, height: 192 }));
    jpeg.set([0xff, 0xd8], jpeg.length - 40); // a second SOI
    await expectLucidaRejection('INVALID_IMAGE', convertPhoto(jpeg, photoContext(), limits), /unexpected marker/);
  });

  it('refuses an image the decoder cannot decode', async () => {
    const png = Buffer.from(await makePng());
    const idat = png.indexOf('IDAT', 0, 'latin1');
    png.fill(0x42, idat + 4, idat + 20); // corrupt the zlib stream (and the chunk CRC)
    await expectLucidaRejection('INVALID_IMAGE', convertPhoto(png, photoContext(), limits), /cannot be decoded/);
  });
});
