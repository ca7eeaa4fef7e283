import { LucidaError } from '../../core/errors.js';
import { expectLucidaRejection, lucidaRejection } from '../../../test/helpers/errors.js';
import { readJsonPart } from './json-part.js';

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

  it('reports bytes that are not JSON with the caller\'s error', async () => {
    const err = await lucidaRejection('INVALID_METADATA', readJsonPart(source(['{"a":']), 100, 'the part', notJson));
    expect(err.message).toBe('not JSON');
  });
});
