import { expectLucidaError } from '../../../test/helpers/errors.js';
import {
  formatMediaType, HeaderSyntaxError, isToken, isValidBoundary, mediaRangeMatches, parseAccept, parseMediaType, parseTokenAndParameters,
} from './media-type.js';

describe('parseMediaType', () => {
  it('parses a plain type', () => {
    expect(parseMediaType('application/dicom')).toEqual({ type: 'application', subtype: 'dicom', essence: 'application/dicom', params: {} });
  });

  it('lower-cases type, subtype and parameter names but keeps value case', () => {
    const mt = parseMediaType('Multipart/Related; Type="Application/DICOM"; BOUNDARY=AbC-123');
    expect(mt.type).toBe('multipart');
    expect(mt.subtype).toBe('related');
    expect(mt.essence).toBe('multipart/related');
    expect(mt.params).toEqual({ type: 'Application/DICOM', boundary: 'AbC-123' });
  });

  it('parses a STOW-RS Content-Type with quoted and token values', () => {
    const mt = parseMediaType('multipart/related; type="application/dicom"; boundary=----lucida-7f3a; start="<root@x>"');
    expect(mt.params).toEqual({ type: 'application/dicom', boundary: '----lucida-7f3a', start: '<root@x>' });
  });

  it('unescapes quoted-pairs and keeps ; , = and spaces inside quotes', () => {
    const mt = parseMediaType('text/plain; a="x\\"y\\\\z"; b="p;q,r=s t"; c=""');
    expect(mt.params).toEqual({ a: 'x"y\\z', b: 'p;q,r=s t', c: '' });
  });

  it('tolerates whitespace around separators, empty parameters and a trailing ;', () => {
    const mt = parseMediaType('  text/html ;charset=utf-8 ;; \t; level = 1 ;  ');
    expect(mt.essence).toBe('text/html');
    expect(mt.params).toEqual({ charset: 'utf-8', level: '1' });
  });

  it('accepts unquoted values with "/" (as PS3.18 writes them), "=" and ":"', () => {
    const mt = parseMediaType('multipart/related; type=application/dicom; boundary=----=_Part_0:1');
    expect(mt.params).toEqual({ type: 'application/dicom', boundary: '----=_Part_0:1' });
  });

  it('keeps the boundary of a Content-Type with RFC 2046 characters in quotes', () => {
    expect(parseMediaType('multipart/related; boundary="a b:c?d=e/f(g)"').params.boundary).toBe('a b:c?d=e/f(g)');
  });

  it.each([
    [''],
    ['   '],
    ['application'],
    ['application/'],
    ['/dicom'],
    ['application dicom'],
    ['application/dicom extra'],
    ['application/dicom; type'],
    ['application/dicom; type='],
    ['application/dicom; =x'],
    ['application/dicom; type="unterminated'],
    ['application/dicom; type="bad\\'],
    ['application/dicom; a=b c'],
    ['application/dicom; a=b"c"'],
    ['application/dicom; a=b\\c'],
    ['application/dicom; a=1; A=2'],
    ['application/dicom, text/plain'],
    ['appli@cation/dicom'],
    ['application/dicom; a="caf\u0113"'],
    ['application/dicom; a="line\nbreak"'],
    ['*/*'],
    ['image/*'],
  ])('rejects %j with UNSUPPORTED_MEDIA_TYPE', (header) => {
    expectLucidaError('UNSUPPORTED_MEDIA_TYPE', () => parseMediaType(header));
  });

  it('says what is wrong, without echoing an unbounded header', () => {
    const err = expectLucidaError('UNSUPPORTED_MEDIA_TYPE', () => parseMediaType(`x/${'y'.repeat(500)} z`));
    expect(err.status).toBe(415);
    expect(err.message.length).toBeLessThan(200);
  });
});

