/**
 * Mutated multipart bodies (RFC 2046 §5.1.1) for STOW-RS (multipart/related) and the capture API
 * (multipart/form-data). A body is kept as a structure (preamble, parts with header lines, closing
 * delimiter, epilogue, line ending) so mutations can break one thing at a time: the boundary in the
 * Content-Type (missing, wrong, too long, bad characters), delimiters (missing, duplicated, not
 * followed by CRLF, final one truncated), header lines (garbled, bare CR/LF/NUL, continuation first,
 * huge, thousands of them, duplicated Content-Type, none at all), bodies carrying the boundary, LF-only
 * line endings, transport padding, preamble and epilogue, thousands of empty parts; then sometimes
 * byte-level damage (truncation, bit flips) on the serialised body.
 */
import { nastyString, type Rng } from './random.js';

export interface PartSpec { headers: [string, string][]; body: Buffer }

interface Layout {
  preamble: string;
  parts: { lines: string[]; body: Buffer; afterDelimiter: string; unterminatedHeaders?: boolean }[];
  /** What follows the last part's delimiter: '--' closes the body. */
  closing: string | undefined;
  /** Whether the closing delimiter is written at all. */
  closed: boolean;
  epilogue: string;
  eol: string;
  /** No delimiter before the first part. */
  noFirstDelimiter: boolean;
}

export interface MultipartCase {
  body: Buffer;
  /** undefined: no Content-Type header at all. */
  contentType: string | undefined;
  description: string;
  /** Left well-formed. */
  clean: boolean;
  /** A part is over the server's size limits: it may answer early and close while the body is still being sent. */
  oversized: boolean;
}

export interface MultipartOptions {
  essence: 'multipart/related' | 'multipart/form-data';
  /** The multipart/related type parameter. */
  type?: string;
  /** Probability of sending the body unmutated. */
  cleanRate?: number;
}

/** A random valid boundary (RFC 2046 bchars), sometimes with the characters that need quoting. */
function makeBoundary(rng: Rng): string {
  const plain = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const special = "'()+_,-./:=?";
  let b = rng.string(rng.int(1, 40), rng.chance(0.3) ? plain + special : plain);
  if (rng.chance(0.1)) b = `${b} x`; // a space inside (quoted)
  return b;
}

export function multipartCase(rng: Rng, parts: PartSpec[], opts: MultipartOptions): MultipartCase {
  const boundary = makeBoundary(rng);
  const layout: Layout = {
    preamble: '', closing: '--', closed: true, epilogue: '', eol: '\r\n', noFirstDelimiter: false,
    parts: parts.map((p) => ({ lines: p.headers.map(([k, v]) => `${k}: ${v}`), body: p.body, afterDelimiter: '' })),
  };
  const what: string[] = [];
  let contentType: string | undefined = contentTypeFor(opts, boundary);
  const clean = rng.chance(opts.cleanRate ?? 0.15);
  if (!clean) {
    for (let n = rng.small(3); n > 0; n--) {
      const kind = rng.weighted<string>([
        [3, 'content-type'], [2, 'closing'], [2, 'duplicate-delimiter'], [2, 'after-delimiter'], [2, 'header-garble'],
        [1, 'huge-header'], [1, 'many-headers'], [2, 'no-content-type'], [1, 'duplicate-content-type'], [1, 'bad-content-type'],
        [2, 'boundary-in-body'], [1, 'lf-only'], [1, 'preamble'], [1, 'epilogue'], [1, 'no-first-delimiter'],
        [1, 'many-parts'], [1, 'unterminated-headers'], [1, 'no-headers'], [1, 'folded-header'], [0.1, 'oversized-part'],
      ]);
      const r = mutateLayout(rng, kind, layout, boundary, opts);
      if (r?.contentType !== undefined) contentType = r.contentType === '' ? undefined : r.contentType;
      what.push(r?.what ?? kind);
    }
  }
  let body = serialize(layout, boundary);
  if (!clean && rng.chance(0.15)) {
    if (rng.chance(0.5)) {
      const cut = rng.int(0, body.length);
      body = body.subarray(0, cut);
      what.push(`truncate body to ${cut}`);
    } else {
      body = Buffer.from(body);
      const n = rng.int(1, 16);
      for (let i = 0; i < n; i++) body[rng.int(0, body.length - 1)] ^= 1 << rng.int(0, 7);
      what.push(`flip ${n} bits in body`);
    }
  }
  return { body, contentType, description: clean ? 'clean' : what.join(', '), clean, oversized: what.some((w) => w.startsWith('oversized')) };
}

