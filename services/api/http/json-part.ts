import { LucidaError } from '../../core/errors.js';
import { readAll } from '../../core/storage/object-store.js';

/**
 * Reads a JSON part of a multipart body (capture metadata, STOW-RS DICOM JSON), refused with
 * PAYLOAD_TOO_LARGE as soon as it passes `maxBytes`, before the rest of it is read.
 * @param what names the part in errors, e.g. `the "metadata" part`
 * @param notJson the error for bytes that are not JSON: each API reports it under its own code
 * @returns the parsed value, and the bytes it came from (a request fingerprint hashes them)
 */
export async function readJsonPart(body: AsyncIterable<Buffer | Uint8Array>, maxBytes: number, what: string,
  notJson: () => LucidaError): Promise<{ value: unknown; bytes: Buffer }> {
  const bytes = await readAll(body, maxBytes, what);
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as unknown, bytes };
  } catch {
    throw notJson();
  }
}
