import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { sha256Hex } from './hash.js';

describe('sha256Hex', () => {
  const bytes = Buffer.from('lucida '.repeat(1000));
  const expected = createHash('sha256').update(bytes).digest('hex');

  it('hashes bytes in memory at once', () => {
    expect(sha256Hex(bytes)).toBe(expected);
    expect(sha256Hex(Buffer.alloc(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes a stream chunk by chunk to the same digest', async () => {
    const chunks = [bytes.subarray(0, 1), bytes.subarray(1, 4000), bytes.subarray(4000)];
    expect(await sha256Hex(Readable.from(chunks))).toBe(expected);
  });
});
