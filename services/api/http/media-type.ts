/**
 * Media types (RFC 9110 §8.3.1) and Accept negotiation (RFC 9110 §12.5.1), as DICOMweb uses
 * them (PS3.18 §8.7): `multipart/related; type="application/dicom"; transfer-syntax=...` needs
 * quoted parameter values, and a comma inside a quoted value must not split an Accept list.
 */
import { LucidaError } from '../../core/errors.js';

/** A parsed media type. `type`, `subtype`, `essence` and parameter names are lower-case. */
export interface MediaType {
  type: string;
  subtype: string;
  /** `type/subtype`, lower-case: compare this, never the raw header. */
  essence: string;
  /** Parameter names lower-case; values unquoted and unescaped, case preserved (a boundary is case-sensitive). */
  params: Record<string, string>;
}

/** One element of an Accept header: a media range (wildcards allowed) and its weight. */
export interface MediaRange extends MediaType {
  /** Quality weight 0..1 (RFC 9110 §12.4.2); 1 when absent. */
  q: number;
}

// RFC 9110 §5.6.2 tchar.
const isTchar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
  (c > 0x20 && c < 0x7f && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/** Whether `s` is an RFC 9110 §5.6.2 token (1*tchar): media type parts, parameter and header field names. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

// RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/** Whether `s` is a valid multipart boundary (RFC 2046 §5.1.1): 1 to 70 bchars, not ending in a space. */
export function isValidBoundary(s: string): boolean {
  return BOUNDARY.test(s);
}
const isOws = (c: number): boolean => c === 0x20 || c === 0x09;
// qdtext and the octets a quoted-pair may escape (RFC 9110 §5.6.4): HTAB, SP, VCHAR, obs-text.
const isQdtext = (c: number): boolean => c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
const isQuotable = (c: number): boolean => c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
// Unquoted parameter values: a token, leniently widened to any VCHAR but the list and parameter
// separators, the quote and the backslash. PS3.18 itself writes `type=application/octet-stream`
// unquoted (and viewers send it so), and unquoted boundaries with "=" or ":" are common.
const isBareValueChar = (c: number): boolean => c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x3b && c !== 0x2c && c !== 0x5c;

/** A header value that does not follow its grammar; callers map it to their own error code. */
export class HeaderSyntaxError extends Error {}

/** Scans RFC 9110 header grammar in `s` from offset `i`; each method advances `i` or throws HeaderSyntaxError. */
class HeaderScanner {
  constructor(readonly s: string, public i = 0) {}

  skipOws(): void {
    while (this.i < this.s.length && isOws(this.s.charCodeAt(this.i))) this.i++;
  }

  token(what: string): string {
    const start = this.i;
    while (this.i < this.s.length && isTchar(this.s.charCodeAt(this.i))) this.i++;
    if (this.i === start) throw new HeaderSyntaxError(`expected ${what} at offset ${start}`);
    return this.s.slice(start, this.i);
  }

  /**
   * The rest of `s` as `*(OWS ";" OWS [name "=" value])` (RFC 9110 §5.6.6): names lower-case,
   * values unquoted. An empty parameter is allowed by the grammar; a repeated name is not.
   */
  parameters(): Record<string, string> {
    const { s } = this;
    const n = s.length;
    const params: Record<string, string> = {};
    for (;;) {
      this.skipOws();
      if (this.i >= n) break;
      if (s[this.i] !== ';') throw new HeaderSyntaxError(`expected ";" at offset ${this.i}`);
      this.i++;
      this.skipOws();
      if (this.i >= n || s[this.i] === ';') continue;
      const name = this.token('a parameter name').toLowerCase();
      this.skipOws();
      if (s[this.i] !== '=') throw new HeaderSyntaxError(`expected "=" after parameter "${name}"`);
      this.i++;
      this.skipOws();
      const value = s[this.i] === '"' ? this.quotedString(name) : this.bareValue(name);
      if (Object.hasOwn(params, name)) throw new HeaderSyntaxError(`parameter "${name}" appears twice`);
      params[name] = value;
    }
    return params;
  }

  private quotedString(name: string): string {
    const { s } = this;
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= s.length) throw new HeaderSyntaxError(`unterminated quoted value for "${name}"`);
      const c = s.charCodeAt(this.i);
      if (c === 0x22) { this.i++; return out; }
      if (c === 0x5c) {
        if (this.i + 1 >= s.length || !isQuotable(s.charCodeAt(this.i + 1))) throw new HeaderSyntaxError(`bad escape in value of "${name}"`);
        out += s[this.i + 1];
        this.i += 2;
        continue;
      }
      if (!isQdtext(c)) throw new HeaderSyntaxError(`invalid character in value of "${name}"`);
      out += s[this.i];
      this.i++;
    }
  }

  private bareValue(name: string): string {
    const start = this.i;
    while (this.i < this.s.length && isBareValueChar(this.s.charCodeAt(this.i))) this.i++;
    if (this.i === start) throw new HeaderSyntaxError(`expected a value for "${name}" at offset ${start}`);
    return this.s.slice(start, this.i);
  }
}