describe('parseAccept', () => {
  const essences = (h: string | undefined) => parseAccept(h).map((r) => `${r.essence};q=${r.q}`);

  it('treats a missing or empty header as */*', () => {
    for (const h of [undefined, '', '  ', ' , ,']) {
      expect(parseAccept(h)).toEqual([{ type: '*', subtype: '*', essence: '*/*', params: {}, q: 1 }]);
    }
  });

  it('parses the DICOMweb WADO-RS example with quoted type and transfer-syntax parameters', () => {
    const ranges = parseAccept('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type=application/octet-stream; transfer-syntax=*');
    expect(ranges).toEqual([
      { type: 'multipart', subtype: 'related', essence: 'multipart/related', params: { type: 'application/dicom', 'transfer-syntax': '1.2.840.10008.1.2.4.50' }, q: 1 },
      { type: 'multipart', subtype: 'related', essence: 'multipart/related', params: { type: 'application/octet-stream', 'transfer-syntax': '*' }, q: 1 },
    ]);
  });

  it('sorts by q descending and keeps client order for ties', () => {
    expect(essences('application/json;q=0.9, application/dicom+json, text/plain;q=0.9, image/*;q=1.0, */*;q=0.1'))
      .toEqual(['application/dicom+json;q=1', 'image/*;q=1', 'application/json;q=0.9', 'text/plain;q=0.9', '*/*;q=0.1']);
  });

  it('parses application/dicom+json, application/json;q=0.9', () => {
    const [a, b] = parseAccept('application/dicom+json, application/json;q=0.9');
    expect(a).toMatchObject({ essence: 'application/dicom+json', q: 1, params: {} });
    expect(b).toMatchObject({ essence: 'application/json', q: 0.9, params: {} });
  });

  it('does not split on commas inside quoted strings', () => {
    const ranges = parseAccept('multipart/related; type="application/dicom"; note="a, b, \\"c,d\\""; q=0.5, application/dicom');
    expect(ranges.map((r) => r.essence)).toEqual(['application/dicom', 'multipart/related']);
    expect(ranges[1].params).toEqual({ type: 'application/dicom', note: 'a, b, "c,d"' });
    expect(ranges[1].q).toBe(0.5);
  });

  it('takes q out of params wherever it appears and keeps parameters after it', () => {
    const [r] = parseAccept('multipart/related; Q=0.4; type="application/dicom"; transfer-syntax=*');
    expect(r.q).toBe(0.4);
    expect(r.params).toEqual({ type: 'application/dicom', 'transfer-syntax': '*' });
  });

  it('drops q=0 ranges; a header of only q=0 ranges accepts nothing', () => {
    expect(essences('application/json;q=0, text/html;q=0.000, image/png')).toEqual(['image/png;q=1']);
    expect(parseAccept('*/*;q=0')).toEqual([]);
  });

  it('skips malformed elements but keeps the good ones (Java sends "*; q=.2")', () => {
    expect(essences('text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2'))
      .toEqual(['text/html;q=1', 'image/gif;q=1', 'image/jpeg;q=1', '*/*;q=0.2', '*/*;q=0.2']);
    expect(essences('garbage, application/json;q=2, application/xml;q=abc, */json, text/plain; q=0.3, image/png; a="unterminated'))
      .toEqual(['text/plain;q=0.3']);
  });

  it('returns [] when every element is malformed', () => {
    expect(parseAccept('nonsense, /x')).toEqual([]);
  });

  it('lower-cases essences and parameter names', () => {
    const [r] = parseAccept('Application/DICOM+JSON; Charset=UTF-8');
    expect(r).toMatchObject({ type: 'application', subtype: 'dicom+json', essence: 'application/dicom+json', params: { charset: 'UTF-8' } });
  });

  it('accepts wildcard ranges', () => {
    expect(essences('image/*;q=0.5, */*;q=0.1')).toEqual(['image/*;q=0.5', '*/*;q=0.1']);
  });
});

