/**
 * Content-Disposition of multipart/form-data parts (RFC 7578 §4.2; RFC 6266 §4.1 grammar, the
 * parameter rules of RFC 9110 §5.6.6 as media types follow them): the form field `name` and the
 * `filename` of file parts. `filename*` (RFC 5987 ext-value, UTF-8) wins over `filename`.
 */
import { LucidaError } from '../../core/errors.js';
import { HeaderSyntaxError, parseTokenAndParameters } from './media-type.js';

export interface FormDisposition { name: string; filename?: string }

/** @throws LucidaError MALFORMED_MULTIPART for a missing or malformed header, or one that is not form-data with a name. */
export function parseFormDisposition(header: string | undefined): FormDisposition {
  const bad = (why: string) => new LucidaError('MALFORMED_MULTIPART', `form-data part: ${why}`);
  if (!header) throw bad('no Content-Disposition header');
  let parsed: ReturnType<typeof parseTokenAndParameters>;
  try {
    parsed = parseTokenAndParameters(header);
  } catch (err) {
    if (err instanceof HeaderSyntaxError) throw bad(`malformed Content-Disposition: ${err.message}`);
    throw err;
  }
  const { token, params } = parsed;
  if (token !== 'form-data') throw bad('Content-Disposition is not form-data');
  if (!params.name) throw bad('Content-Disposition without a name');
  let filename = params.filename;
  const ext = params['filename*']?.match(/^utf-8'[^']*'(.*)$/i);
  if (ext) {
    try { filename = decodeURIComponent(ext[1]); } catch { throw bad('filename* is not valid percent-encoded UTF-8'); }
  }
  // Only the last path segment: some clients send the whole local path.
  if (filename !== undefined) filename = filename.split(/[\\/]/).pop()!;
  return { name: params.name, filename };
}
