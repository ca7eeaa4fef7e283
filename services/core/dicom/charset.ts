/**
 * Specific Character Set (0008,0005) decoding (PS3.3 C.12.1.1.2, PS3.5 §6.1 and Annex H–K).
 * Applies to the VRs SH, LO, ST, LT, UC, UT and PN; all other string VRs are plain ASCII.
 * Decoding happens before the value is split on "\" (and PN on "=" and "^"), because in GBK/GB18030
 * the byte 0x5C can be the second byte of a character.
 */
import { TextDecoder } from 'node:util';

/** Decodes `bytes[start, end)` to a JS string. */
export type TextDecodeFn = (bytes: Buffer, start: number, end: number) => string;

/** VRs whose values use the Specific Character Set. */
export const CHARSET_VRS: ReadonlySet<string> = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);

/**
 * The character sets of PS3.5 Tables 6.1-1 and 6.1-2/6.1-3/6.1-4, the one source for both the
 * single-byte terms and the ISO 2022 escape sequences. `term` is the Defined Term without its
 * "ISO_IR " / "ISO 2022 " prefix; `escape` the bytes after ESC that designate the set; `g` the code
 * element it goes to; `decode` a WHATWG encoding label, or 'ascii', 'latin1' (decoded with Buffer:
 * WHATWG "latin1" is windows-1252, not ISO 8859-1), 'jisx0208' / 'jisx0212' (7-bit two-byte sets,
 * see decodeJis).
 */
const CHARACTER_SETS: readonly { term: string; escape: string; g: 0 | 1; decode: string }[] = [
  { term: 'IR 6', escape: '(B', g: 0, decode: 'ascii' },
  { term: 'IR 100', escape: '-A', g: 1, decode: 'latin1' },
  { term: 'IR 101', escape: '-B', g: 1, decode: 'iso-8859-2' },
  { term: 'IR 109', escape: '-C', g: 1, decode: 'iso-8859-3' },
  { term: 'IR 110', escape: '-D', g: 1, decode: 'iso-8859-4' },
  { term: 'IR 144', escape: '-L', g: 1, decode: 'iso-8859-5' },
  { term: 'IR 127', escape: '-G', g: 1, decode: 'iso-8859-6' },
  { term: 'IR 126', escape: '-F', g: 1, decode: 'iso-8859-7' },
  { term: 'IR 138', escape: '-H', g: 1, decode: 'iso-8859-8' },
  { term: 'IR 148', escape: '-M', g: 1, decode: 'iso-8859-9' },
  { term: 'IR 203', escape: '-b', g: 1, decode: 'iso-8859-15' },
  { term: 'IR 166', escape: '-T', g: 1, decode: 'windows-874' }, // TIS 620-2533; windows-874 is its superset
  { term: 'IR 13', escape: ')I', g: 1, decode: 'shift_jis' }, // JIS X 0201 katakana: Shift_JIS's single bytes A1–DF
  { term: 'IR 13', escape: '(J', g: 0, decode: 'ascii' }, // JIS X 0201 Romaji: ASCII except ¥ and ‾
  { term: 'IR 87', escape: '$B', g: 0, decode: 'jisx0208' },
  { term: 'IR 159', escape: '$(D', g: 0, decode: 'jisx0212' },
  { term: 'IR 149', escape: '$)C', g: 1, decode: 'euc-kr' },
  { term: 'IR 58', escape: '$)A', g: 1, decode: 'gbk' },
];

/** Single-byte terms (also usable without code extensions) → how their G1 half is decoded. */
const SINGLE_BYTE: ReadonlyMap<string, string> = new Map(
  CHARACTER_SETS.filter((c) => c.g === 1 && !c.escape.startsWith('$')).map((c) => [c.term, c.decode]),
);

/** Escape sequence (after ESC) → the set it designates. */
const DESIGNATIONS: ReadonlyMap<string, { g: 0 | 1; set: string; length: number }> = new Map(
  CHARACTER_SETS.map((c) => [c.escape, { g: c.g, set: c.decode, length: c.escape.length }]),
);

const decoders = new Map<string, TextDecoder>();
function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (!d) {
    d = new TextDecoder(label);
    decoders.set(label, d);
  }
  return d;
}

function isAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] > 0x7f) return false;
  return true;
}

/** ASCII without ESC: nothing for ISO 2022 to switch. */
function isPlainAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] > 0x7f || bytes[i] === 0x1b) return false;
  return true;
}

const latin1: TextDecodeFn = (b, s, e) => b.toString('latin1', s, e);
const utf8: TextDecodeFn = (b, s, e) => b.toString('utf8', s, e);

function labelDecoder(label: string): TextDecodeFn {
  if (label === 'latin1') return latin1;
  const d = decoder(label);
  return (b, s, e) => (isAscii(b, s, e) ? b.toString('latin1', s, e) : d.decode(b.subarray(s, e)));
}