describe('mediaRangeMatches', () => {
  const range = (h: string) => parseAccept(h)[0];

  it('*/* matches anything concrete', () => {
    expect(mediaRangeMatches(range('*/*'), 'application/dicom')).toBe(true);
    expect(mediaRangeMatches(range('*/*'), 'image/jpeg')).toBe(true);
  });

  it('type/* matches only that type', () => {
    expect(mediaRangeMatches(range('image/*'), 'image/jpeg')).toBe(true);
    expect(mediaRangeMatches(range('image/*'), 'IMAGE/PNG')).toBe(true);
    expect(mediaRangeMatches(range('image/*'), 'application/dicom')).toBe(false);
  });

  it('an exact range matches only that essence, case-insensitively, ignoring parameters', () => {
    expect(mediaRangeMatches(range('application/dicom+json'), 'application/dicom+json')).toBe(true);
    expect(mediaRangeMatches(range('application/dicom+json'), 'Application/Dicom+JSON; charset=utf-8')).toBe(true);
    expect(mediaRangeMatches(range('application/dicom+json'), 'application/json')).toBe(false);
    expect(mediaRangeMatches(range('application/json'), 'application/dicom+json')).toBe(false);
    expect(mediaRangeMatches(range('multipart/related; type="application/dicom"'), 'multipart/related')).toBe(true);
  });

  it('never matches a malformed essence', () => {
    for (const e of ['', 'image', 'image/', '/jpeg']) expect(mediaRangeMatches(range('*/*'), e)).toBe(false);
  });
});

describe('formatMediaType', () => {
  it('quotes values that are not tokens and round-trips through parseMediaType', () => {
    const s = formatMediaType('multipart/related', { type: 'application/dicom', 'transfer-syntax': '1.2.840.10008.1.2.1', boundary: 'abc', note: 'say "hi"\\' });
    expect(s).toBe('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1; boundary=abc; note="say \\"hi\\"\\\\"');
    expect(parseMediaType(s).params).toEqual({ type: 'application/dicom', 'transfer-syntax': '1.2.840.10008.1.2.1', boundary: 'abc', note: 'say "hi"\\' });
  });

  it('refuses values that cannot be carried in a header', () => {
    expect(() => formatMediaType('text/plain', { a: 'x\r\ny' })).toThrow(TypeError);
    expect(() => formatMediaType('text/plain', { 'b c': 'x' })).toThrow(TypeError);
  });
});

describe('isToken / isValidBoundary', () => {
  it('accepts RFC 9110 tokens only', () => {
    for (const t of ['a', 'Content-Type', "!#$%&'*+-.^_`|~09AZaz"]) expect(isToken(t)).toBe(true);
    for (const t of ['', 'a b', 'a/b', 'a:b', 'a"b', 'caf\u00e9', 'a\tb']) expect(isToken(t)).toBe(false);
  });

  it('accepts RFC 2046 boundaries: 1 to 70 bchars, not ending in a space', () => {
    for (const b of ['x', 'x'.repeat(70), 'DICOM DATA BOUNDARY', "'()+_,-./:=?"]) expect(isValidBoundary(b)).toBe(true);
    for (const b of ['', 'x'.repeat(71), 'trailing ', 'star*', 'caf\u00e9', 'a;b']) expect(isValidBoundary(b)).toBe(false);
  });
});

describe('parseTokenAndParameters', () => {
  it('parses a token and its parameters by the media type rules (e.g. Content-Disposition)', () => {
    expect(parseTokenAndParameters('Form-Data; Name="files"; filename="a \\"b\\"; c.jpg" ;; ')).toEqual({
      token: 'form-data', params: { name: 'files', filename: 'a "b"; c.jpg' },
    });
    expect(parseTokenAndParameters('inline')).toEqual({ token: 'inline', params: {} });
  });

  it.each([
    [''],
    ['form-data name=a'],
    ['form-data; name'],
    ['form-data; name="a'],
    ['form-data; a=1; A=2'],
    ['@; a=1'],
  ])('throws HeaderSyntaxError for %j', (header) => {
    expect(() => parseTokenAndParameters(header)).toThrow(HeaderSyntaxError);
  });
});