/**
 * Parses one media type (`type/subtype *(OWS ";" OWS [name=value])`) spanning all of `s`.
 * `wildcards` admits `*` ranges for Accept; a `*` type with a concrete subtype is never valid.
 */
function parse(s: string, wildcards: boolean): MediaType {
  const scan = new HeaderScanner(s);
  scan.skipOws();
  const type = scan.token('a type').toLowerCase();
  if (s[scan.i] !== '/') throw new HeaderSyntaxError(`expected "/" at offset ${scan.i}`);
  scan.i++;
  const subtype = scan.token('a subtype').toLowerCase();
  if (type === '*' || subtype === '*') {
    if (!wildcards) throw new HeaderSyntaxError('wildcards are only meaningful in Accept');
    if (type === '*' && subtype !== '*') throw new HeaderSyntaxError(`"*/${subtype}" is not a media range`);
  }
  return { type, subtype, essence: `${type}/${subtype}`, params: scan.parameters() };
}

/**
 * Parses a header value of the shape `token *(OWS ";" OWS [name "=" value])` (RFC 9110 §5.6.6),
 * e.g. Content-Disposition (RFC 6266 §4.1), with the same rules as {@link parseMediaType}:
 * names lower-case, values unquoted and unescaped with their case kept, a repeated name refused.
 * @throws HeaderSyntaxError when `header` does not follow that grammar.
 */
export function parseTokenAndParameters(header: string): { token: string; params: Record<string, string> } {
  const scan = new HeaderScanner(header);
  scan.skipOws();
  const token = scan.token('a token').toLowerCase();
  return { token, params: scan.parameters() };
}