/**
 * Default repertoire (no Specific Character Set): ASCII. Non-ASCII bytes are a conformance error seen in
 * the wild with both UTF-8 and Latin-1 writers: try strict UTF-8, else fall back to Latin-1.
 */
function defaultDecoder(onNonAscii?: () => void): TextDecodeFn {
  const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
  return (b, s, e) => {
    if (isAscii(b, s, e)) return b.toString('latin1', s, e);
    onNonAscii?.();
    try {
      return strictUtf8.decode(b.subarray(s, e));
    } catch {
      return b.toString('latin1', s, e);
    }
  };
}

/** Normalises "ISO_IR 100" / "ISO 2022 IR 100" to "IR 100". */
function termKey(term: string): string {
  return term.trim().replace(/^ISO_IR /, 'IR ').replace(/^ISO 2022 IR /, 'IR ');
}

/**
 * A decoder for the given Specific Character Set values. `warn` is called once per unknown term and
 * when text outside the default repertoire appears without a declared character set.
 */
export function charsetDecoder(terms: readonly string[], warn?: (message: string) => void): TextDecodeFn {
  const cleaned = terms.map((t) => t.trim());
  const uses2022 = cleaned.some((t) => t.startsWith('ISO 2022'));
  if (!uses2022) {
    const term = cleaned.find((t) => t !== '') ?? '';
    if (term === '' || term === 'ISO_IR 6') {
      let warned = false;
      return defaultDecoder(() => {
        if (!warned) warn?.('non-ASCII text without Specific Character Set (0008,0005); decoded as UTF-8 or Latin-1');
        warned = true;
      });
    }
    if (term === 'ISO_IR 192') return utf8;
    if (term === 'GB18030') return labelDecoder('gb18030');
    if (term === 'GBK') return labelDecoder('gbk');
    const label = SINGLE_BYTE.get(termKey(term));
    if (label) return labelDecoder(label);
    warn?.(`unsupported Specific Character Set "${term}"; text decoded as Latin-1`);
    return latin1;
  }
  return iso2022Decoder(cleaned, warn);
}

/**
 * ISO 2022 code extension (PS3.5 §6.1.2.5): escape sequences switch the G0/G1 sets within a value.
 * The value is cut at each escape sequence and every run decoded with the set in force; the first
 * term is the initial set, and sets revert to it at each delimiter, which the writer makes explicit.
 */
function iso2022Decoder(terms: readonly string[], warn?: (message: string) => void): TextDecodeFn {
  const initial = terms[0] === '' ? 'IR 6' : termKey(terms[0]);
  const initialG1 = SINGLE_BYTE.get(initial) ?? (initial === 'IR 6' ? 'latin1' : undefined);
  if (!initialG1 && initial !== 'IR 6') warn?.(`unsupported initial character set "${terms[0]}"; decoded as Latin-1`);
  return (b, s, e) => {
    if (isPlainAscii(b, s, e)) return b.toString('latin1', s, e);
    let out = '';
    let g0 = 'ascii';
    let g1 = initialG1 ?? 'latin1';
    let i = s;
    while (i < e) {
      if (b[i] === 0x1b) {
        const next = DESIGNATIONS.get(b.toString('latin1', i + 1, Math.min(i + 4, e)))
          ?? DESIGNATIONS.get(b.toString('latin1', i + 1, Math.min(i + 3, e)));
        if (next) {
          if (next.g === 0) g0 = next.set;
          else g1 = next.set;
          i += 1 + next.length;
          continue;
        }
        i += 1; // unknown escape: drop ESC and carry on
        continue;
      }
      let j = i;
      while (j < e && b[j] !== 0x1b) j++;
      out += decodeRun(b, i, j, g0, g1);
      i = j;
    }
    return out;
  };
}

function decodeRun(b: Buffer, s: number, e: number, g0: string, g1: string): string {
  if (g0 === 'jisx0208' || g0 === 'jisx0212') return decodeJis(b, s, e, g0 === 'jisx0212');
  if (isAscii(b, s, e)) return b.toString('latin1', s, e);
  if (g1 === 'latin1') return b.toString('latin1', s, e);
  return decoder(g1).decode(b.subarray(s, e));
}

/**
 * A run of 7-bit two-byte JIS X 0208 or JIS X 0212 codes (ESC $ B, ESC $ ( D), decoded as EUC-JP:
 * the same code points with the high bit set, JIS X 0212 ones behind SS3 (0x8F). (WHATWG's
 * iso-2022-jp decoder knows JIS X 0208 only.) Bytes outside 21–7E pass through as they are.
 */
function decodeJis(b: Buffer, s: number, e: number, jisx0212: boolean): string {
  const euc: number[] = [];
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c >= 0x21 && c <= 0x7e && i + 1 < e) {
      if (jisx0212) euc.push(0x8f);
      euc.push(c | 0x80, b[++i] | 0x80);
    } else {
      euc.push(c);
    }
  }
  return decoder('euc-jp').decode(Uint8Array.from(euc));
}
