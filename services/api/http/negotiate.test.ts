import { parseAccept, parseMediaType } from './media-type.js';
import { multipartType } from './negotiate.js';

describe('multipartType', () => {
  const range = (h: string) => parseAccept(h)[0];

  it('is the type parameter of multipart/related, lower-case, or the default part type', () => {
    expect(multipartType(range('multipart/related; type="Application/DICOM"'), 'application/octet-stream')).toBe('application/dicom');
    expect(multipartType(range('multipart/related'), 'application/octet-stream')).toBe('application/octet-stream');
    expect(multipartType(parseMediaType('multipart/related; type=application/dicom+json; boundary=x'), 'application/dicom')).toBe('application/dicom+json');
  });

  it('takes multipart/* and */* as multipart/related', () => {
    expect(multipartType(range('multipart/*'), 'application/dicom')).toBe('application/dicom');
    expect(multipartType(range('multipart/*; type=image/jpeg'), 'application/octet-stream')).toBe('image/jpeg');
    expect(multipartType(range('*/*'), 'application/dicom')).toBe('application/dicom');
  });

  it('is undefined for anything else', () => {
    for (const h of ['application/dicom', 'multipart/mixed', 'application/*', 'image/jpeg']) {
      expect(multipartType(range(h), 'application/dicom')).toBeUndefined();
    }
    expect(multipartType(parseMediaType('multipart/form-data; boundary=x'), 'application/dicom')).toBeUndefined();
  });
});
