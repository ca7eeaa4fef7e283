/**
 * Content-Disposition of multipart/form-data parts (RFC 7578 §4.2, RFC 6266 grammar): the form field
 * `name` and the `filename` of file parts. `filename*` (RFC 5987 ext-value, UTF-8) wins over `filename`.
 */
import { LucidaError } from '../../core/errors.js';

export interface FormDisposition { name: string; filename?: string }

export function parseFormDisposition(header: string | undefined): FormDisposition {
  const bad = (why: string) => new LucidaError('MALFORMED_MULTIPART', `form-data part: ${why}`);
  if (!header) throw bad('no Content-Disposition header');
  const [type, ...rest] = splitParams(header);
  if (type.trim().toLowerCase() !== 'form-data') throw bad('Content-Disposition is not form-data');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    let value = p.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (key in params) throw bad(`parameter ${key} given twice`);
    params[key] = value;
  }
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

/** Splits on `;` outside quoted strings. */
function splitParams(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && quoted && i + 1 < s.length) { cur += c + s[++i]; continue; }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}
