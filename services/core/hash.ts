/** SHA-256 as lower-case hex: the one digest the archive records (instances, uploads, request fingerprints). */
import { createHash } from 'node:crypto';

/**
 * SHA-256 of bytes in memory (returned at once) or of a stream, hashed chunk by chunk as it is read
 * so that nothing is held (e.g. a part of a request that is only compared, never stored).
 */
export function sha256Hex(data: Uint8Array): string;
export function sha256Hex(data: AsyncIterable<Uint8Array>): Promise<string>;
export function sha256Hex(data: Uint8Array | AsyncIterable<Uint8Array>): string | Promise<string> {
  if (ArrayBuffer.isView(data)) return createHash('sha256').update(data).digest('hex');
  return (async () => {
    const hash = createHash('sha256');
    for await (const chunk of data) hash.update(chunk);
    return hash.digest('hex');
  })();
}
