import { LucidaError } from '../../core/errors.js';
import { expectLucidaRejection, lucidaRejection } from '../../../test/helpers/errors.js';
import { readJsonPart, unstorableEscape } from './json-part.js';

/** Yields `chunks`, and records how many were pulled. */
function source(chunks: string[]) {
  const s = {
    pulled: 0,
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) {
        s.pulled++;
        yield Buffer.from(c);
      }
    },
  };
  return s;
}
const notJson = () => new LucidaError('INVALID_METADATA', 'not JSON');

describe('readJsonPart', () => {
  it('returns the parsed value and the bytes it came from', async () => {
    const { value, bytes } = await readJsonPart(source(['{"a":', '[1,2]}']), 100, 'the part', notJson);
    expect(value).toEqual({ a: [1, 2] });
    expect(bytes.toString()).toBe('{"a":[1,2]}');
  });

  it('accepts a part of exactly maxBytes', async () => {
    expect((await readJsonPart(source(['"12345678"']), 10, 'the part', notJson)).value).toBe('12345678');
  });

  it('refuses a part over maxBytes as soon as it passes the limit, without reading the rest', async () => {
    const s = source(['["', 'x'.repeat(10), 'y'.repeat(10), 'z'.repeat(10), '"]']);
    await expectLucidaRejection('PAYLOAD_TOO_LARGE', readJsonPart(s, 16, 'the "metadata" part', notJson), /^the "metadata" part is larger than 16 bytes$/);
    expect(s.pulled).toBe(3);
  });

  // Found by the fuzz test: "\ud800" in a DICOM JSON value reached Postgres, whose json type refused it (0x0110).
  it('refuses a document with an unpaired surrogate or NUL escape (not I-JSON) with the caller\'s error code', async () => {
    for (const doc of ['{"a":"\\ud800"}', '["x\\udc00"]', '{"a":"\\u0000"}', '{"\\ud83d":1}', '["\\ud83d\\u0041"]', '["\\ud83d", "\\ude00"]']) {
      const err = await lucidaRejection('INVALID_METADATA', readJsonPart(source([doc]), 100, 'the part', notJson));
      expect({ doc, message: err.message }).toEqual({ doc, message: expect.stringMatching(/^the part is not I-JSON \(RFC 7493\): it holds (an unpaired surrogate|a NUL character)/) });
    }
  });

  it('accepts surrogate pairs, escaped backslashes and other escapes', async () => {
    const doc = '{"emoji":"\\ud83d\\ude00 😀","path":"C:\\\\u0000\\\\ud800","n":"\\n\\t\\"\\u00e9"}';
    expect(unstorableEscape(doc)).toBeUndefined();
    expect((await readJsonPart(source([doc]), 200, 'the part', notJson)).value).toEqual({ emoji: '😀 😀', path: 'C:\\u0000\\ud800', n: '\n\t"é' });
  });

  it('reports bytes that are not JSON with the caller\'s error', async () => {
    const err = await lucidaRejection('INVALID_METADATA', readJsonPart(source(['{"a":']), 100, 'the part', notJson));
    expect(err.message).toBe('not JSON');
  });
});