function contentTypeFor(opts: MultipartOptions, boundary: string, quoted = /[^A-Za-z0-9'+_\-.]/.test(boundary)): string {
  const b = quoted ? `"${boundary}"` : boundary;
  return opts.essence === 'multipart/related'
    ? `multipart/related; type="${opts.type ?? 'application/dicom'}"; boundary=${b}`
    : `multipart/form-data; boundary=${b}`;
}

function mutateLayout(rng: Rng, kind: string, l: Layout, boundary: string, opts: MultipartOptions): { what: string; contentType?: string } | undefined {
  const part = () => (l.parts.length ? rng.pick(l.parts) : undefined);
  switch (kind) {
    case 'content-type': {
      const options: [string, string][] = [
        ['no Content-Type header', ''],
        ['no boundary', opts.essence === 'multipart/related' ? `multipart/related; type="${opts.type ?? 'application/dicom'}"` : 'multipart/form-data'],
        ['wrong boundary', contentTypeFor(opts, `${boundary}x`)],
        ['boundary prefix', contentTypeFor(opts, boundary.slice(0, Math.max(1, boundary.length - 1)))],
        ['boundary too long', contentTypeFor(opts, 'b'.repeat(rng.int(71, 2000)))],
        ['empty boundary', `${opts.essence}; boundary=""`],
        ['boundary with bad characters', contentTypeFor(opts, `${boundary}\u00e9<>@`, true)],
        ['boundary ending in space', contentTypeFor(opts, `${boundary} `, true)],
        ['two boundary parameters', `${contentTypeFor(opts, boundary)}; boundary=other`],
        ['unquoted boundary needing quotes', `${opts.essence}; boundary=${boundary}; type=application/dicom`],
        ['upper-case media type', contentTypeFor(opts, boundary).replace(opts.essence, opts.essence.toUpperCase())],
        ['other multipart', contentTypeFor(opts, boundary).replace(opts.essence, rng.pick(['multipart/mixed', 'multipart/alternative', 'multipart/x']))],
        ['other type parameter', `multipart/related; type="${rng.pick(['application/dicom+xml', 'application/octet-stream', 'image/jpeg', '', 'application/dicom+json'])}"; boundary="${boundary}"`],
        ['no type parameter', `multipart/related; boundary="${boundary}"`],
        ['garbage parameters', `${contentTypeFor(opts, boundary)}; ${rng.pick(['=', ';;;', 'x', 'a="unterminated', 'charset=utf-8; charset=latin1', nastyString(rng).replace(/[\r\n\0]/g, '')])}`],
        ['not multipart', rng.pick(['application/dicom', 'application/json', 'text/plain', 'x', '/', ''])],
        ['huge Content-Type', `${contentTypeFor(opts, boundary)}; x=${'y'.repeat(rng.int(1000, 12_000))}`],
      ];
      const [what, ct] = rng.pick(options);
      return { what: `content-type: ${what}`, contentType: ct };
    }
    case 'closing': {
      const c = rng.pick(['none', 'no dashes', 'one dash', 'truncated', 'garbage'] as const);
      if (c === 'none') l.closed = false;
      else if (c === 'no dashes') l.closing = '';
      else if (c === 'one dash') l.closing = '-';
      else if (c === 'garbage') l.closing = 'xx';
      else { l.closed = false; l.epilogue = `${l.eol}--${boundary.slice(0, rng.int(0, boundary.length))}`; }
      return { what: `closing delimiter: ${c}` };
    }
    case 'duplicate-delimiter': {
      const i = rng.int(0, l.parts.length);
      l.parts.splice(i, 0, { lines: [], body: Buffer.alloc(0), afterDelimiter: '' });
      return { what: `empty part at ${i}` };
    }
    case 'after-delimiter': {
      const p = part();
      if (p) p.afterDelimiter = rng.pick([' ', '\t\t', 'X', ' '.repeat(rng.int(100, 20_000)), '--', '-', '\0']);
      return { what: 'text after a delimiter' };
    }
    case 'header-garble': {
      const p = part();
      if (p) {
        const bad = rng.pick(['no colon here', ': empty name', 'Bad Name: x', 'X-A\0: b', 'X-A: b\rc', 'X-A: b\nc', '\u00e9: latin', `${nastyString(rng).slice(0, 100)}`]);
        p.lines.splice(rng.int(0, p.lines.length), 0, bad);
      }
      return { what: 'garbled header line' };
    }
    case 'huge-header': {
      const p = part();
      if (p) p.lines.push(`X-Huge: ${'h'.repeat(rng.int(8_000, 200_000))}`);
      return { what: 'huge header line' };
    }
    case 'many-headers': {
      const p = part();
      if (p) for (let i = rng.int(100, 3000); i > 0; i--) p.lines.push(`X-${i}: ${i}`);
      return { what: 'many header lines' };
    }
    case 'no-content-type': {
      const p = part();
      if (p) p.lines = p.lines.filter((h) => !/^content-type:/i.test(h));
      return { what: 'part without Content-Type' };
    }
    case 'duplicate-content-type': {
      const p = part();
      if (p) p.lines.push(`Content-Type: ${rng.pick(['application/dicom', 'image/jpeg', 'application/json'])}`);
      return { what: 'two Content-Type headers' };
    }
    case 'bad-content-type': {
      const p = part();
      if (p) {
        p.lines = p.lines.filter((h) => !/^content-type:/i.test(h));
        p.lines.push(`Content-Type: ${rng.pick(['', ';', 'application/', '/dicom', 'application/dicom; =', 'application/dicom;;', 'a/b; c="', 'application/dicom; transfer-syntax=*', 'APPLICATION/DICOM', nastyString(rng).replace(/[\r\n]/g, '').slice(0, 200)])}`);
      }
      return { what: 'malformed part Content-Type' };
    }
    case 'boundary-in-body': {
      const p = part();
      if (p) {
        const delimiter = rng.pick([`\r\n--${boundary}`, `--${boundary}`, `\r\n--${boundary}--`, `\n--${boundary}\n`, `\r\n--${boundary}\r\nX: y\r\n\r\n`]);
        const at = rng.int(0, p.body.length);
        p.body = Buffer.concat([p.body.subarray(0, at), Buffer.from(delimiter, 'latin1'), p.body.subarray(at)]);
      }
      return { what: 'boundary inside a part body' };
    }
    case 'lf-only':
      l.eol = '\n';
      return { what: 'LF line endings' };
    case 'preamble':
      l.preamble = rng.pick(['This is a preamble.\r\n', `--${boundary}x\r\n`, `-- ${boundary}\r\n`, 'p'.repeat(rng.int(1000, 100_000))]);
      return { what: 'preamble' };
    case 'epilogue':
      l.epilogue = rng.pick(['\r\nepilogue', `\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\nmore`, 'e'.repeat(rng.int(1000, 100_000))]);
      return { what: 'epilogue' };
    case 'no-first-delimiter':
      l.noFirstDelimiter = true;
      return { what: 'no first delimiter' };
    case 'many-parts': {
      const n = rng.int(100, 3000);
      for (let i = 0; i < n; i++) l.parts.push({ lines: rng.chance(0.5) ? [] : ['Content-Type: application/dicom'], body: Buffer.alloc(rng.int(0, 3)), afterDelimiter: '' });
      return { what: `${n} more small parts` };
    }
    case 'oversized-part': {
      // Over STOW_MAX_PART_MB / CAPTURE_MAX_FILE_MB as the fuzz server sets them (16 and 2 MB): refused mid-body.
      const p = part();
      if (p) p.body = Buffer.concat([p.body, Buffer.alloc(17 * 1024 * 1024, 0x41)]);
      return { what: 'oversized part (17 MB)' };
    }
    case 'unterminated-headers': {
      const p = part();
      if (p) p.unterminatedHeaders = true;
      return { what: 'header block not terminated' };
    }
    case 'no-headers': {
      const p = part();
      if (p) p.lines = [];
      return { what: 'part without headers' };
    }
    default: {
      const p = part();
      if (p) p.lines.splice(rng.int(0, p.lines.length), 0, rng.pick([' continued', '\tcontinued']));
      return { what: 'folded or leading continuation line' };
    }
  }
}

function serialize(l: Layout, boundary: string): Buffer {
  const chunks: Buffer[] = [Buffer.from(l.preamble, 'latin1')];
  const eol = l.eol;
  l.parts.forEach((p, i) => {
    const delimiter = i === 0 && l.noFirstDelimiter ? '' : `${i === 0 && l.preamble === '' ? '' : eol}--${boundary}${p.afterDelimiter}${eol}`;
    // Header values may hold non-Latin-1 characters on purpose: sent as UTF-8 bytes.
    const headers = p.lines.map((h) => `${h}${eol}`).join('');
    chunks.push(Buffer.from(delimiter, 'latin1'), Buffer.from(headers, 'utf8'), Buffer.from(p.unterminatedHeaders ? '' : eol, 'latin1'), p.body);
  });
  if (l.closed) chunks.push(Buffer.from(`${eol}--${boundary}${l.closing ?? ''}`, 'latin1'));
  chunks.push(Buffer.from(l.closed ? `${eol}${l.epilogue}` : l.epilogue, 'latin1'));
  return Buffer.concat(chunks);
}
