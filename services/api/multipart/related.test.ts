import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expectLucidaRejection, lucidaRejection, rejectionOf } from '../../../test/helpers/errors.js';
import { readAll } from '../../core/storage/object-store.js';
import { parseMediaType } from '../http/media-type.js';
import { boundaryFromContentType, partEssence, readMultipart, type MultipartLimits, type MultipartPart } from './related.js';

const B = 'lucida-test-boundary';
const LIMITS: MultipartLimits = { maxPartBytes: 1 << 20, maxParts: 100 };

interface PartSpec { headers?: string[]; body: Buffer | string }

/** Builds a multipart body the way a client would (RFC 2046 §5.1.1). */
function build(parts: PartSpec[], opts: { boundary?: string; preamble?: string; epilogue?: string; close?: boolean } = {}): Buffer {
  const b = opts.boundary ?? B;
  const out: Buffer[] = [];
  if (opts.preamble !== undefined) out.push(Buffer.from(`${opts.preamble}\r\n`, 'latin1'));
  parts.forEach((p, i) => {
    out.push(Buffer.from(`${i === 0 ? '' : '\r\n'}--${b}\r\n${(p.headers ?? []).map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1'));
    out.push(typeof p.body === 'string' ? Buffer.from(p.body, 'latin1') : p.body);
  });
  if (opts.close !== false) out.push(Buffer.from(`${parts.length ? '\r\n' : ''}--${b}--`, 'latin1'));
  if (opts.epilogue !== undefined) out.push(Buffer.from(opts.epilogue, 'latin1'));
  return Buffer.concat(out);
}

/** A source that yields `buf` cut at the given sizes (cycled), counting what was pulled. */
function chunked(buf: Buffer, sizes: number[] | number): AsyncIterable<Buffer> & { pulled: number } {
  const list = typeof sizes === 'number' ? [sizes] : sizes;
  const src = {
    pulled: 0,
    async *[Symbol.asyncIterator]() {
      let off = 0;
      let k = 0;
      while (off < buf.length) {
        const n = Math.max(1, list[k++ % list.length]);
        const piece = buf.subarray(off, off + n);
        off += piece.length;
        src.pulled += piece.length;
        yield piece;
      }
    },
  };
  return src;
}

/** A source cut at explicit offsets. */
function splitAt(buf: Buffer, cuts: number[]): AsyncIterable<Buffer> {
  return (async function* () {
    let prev = 0;
    for (const c of [...cuts, buf.length]) {
      if (c > prev) yield buf.subarray(prev, c);
      prev = Math.max(prev, c);
    }
  })();
}

interface Got { headers: Record<string, string>; body: Buffer; contentType?: string }

async function collect(src: AsyncIterable<Buffer>, limits: MultipartLimits = LIMITS, boundary = B): Promise<Got[]> {
  const got: Got[] = [];
  for await (const part of readMultipart(src, boundary, limits)) {
    const { body, ...rest } = part;
    got.push({ ...rest, body: await readAll(body) });
  }
  return got;
}

/**
 * Writes the first `len` bytes of the delimiter into random content at `at`, followed by a NUL
 * so that the random byte after it cannot complete the delimiter by chance.
 */
function plantPrefix(buf: Buffer, at: number, len: number): void {
  Buffer.from(`\r\n--${B}`).copy(buf, at, 0, len);
  if (at + len < buf.length) buf[at + len] = 0;
}

// Bodies full of things that look like delimiters but are not.
const TRICKY = [
  Buffer.from(`x--${B}`), // not at the start of a line (at the start of a body it would be a delimiter)
  Buffer.from(`\r\n--${B.slice(0, -1)}`), // one byte short
  Buffer.from(`\r\n--${B.slice(0, -1)}X\r\n`), // last byte differs
  Buffer.from('\r\r\n\r\n-\r\n--\r\n'),
  Buffer.from(`x--${B}--\r\n`),
  Buffer.from('\r'), // a part ending in CR, right before the delimiter's CRLF
];
const trickyBody = () => build([
  { headers: ['Content-Type: application/dicom', 'Content-Location: /a'], body: Buffer.concat([TRICKY[0], TRICKY[1], TRICKY[3]]) },
  { headers: ['content-id: <p2@x>'], body: TRICKY[2] },
  { body: '' },
  { headers: ['Content-Type: text/plain'], body: Buffer.concat([TRICKY[4], TRICKY[5]]) },
  { headers: ['X-Empty:'], body: `\r\n--${B.slice(0, 5)}` }, // ends in a partial delimiter
], { preamble: 'This is the preamble; ignore it.', epilogue: '\r\nepilogue, also ignored' });
const TRICKY_BODIES = [
  Buffer.concat([TRICKY[0], TRICKY[1], TRICKY[3]]), TRICKY[2], Buffer.alloc(0), Buffer.concat([TRICKY[4], TRICKY[5]]), Buffer.from(`\r\n--${B.slice(0, 5)}`),
];

describe('boundaryFromContentType', () => {
  it('returns the boundary parameter', () => {
    expect(boundaryFromContentType(parseMediaType(`multipart/related; type="application/dicom"; boundary=${B}`))).toBe(B);
    expect(boundaryFromContentType(parseMediaType('multipart/related; boundary="DICOM DATA BOUNDARY"'))).toBe('DICOM DATA BOUNDARY');
    expect(boundaryFromContentType(parseMediaType(`multipart/related; boundary=${'x'.repeat(70)}`))).toBe('x'.repeat(70));
  });

  it.each([
    ['multipart/related; type="application/dicom"', 'missing'],
    ['multipart/related; boundary=""', 'empty'],
    [`multipart/related; boundary=${'x'.repeat(71)}`, 'over 70 characters'],
    ['multipart/related; boundary="ends with space "', 'ending in a space'],
    ['multipart/related; boundary="a*b"', 'a character outside bchars'],
    ['multipart/related; boundary="caf\u00e9"', 'a non-ASCII character'],
  ])('rejects %s (%s) with MALFORMED_MULTIPART', (header) => {
    expect(() => boundaryFromContentType(parseMediaType(header))).toThrow(expect.objectContaining({ code: 'MALFORMED_MULTIPART' }));
  });
});

describe('readMultipart: parsing', () => {
  it('reads parts with their headers and exact bytes', async () => {
    const dicom = randomBytes(3000);
    const got = await collect(chunked(build([
      { headers: ['Content-Type: application/dicom', 'Content-Location: /studies/1.2/instances/3', 'Content-ID: <a@b>'], body: dicom },
      { headers: ['Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1', 'X-Custom:  spaced value \t'], body: 'second' },
    ]), 1000));
    expect(got).toHaveLength(2);
    expect(got[0]).toEqual({
      headers: { 'content-type': 'application/dicom', 'content-location': '/studies/1.2/instances/3', 'content-id': '<a@b>' },
      contentType: 'application/dicom', body: dicom,
    });
    expect(got[1].headers).toEqual({ 'content-type': 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1', 'x-custom': 'spaced value' });
    expect(got[1].headers['content-location']).toBeUndefined();
    expect(got[1].body.toString()).toBe('second');
  });

  it('keeps bytes that resemble delimiters, and ignores preamble and epilogue', async () => {
    const got = await collect(chunked(trickyBody(), 1 << 16));
    expect(got.map((g) => g.body)).toEqual(TRICKY_BODIES);
    expect(got.map((g) => g.headers)).toEqual([
      { 'content-type': 'application/dicom', 'content-location': '/a' },
      { 'content-id': '<p2@x>' },
      {},
      { 'content-type': 'text/plain' },
      { 'x-empty': '' },
    ]);
  });

  it('gives the same result for every chunk size, down to one byte at a time', async () => {
    const body = trickyBody();
    for (let size = 1; size <= 64; size++) {
      const got = await collect(chunked(body, size));
      expect(got.map((g) => g.body)).toEqual(TRICKY_BODIES);
    }
  });

  it('gives the same result for a cut at every offset (so inside every delimiter)', async () => {
    const body = trickyBody();
    for (let cut = 0; cut <= body.length; cut++) {
      const got = await collect(splitAt(body, [cut]));
      expect(got.map((g) => g.body)).toEqual(TRICKY_BODIES);
    }
  });

  it('gives the same result for two cuts around every delimiter', async () => {
    const body = trickyBody();
    const delim = Buffer.from(`\r\n--${B}`);
    const all: number[] = [];
    for (let at = body.indexOf(delim); at >= 0; at = body.indexOf(delim, at + 1)) all.push(at);
    for (const at of [all[0], all[2], all[all.length - 1]]) { // first, middle (before an empty part), close
      for (let a = at - 2; a <= at + delim.length + 2; a++) {
        for (const b of [a + 1, a + 2, a + 3, at + delim.length, at + delim.length + 2]) {
          const got = await collect(splitAt(body, [a, b]));
          expect(got.map((g) => g.body)).toEqual(TRICKY_BODIES);
        }
      }
    }
  });

  it('gives the same result for random chunkings of random parts', async () => {
    let seed = 42;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let round = 0; round < 40; round++) {
      const bodies = Array.from({ length: 1 + rnd(6) }, () => {
        const b = randomBytes(rnd(3000));
        // sprinkle delimiter prefixes through the content
        for (let k = rnd(5); k > 0 && b.length > 40; k--) plantPrefix(b, rnd(b.length - 30), 2 + rnd(B.length + 1));
        return b;
      });
      const body = build(bodies.map((b) => ({ headers: ['Content-Type: application/octet-stream'], body: b })));
      const sizes = Array.from({ length: 10 }, () => 1 + rnd(700));
      const got = await collect(chunked(body, sizes));
      expect(got.map((g) => g.body)).toEqual(bodies);
    }
  });

  it('accepts a first delimiter preceded by CRLF, and a bare one at the very start', async () => {
    const plain = build([{ body: 'x' }]);
    expect((await collect(chunked(plain, 3)))[0].body.toString()).toBe('x');
    const crlf = Buffer.concat([Buffer.from('\r\n'), plain]);
    expect((await collect(chunked(crlf, 3)))[0].body.toString()).toBe('x');
  });

  it('does not take "--boundary" inside the preamble for a delimiter unless it starts a line', async () => {
    const body = Buffer.from(`pre--${B}amble\r\n--${B}\r\n\r\nbody\r\n--${B}--`);
    const got = await collect(chunked(body, 5));
    expect(got.map((g) => g.body.toString())).toEqual(['body']);
  });

  it('allows transport padding after delimiters and the close delimiter', async () => {
    const body = Buffer.from(`--${B} \t \r\nA: 1\r\n\r\none\r\n--${B}\t\r\n\r\ntwo\r\n--${B}--  \r\n`);
    for (const size of [1, 2, 7, 1000]) {
      const got = await collect(chunked(body, size));
      expect(got.map((g) => [g.headers, g.body.toString()])).toEqual([[{ a: '1' }, 'one'], [{}, 'two']]);
    }
  });

  it('yields nothing for a body with a close delimiter but no part', async () => {
    expect(await collect(chunked(Buffer.from(`--${B}--\r\n`), 2))).toEqual([]);
    expect(await collect(chunked(Buffer.from(`preamble\r\n--${B}--`), 2))).toEqual([]);
  });

  it('reads empty parts: no headers, no body, and no blank line (RFC 2046 allows it)', async () => {
    const body = Buffer.from(`--${B}\r\n\r\n--${B}\r\nContent-Type: a/b\r\n\r\n--${B}\r\n\r\n\r\n--${B}--`);
    for (const size of [1, 3, 100]) {
      const got = await collect(chunked(body, size));
      expect(got.map((g) => [g.headers, g.body.length])).toEqual([[{}, 0], [{ 'content-type': 'a/b' }, 0], [{}, 0]]);
    }
  });

  it('keeps a body that starts with CRLF', async () => {
    const got = await collect(chunked(build([{ body: '\r\n\r\nbody\r\n' }]), 1));
    expect(got[0].body.toString()).toBe('\r\n\r\nbody\r\n');
  });

  it('unfolds folded header lines and joins repeated headers', async () => {
    const got = await collect(chunked(build([{ headers: ['X-Long: first', '\t second', '  third', 'X-Multi: a', 'x-multi: b'], body: 'z' }]), 4));
    expect(got[0].headers).toEqual({ 'x-long': 'first second third', 'x-multi': 'a, b' });
  });

  it('accepts a part header block of exactly maxHeaderBytes', async () => {
    const line = `X-Pad: ${'p'.repeat(100 - 'X-Pad: '.length)}`;
    expect(Buffer.byteLength(line)).toBe(100);
    const got = await collect(chunked(build([{ headers: [line], body: 'ok' }]), 7), { ...LIMITS, maxHeaderBytes: 102 });
    expect(got[0].body.toString()).toBe('ok');
  });

  it('accepts a part of exactly maxPartBytes and exactly maxParts parts', async () => {
    const body = build([{ body: 'a'.repeat(100) }, { body: 'b'.repeat(100) }, { body: '' }]);
    const got = await collect(chunked(body, 33), { maxPartBytes: 100, maxParts: 3 });
    expect(got.map((g) => g.body.length)).toEqual([100, 100, 0]);
  });

  it('accepts Uint8Array chunks', async () => {
    const body = build([{ body: 'uint8' }]);
    const src = (async function* () { yield new Uint8Array(body.buffer, body.byteOffset, body.byteLength); })();
    expect((await collect(src as AsyncIterable<Buffer>))[0].body.toString()).toBe('uint8');
  });

  it('reads from a Readable (as from an http.IncomingMessage) and drains the epilogue', async () => {
    const stream = Readable.from(chunked(build([{ body: 'r1' }, { body: 'r2' }], { epilogue: 'x'.repeat(100_000) }), 4096));
    const got = await collect(stream);
    expect(got.map((g) => g.body.toString())).toEqual(['r1', 'r2']);
    expect(stream.readableEnded).toBe(true);
  });
});

describe('readMultipart: errors', () => {
  const expectError = (src: AsyncIterable<Buffer>, code: string, message: RegExp, limits: MultipartLimits = LIMITS) =>
    expectLucidaRejection(code, collect(src, limits), message);

  it('rejects a body with no delimiter at all', async () => {
    await expectError(chunked(Buffer.from('just some bytes, no multipart here\r\n'), 4), 'MALFORMED_MULTIPART', /no part delimited by the boundary/);
    await expectError(chunked(Buffer.alloc(0), 1), 'MALFORMED_MULTIPART', /no part delimited by the boundary/);
    await expectError(chunked(build([{ body: 'x' }], { boundary: 'other' }), 3), 'MALFORMED_MULTIPART', /no part delimited by the boundary/);
  });

  it.each([
    ['inside a part body', build([{ body: 'abc' }, { body: 'defgh' }], { close: false }).subarray(0, -2)],
    ['with no close delimiter', build([{ body: 'abc' }], { close: false })],
    ['with a partial delimiter', Buffer.concat([build([{ body: 'abc' }], { close: false }), Buffer.from(`\r\n--${B.slice(0, 4)}`)])],
    ['right after a delimiter', Buffer.from(`--${B}`)],
    ['after a delimiter and one dash', Buffer.from(`--${B}\r\n\r\nx\r\n--${B}-`)],
    ['inside part headers', Buffer.from(`--${B}\r\nContent-Type: application/dicom\r\n`)],
    ['inside transport padding', Buffer.from(`--${B}   `)],
  ])('rejects a body truncated %s', async (_what, body) => {
    for (const size of [1, 1000]) await expectError(chunked(body, size), 'MALFORMED_MULTIPART', /^truncated: /);
  });

  it('rejects part headers over maxHeaderBytes, however they arrive', async () => {
    const body = build([{ headers: [`X-Big: ${'h'.repeat(200)}`], body: 'x' }]);
    for (const size of [1, 50, 10_000]) {
      await expectError(chunked(body, size), 'MALFORMED_MULTIPART', /headers of part 1 are larger than 100 bytes/, { ...LIMITS, maxHeaderBytes: 100 });
    }
  });

  it('rejects an endless header block without buffering it', async () => {
    const src = chunked(Buffer.concat([Buffer.from(`--${B}\r\nX: `), Buffer.alloc(10 << 20, 0x61)]), 4096);
    await expectError(src, 'MALFORMED_MULTIPART', /larger than 16384 bytes/);
    expect(src.pulled).toBeLessThan(32 * 1024);
  });

  it('rejects part headers not terminated by an empty line', async () => {
    const body = Buffer.from(`--${B}\r\nContent-Type: application/dicom\r\n--${B}\r\n\r\nx\r\n--${B}--`);
    for (const size of [1, 1000]) await expectError(chunked(body, size), 'MALFORMED_MULTIPART', /not terminated by an empty line/);
  });

  it.each([
    ['a line with no colon', 'no colon here'],
    ['a name with a space', 'Bad Name: x'],
    ['a continuation first', ' folded: x'],
    ['a bare LF', 'A: x\ny'],
    ['two Content-Types', 'Content-Type: a/b\r\nContent-Type: c/d'],
  ])('rejects part headers with %s', async (_what, header) => {
    await expectError(chunked(build([{ headers: [header], body: 'x' }]), 8), 'MALFORMED_MULTIPART', /part 1/);
  });

  it('rejects a delimiter followed by other bytes (boundary reused inside content)', async () => {
    const body = Buffer.from(`--${B}\r\n\r\nabc\r\n--${B}XYZ\r\n--${B}--`);
    await expectError(chunked(body, 3), 'MALFORMED_MULTIPART', /must be followed by "--" or by CRLF/);
  });

  it('rejects a part over maxPartBytes, in the generator and in the part body', async () => {
    const body = build([{ body: 'a'.repeat(50) }, { body: 'b'.repeat(101) }, { body: 'c' }]);
    const gen = readMultipart(chunked(body, 16), B, { maxPartBytes: 100, maxParts: 10 });
    const first = await gen.next();
    expect((await readAll((first.value as MultipartPart).body)).length).toBe(50);
    const second = (await gen.next()).value as MultipartPart;
    const fromBody = await lucidaRejection('PAYLOAD_TOO_LARGE', readAll(second.body), /part 2 is larger than 100 bytes/);
    expect(second.body.destroyed).toBe(true);
    const fromGen = await rejectionOf(gen.next());
    expect(fromGen).toBe(fromBody);
    expect((await gen.next()).done).toBe(true);
  });

  it('rejects a part over maxPartBytes even when its body is skipped, destroying the body with the same error', async () => {
    const body = build([{ body: 'b'.repeat(5000) }, { body: 'c' }]);
    const gen = readMultipart(chunked(body, 64), B, { maxPartBytes: 1000, maxParts: 10 });
    const part = (await gen.next()).value as MultipartPart;
    let emitted: unknown;
    part.body.on('error', (e) => { emitted = e; });
    const err = await lucidaRejection('PAYLOAD_TOO_LARGE', gen.next());
    expect(part.body.destroyed).toBe(true);
    await sleep(0);
    expect(emitted).toBe(err);
  });

  it('does not crash the process when a skipped body is destroyed with an error nobody listens for', async () => {
    const gen = readMultipart(chunked(build([{ body: 'b'.repeat(5000) }]), 64), B, { maxPartBytes: 10, maxParts: 10 });
    await gen.next();
    await expectLucidaRejection('PAYLOAD_TOO_LARGE', gen.next());
    await sleep(10);
  });

  it('rejects more than maxParts parts', async () => {
    const body = build([{ body: '1' }, { body: '2' }, { body: '3' }, { body: '4' }]);
    const seen: string[] = [];
    await expectLucidaRejection('PAYLOAD_TOO_LARGE', (async () => {
      for await (const p of readMultipart(chunked(body, 5), B, { maxPartBytes: 100, maxParts: 3 })) seen.push((await readAll(p.body)).toString());
    })(), /more than 3 parts/);
    expect(seen).toEqual(['1', '2', '3']);
  });

  it('destroys the current body with a truncation error and throws the same error', async () => {
    const body = build([{ body: 'x'.repeat(1000) }], { close: false }).subarray(0, 500);
    const gen = readMultipart(chunked(body, 100), B, LIMITS);
    const part = (await gen.next()).value as MultipartPart;
    const fromBody = await lucidaRejection('MALFORMED_MULTIPART', readAll(part.body), /^truncated: the body ended inside part 1/);
    expect(await rejectionOf(gen.next())).toBe(fromBody);
  });

  it('passes a source error through, to the body and the generator', async () => {
    const boom = new Error('socket hang up');
    const src = (async function* () {
      yield Buffer.from(`--${B}\r\n\r\nsome bytes`);
      throw boom;
    })();
    const gen = readMultipart(src, B, LIMITS);
    const part = (await gen.next()).value as MultipartPart;
    expect(await rejectionOf(readAll(part.body))).toBe(boom);
    expect(await rejectionOf(gen.next())).toBe(boom);
  });

  it('rejects a source that yields strings', async () => {
    const src = (async function* () { yield `--${B}--`; })() as unknown as AsyncIterable<Buffer>;
    await expect(collect(src)).rejects.toThrow(TypeError);
  });

  it('rejects an invalid boundary argument and invalid limits', async () => {
    await expect(collect(chunked(build([]), 1), LIMITS, 'x'.repeat(71))).rejects.toMatchObject({ code: 'MALFORMED_MULTIPART' });
    await expect(collect(chunked(build([]), 1), LIMITS, '')).rejects.toMatchObject({ code: 'MALFORMED_MULTIPART' });
    await expect(collect(chunked(build([]), 1), { maxPartBytes: -1, maxParts: 1 })).rejects.toThrow(RangeError);
    await expect(collect(chunked(build([]), 1), { maxPartBytes: 1, maxParts: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe('readMultipart: consumption and backpressure', () => {
  /** Pieces of a big body, delivered in 64 KiB chunks, with a running count of bytes pulled. */
  const MB = 1 << 20;

  it('pulls from the source only as fast as a slow consumer reads', async () => {
    const content = randomBytes(8 * MB);
    const src = chunked(build([{ body: content }, { body: 'tail' }]), 64 * 1024);
    const gen = readMultipart(src, B, { maxPartBytes: 16 * MB, maxParts: 10 });
    const part = (await gen.next()).value as MultipartPart;
    let consumed = 0;
    let maxAhead = 0;
    const hash = createHash('sha256');
    for await (const chunk of part.body as AsyncIterable<Buffer>) {
      consumed += chunk.length;
      hash.update(chunk);
      maxAhead = Math.max(maxAhead, src.pulled - consumed);
      if (consumed % (1 * MB) < chunk.length) await sleep(5);
    }
    expect(consumed).toBe(content.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
    // One source chunk in the scanner, one in flight, and the stream's own small buffer.
    expect(maxAhead).toBeLessThanOrEqual(3 * 64 * 1024);
    const next = (await gen.next()).value as MultipartPart;
    expect((await readAll(next.body)).toString()).toBe('tail');
  });

  it('pulls nothing more while the consumer holds a part without reading it', async () => {
    const body = build([{ body: randomBytes(10 * MB) }]);
    const src = chunked(body, 64 * 1024);
    const gen = readMultipart(src, B, { maxPartBytes: 16 * MB, maxParts: 10 });
    const part = (await gen.next()).value as MultipartPart;
    await sleep(20);
    const before = src.pulled;
    expect(before).toBeLessThanOrEqual(2 * 64 * 1024);
    part.body.read(0); // prime the stream's buffer, then leave it full
    await sleep(20);
    expect(src.pulled).toBeLessThanOrEqual(before + 64 * 1024);
    part.body.resume();
    expect((await gen.next()).done).toBe(true);
    expect(src.pulled).toBe(body.length);
  });

  it('discards an unread part when the next part is asked for', async () => {
    const body = build([{ body: randomBytes(300_000) }, { body: 'second' }, { body: '' }, { body: 'fourth' }]);
    const gen = readMultipart(chunked(body, 1000), B, LIMITS);
    const first = (await gen.next()).value as MultipartPart;
    let closed = false;
    let errored = false;
    first.body.on('close', () => { closed = true; });
    first.body.on('error', () => { errored = true; });
    const second = (await gen.next()).value as MultipartPart;
    expect(first.body.destroyed).toBe(true); // bytes were lost: a late reader sees a premature close
    const third = (await gen.next()).value as MultipartPart; // second skipped too
    expect(second.body.destroyed).toBe(true);
    const fourth = (await gen.next()).value as MultipartPart; // the empty third part lost nothing
    expect(third.body.destroyed).toBe(false);
    expect((await readAll(third.body)).length).toBe(0);
    expect((await readAll(fourth.body)).toString()).toBe('fourth');
    expect((await gen.next()).done).toBe(true);
    await sleep(0);
    expect(closed).toBe(true);
    expect(errored).toBe(false);
  });

  it('discards a half-read part and carries on at the right place', async () => {
    const big = randomBytes(500_000);
    const gen = readMultipart(chunked(build([{ body: big }, { body: 'after' }]), 4096), B, LIMITS);
    const first = (await gen.next()).value as MultipartPart;
    let got = 0;
    for await (const chunk of first.body as AsyncIterable<Buffer>) {
      got += chunk.length;
      if (got > 100_000) break;
    }
    const second = (await gen.next()).value as MultipartPart;
    expect((await readAll(second.body)).toString()).toBe('after');
  });

  it('supports body.resume() followed at once by the next part (the discard idiom)', async () => {
    const gen = readMultipart(chunked(build([{ body: randomBytes(200_000) }, { body: 'kept' }]), 4096), B, LIMITS);
    const first = (await gen.next()).value as MultipartPart;
    first.body.resume();
    const second = (await gen.next()).value as MultipartPart;
    expect((await readAll(second.body)).toString()).toBe('kept');
  });

  it('leaves the current part readable after the consumer stops early', async () => {
    const content = randomBytes(100_000);
    const src = chunked(build([{ body: content }, { body: 'never read' }]), 1000);
    let first: MultipartPart | undefined;
    for await (const part of readMultipart(src, B, LIMITS)) {
      first = part;
      break;
    }
    expect((await readAll(first!.body)).equals(content)).toBe(true);
  });
});

describe('readMultipart: throughput', () => {
  it('parses 20 MB of ~450 KB parts with every part\'s bytes intact (sha256), and reports the rate', async () => {
    const MB = 1 << 20;
    const pool = randomBytes(2 * MB);
    // Plant delimiter look-alikes in the content.
    for (let k = 0; k < 2000; k++) plantPrefix(pool, (k * 1049) % (pool.length - 64), 1 + (k % (B.length + 3)));
    const variants = Array.from({ length: 8 }, (_, v) => pool.subarray(v * 131_071, v * 131_071 + 450 * 1024 + v * 37));
    const expected = variants.map((v) => createHash('sha256').update(v).digest('hex'));
    const total = 20 * MB;

    /** The body, generated lazily in 64 KiB chunks (copies only where a chunk straddles pieces). */
    function source(counter: { parts: number }): AsyncIterable<Buffer> {
      return (async function* () {
        let pending: Buffer[] = [];
        let pendingLen = 0;
        const CHUNK = 64 * 1024;
        let emitted = 0;
        for (let i = 0; emitted + pendingLen < total; i++) {
          const pieces = [Buffer.from(`${i === 0 ? '' : '\r\n'}--${B}\r\nContent-Type: application/dicom\r\n\r\n`), variants[i % variants.length]];
          counter.parts++;
          for (let piece of pieces) {
            while (piece.length > 0) {
              const take = Math.min(CHUNK - pendingLen, piece.length);
              pending.push(piece.subarray(0, take));
              pendingLen += take;
              piece = piece.subarray(take);
              if (pendingLen === CHUNK) {
                yield pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLen);
                emitted += pendingLen;
                pending = [];
                pendingLen = 0;
              }
            }
          }
        }
        pending.push(Buffer.from(`\r\n--${B}--\r\n`));
        yield Buffer.concat(pending);
      })();
    }

    // One pass: parse, and check every part's type and bytes.
    const counter = { parts: 0 };
    let bytes = 0;
    let parts = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for await (const part of readMultipart(source(counter), B, { maxPartBytes: MB, maxParts: 1000 })) {
      expect(part.contentType).toBe('application/dicom');
      const hash = createHash('sha256');
      for await (const chunk of part.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        hash.update(chunk);
      }
      expect(hash.digest('hex')).toBe(expected[parts % 8]);
      parts++;
    }
    const cpu = process.cpuUsage(cpu0);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuSec = (cpu.user + cpu.system) / 1e6;
    console.log(`multipart: ${parts} parts, ${(bytes / MB).toFixed(0)} MiB in ${cpuSec.toFixed(3)} s CPU / ${wall.toFixed(3)} s wall `
      + `(${(bytes / MB / cpuSec).toFixed(0)} MiB/s CPU, including generating the body and sha256)`);
    expect(parts).toBe(counter.parts);
    expect(bytes).toBe(Array.from({ length: parts }, (_, i) => variants[i % 8].length).reduce((a, b) => a + b, 0));
    expect(bytes).toBeGreaterThan(19 * MB);
  });
});

describe('partEssence', () => {
  it('is the lower-case essence of the part Content-Type, or the fallback when there is none', () => {
    expect(partEssence({ contentType: 'Application/DICOM; transfer-syntax=1.2.840.10008.1.2.1' }, 'x/y')).toBe('application/dicom');
    expect(partEssence({}, 'application/dicom')).toBe('application/dicom');
  });

  it('is undefined for a malformed Content-Type, so that only that part is refused', () => {
    for (const contentType of ['', 'application', 'application/dicom; =x', 'image/*', 'a/b, c/d']) {
      expect(partEssence({ contentType }, 'application/dicom')).toBeUndefined();
    }
  });
});