const excerpt = (s: string) => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}...` : s);

/**
 * Parses a Content-Type style media type (RFC 9110 §8.3.1). Type, subtype and parameter names are
 * case-insensitive and returned lower-case; values are unquoted (`\"` unescaped) and keep their case.
 * A parameter given twice is rejected rather than guessed at (a second `boundary` is ambiguous).
 * Unquoted values may contain "/" and other visible characters except `"` `;` `,` `\`: PS3.18
 * writes `type=application/dicom` unquoted, and clients follow it.
 * @throws LucidaError UNSUPPORTED_MEDIA_TYPE for anything that is not a single concrete media type.
 */
export function parseMediaType(header: string): MediaType {
  try {
    return parse(header, false);
  } catch (err) {
    if (!(err instanceof HeaderSyntaxError)) throw err;
    throw new LucidaError('UNSUPPORTED_MEDIA_TYPE', `invalid media type ${excerpt(header)}: ${err.message}`);
  }
}

/** Splits a header list on commas that are outside quoted strings (RFC 9110 §5.6.1). */
function splitList(header: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      out.push(header.slice(start, i));
      start = i + 1;
    }
  }
  out.push(header.slice(start));
  return out.map((e) => e.trim()).filter((e) => e.length > 0);
}

// RFC 9110 qvalue is 0..1 with up to 3 decimals; ".5" (sent by e.g. Java's URLConnection) is tolerated.
const QVALUE = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/**
 * Parses an Accept header (RFC 9110 §12.5.1) into media ranges, highest `q` first; ranges of equal
 * weight keep the client's order (the sort is stable). Ranking by specificity is left to the
 * caller's matcher. `q` is taken out of `params`; every other parameter (DICOMweb `type`,
 * `transfer-syntax`, PS3.18 §8.7.3.5) stays, whether it came before or after `q`.
 *
 * Lenient where clients are known to be sloppy: an element that does not parse (or has a `q`
 * outside 0..1) is skipped, not fatal, and a bare `*` means `*∕*` (Java's default Accept sends
 * `*; q=.2`). Ranges with q=0 ("not acceptable") are dropped. No header, or one with no
 * elements, means anything (`*∕*`); a header whose every element was dropped yields `[]`,
 * i.e. nothing is acceptable and the caller answers 406.
 */
export function parseAccept(header: string | undefined): MediaRange[] {
  const elements = header === undefined ? [] : splitList(header);
  if (elements.length === 0) return [{ type: '*', subtype: '*', essence: '*/*', params: {}, q: 1 }];
  const ranges: MediaRange[] = [];
  for (const element of elements) {
    let mt: MediaType;
    try {
      mt = parse(/^\*\s*(;|$)/.test(element) ? `*/${element}` : element, true);
    } catch (err) {
      if (err instanceof HeaderSyntaxError) continue;
      throw err;
    }
    let q = 1;
    if (Object.hasOwn(mt.params, 'q')) {
      const raw = mt.params.q;
      delete mt.params.q;
      if (!QVALUE.test(raw)) continue;
      q = Number(raw);
      if (!(q >= 0 && q <= 1)) continue;
    }
    if (q === 0) continue;
    ranges.push({ ...mt, q });
  }
  return ranges.sort((a, b) => b.q - a.q);
}

/**
 * Whether a media range (from {@link parseAccept}) admits a concrete media type: `*∕*` admits
 * everything, `image/*` every image type, otherwise the essences must be equal. `essence` is
 * compared case-insensitively; any parameters on it are ignored (they are the caller's business,
 * e.g. the DICOMweb `transfer-syntax`).
 */
export function mediaRangeMatches(range: Pick<MediaType, 'type' | 'subtype'>, essence: string): boolean {
  const semi = essence.indexOf(';');
  const e = (semi >= 0 ? essence.slice(0, semi) : essence).trim().toLowerCase();
  const slash = e.indexOf('/');
  if (slash <= 0 || slash === e.length - 1) return false;
  const type = range.type.toLowerCase();
  const subtype = range.subtype.toLowerCase();
  if (type === '*') return subtype === '*';
  if (type !== e.slice(0, slash)) return false;
  return subtype === '*' || subtype === e.slice(slash + 1);
}

/**
 * Formats a media type with parameters, quoting a value only when it is not a token
 * (RFC 9110 §5.6.6), e.g. `multipart/related; type="application/dicom"; boundary=abc`.
 */
export function formatMediaType(essence: string, params: Record<string, string> = {}): string {
  let out = essence;
  for (const [name, value] of Object.entries(params)) {
    if (!isToken(name)) throw new TypeError(`invalid media type parameter name ${JSON.stringify(name)}`);
    if (!isToken(value)) {
      for (let i = 0; i < value.length; i++) {
        if (!isQuotable(value.charCodeAt(i))) throw new TypeError(`parameter ${name} has a value that cannot be quoted`);
      }
    }
    out += `; ${name}=${isToken(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`}`;
  }
  return out;
}
