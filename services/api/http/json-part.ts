import { LucidaError } from '../../core/errors.js';
import { readAll } from '../../core/storage/object-store.js';

/**
 * Reads a JSON part of a multipart body (capture metadata, STOW-RS DICOM JSON), refused with
 * PAYLOAD_TOO_LARGE as soon as it passes `maxBytes`, before the rest of it is read.
 *
 * The document must be I-JSON (RFC 7493 §2.1): a string holding an unpaired surrogate ("\ud800") or
 * NUL ("\u0000") is refused like text that is not JSON. Neither is any DICOM or capture value, and
 * Postgres json and jsonb cannot store either, so such a document would otherwise fail later with a
 * database error.
 * @param what names the part in errors, e.g. `the "metadata" part`
 * @param notJson the error for bytes that are not JSON: each API reports it under its own code
 * @returns the parsed value, and the bytes it came from (a request fingerprint hashes them)
 */
export async function readJsonPart(body: AsyncIterable<Buffer | Uint8Array>, maxBytes: number, what: string,
  notJson: () => LucidaError): Promise<{ value: unknown; bytes: Buffer }> {
  const bytes = await readAll(body, maxBytes, what);
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw notJson();
  }
  const problem = unstorableEscape(text);
  if (problem) {
    const err = notJson();
    throw new LucidaError(err.code, `${what} is not I-JSON (RFC 7493): it holds ${problem}`, err.extra);
  }
  return { value, bytes };
}

/**
 * The first \u escape of a (valid) JSON text that no store can keep: NUL, or a surrogate that is not
 * half of a pair written as two adjacent escapes. Raw (unescaped) NUL and surrogates cannot occur:
 * JSON forbids the one, UTF-8 decoding replaces the other.
 */
export function unstorableEscape(text: string): string | undefined {
  // Every escape in order; `\\` is consumed whole, so `\\u0000` (a backslash, then "u0000") is no escape.
  const escape = /\\(?:u([0-9a-fA-F]{4})|[^u])/g;
  let highEnd = -1; // where the last high surrogate escape ended, while its low half is awaited
  for (let m = escape.exec(text); m; m = escape.exec(text)) {
    const code = m[1] === undefined ? -1 : parseInt(m[1], 16);
    if (highEnd >= 0) {
      if (m.index !== highEnd || code < 0xdc00 || code > 0xdfff) return 'an unpaired surrogate';
      highEnd = -1;
    } else if (code === 0) {
      return 'a NUL character (\\u0000)';
    } else if (code >= 0xd800 && code <= 0xdbff) {
      highEnd = escape.lastIndex;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return 'an unpaired surrogate';
    }
  }
  return highEnd >= 0 ? 'an unpaired surrogate' : undefined;
}
