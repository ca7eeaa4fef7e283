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

/** Defined Term (without the "ISO 2022 " / "ISO_IR " prefix forms) → WHATWG encoding label. */
const SINGLE_BYTE: Record<string, string> = {
  'IR 100': 'latin1', // decoded with Buffer: WHATWG "latin1" is windows-1252, not ISO 8859-1
  'IR 101': 'iso-8859-2',
  'IR 109': 'iso-8859-3',
  'IR 110': 'iso-8859-4',
  'IR 144': 'iso-8859-5',
  'IR 127': 'iso-8859-6',
  'IR 126': 'iso-8859-7',
  'IR 138': 'iso-8859-8',
  'IR 148': 'iso-8859-9',
  'IR 203': 'iso-8859-15',
  'IR 166': 'windows-874', // TIS 620-2533; windows-874 is its superset
  'IR 13': 'shift_jis', // JIS X 0201: the single-byte half of Shift_JIS (katakana at A1–DF)
};

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
    const label = SINGLE_BYTE[termKey(term)];
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
  const initialG1 = SINGLE_BYTE[initial] ?? (initial === 'IR 6' ? 'latin1' : undefined);
  if (!initialG1 && initial !== 'IR 6') warn?.(`unsupported initial character set "${terms[0]}"; decoded as Latin-1`);
  return (b, s, e) => {
    if (isAscii(b, s, e) && b.indexOf(0x1b, s) === -1) return b.toString('latin1', s, e);
    let out = '';
    let g0 = 'ascii';
    let g1 = initialG1 ?? 'latin1';
    let i = s;
    while (i < e) {
      if (b[i] === 0x1b) {
        const esc = b.toString('latin1', i + 1, Math.min(i + 4, e));
        const next = designation(esc);
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

/** Escape sequences of PS3.5 Tables 6.1-2/6.1-3/6.1-4 that designate G0 or G1. */
function designation(esc: string): { g: 0 | 1; set: string; length: number } | undefined {
  const three: Record<string, { g: 0 | 1; set: string }> = {
    '$(D': { g: 0, set: 'jisx0212' },
    '$)C': { g: 1, set: 'euc-kr' },
    '$)A': { g: 1, set: 'gbk' },
  };
  if (three[esc]) return { ...three[esc], length: 3 };
  const two: Record<string, { g: 0 | 1; set: string }> = {
    '(B': { g: 0, set: 'ascii' },
    '(J': { g: 0, set: 'ascii' }, // JIS X 0201 Romaji: ASCII except ¥ and ‾
    '$B': { g: 0, set: 'jisx0208' },
    ')I': { g: 1, set: 'shift_jis' },
    '-A': { g: 1, set: 'latin1' },
    '-B': { g: 1, set: 'iso-8859-2' },
    '-C': { g: 1, set: 'iso-8859-3' },
    '-D': { g: 1, set: 'iso-8859-4' },
    '-L': { g: 1, set: 'iso-8859-5' },
    '-G': { g: 1, set: 'iso-8859-6' },
    '-F': { g: 1, set: 'iso-8859-7' },
    '-H': { g: 1, set: 'iso-8859-8' },
    '-M': { g: 1, set: 'iso-8859-9' },
    '-T': { g: 1, set: 'windows-874' },
    '-b': { g: 1, set: 'iso-8859-15' },
  };
  const k = esc.slice(0, 2);
  return two[k] ? { ...two[k], length: 2 } : undefined;
}

function decodeRun(b: Buffer, s: number, e: number, g0: string, g1: string): string {
  if (g0 === 'jisx0208' || g0 === 'jisx0212') {
    // Two 7-bit bytes per character; reuse the ISO-2022-JP decoder by re-adding the escape.
    const esc = g0 === 'jisx0208' ? Buffer.from([0x1b, 0x24, 0x42]) : Buffer.from([0x1b, 0x24, 0x28, 0x44]);
    return decoder('iso-2022-jp').decode(Buffer.concat([esc, b.subarray(s, e)]));
  }
  if (isAscii(b, s, e)) return b.toString('latin1', s, e);
  if (g1 === 'latin1') return b.toString('latin1', s, e);
  return decoder(g1).decode(b.subarray(s, e));
}
