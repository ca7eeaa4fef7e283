import { expectLucidaError } from '../../../test/helpers/errors.js';
import { parseFormDisposition } from './content-disposition.js';

describe('parseFormDisposition', () => {
  it('reads the field name of a plain form field', () => {
    expect(parseFormDisposition('form-data; name="metadata"')).toEqual({ name: 'metadata', filename: undefined });
  });

  it('reads the file name of a file part, with token or quoted values and any case or spacing', () => {
    expect(parseFormDisposition('form-data; name="files"; filename="a.jpg"')).toEqual({ name: 'files', filename: 'a.jpg' });
    expect(parseFormDisposition('Form-Data ;NAME=files ;  FileName = "b c.jpg" ;')).toEqual({ name: 'files', filename: 'b c.jpg' });
  });

  it('unescapes quoted-pairs and keeps ; and , inside quotes', () => {
    expect(parseFormDisposition('form-data; name="files"; filename="say \\"hi\\"; a, b.jpg"').filename).toBe('say "hi"; a, b.jpg');
  });

  it('prefers filename* (RFC 5987, UTF-8) to filename', () => {
    expect(parseFormDisposition("form-data; name=files; filename=\"fallback.jpg\"; filename*=UTF-8''caf%C3%A9.jpg").filename).toBe('café.jpg');
    expect(parseFormDisposition("form-data; name=files; filename*=utf-8'en'%E2%82%AC.png").filename).toBe('€.png');
  });

  it('keeps only the last path segment of a file name', () => {
    expect(parseFormDisposition('form-data; name=files; filename="/home/me/photos/a.jpg"').filename).toBe('a.jpg');
    expect(parseFormDisposition('form-data; name=files; filename="C:\\\\photos\\\\b.jpg"').filename).toBe('b.jpg');
    expect(parseFormDisposition("form-data; name=files; filename*=UTF-8''dir%2Fc.jpg").filename).toBe('c.jpg');
  });

  it.each([
    [undefined],
    [''],
    ['attachment; name="files"'],
    ['form-data'],
    ['form-data; filename="a.jpg"'],
    ['form-data; name=""'],
    ['form-data; name="a"; name="b"'],
    ['form-data; name="a"; NAME="b"'],
    ['form-data; name'],
    ['form-data; name=a b'],
    ['form-data; name="unterminated'],
    ['form-data name="a"'],
    ["form-data; name=files; filename*=UTF-8''%E0%A4%A"],
  ])('refuses %j with MALFORMED_MULTIPART', (header) => {
    expectLucidaError('MALFORMED_MULTIPART', () => parseFormDisposition(header));
  });
});
