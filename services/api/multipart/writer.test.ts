import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAll } from '../../core/storage/object-store.js';
import { parseMediaType } from '../http/media-type.js';
import { boundaryFromContentType, readMultipart } from './related.js';
import { MultipartWriter, randomBoundary } from './writer.js';

const MB = 1 << 20;

/** A Writable that keeps everything written to it. */
function sink(): Writable & { bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb(); },
  }) as Writable & { bytes: () => Buffer };
  w.bytes = () => Buffer.concat(chunks);
  return w;
}

/** Parses a written body back, as a STOW client's body would be. */
async function parse(body: AsyncIterable<Buffer>, contentType: string) {
  const got: { headers: Record<string, string>; body: Buffer }[] = [];
  const boundary = boundaryFromContentType(parseMediaType(contentType));
  for await (const part of readMultipart(body, boundary, { maxPartBytes: 64 * MB, maxParts: 100 })) {
    got.push({ headers: part.headers, body: await readAll(part.body) });
  }
  return got;
}

const POOL = randomBytes(MB + 4096);

/** A Readable of `total` deterministic bytes in `chunk`-sized pieces, counting what was produced. */
function generated(total: number, chunk = 64 * 1024): Readable & { produced: number } {
  let produced = 0;
  const stream = Readable.from((async function* () {
    for (let off = 0, k = 0; off < total; off += chunk, k++) {
      const n = Math.min(chunk, total - off);
      const start = (k * 7919) % (POOL.length - n);
      produced += n;
      yield POOL.subarray(start, start + n);
    }
  })(), { objectMode: false }) as Readable & { produced: number };
  Object.defineProperty(stream, 'produced', { get: () => produced });
  return stream;
}

describe('MultipartWriter', () => {
  it('round-trips binary parts byte for byte, including -- and CRLF sequences', async () => {
    const out = sink();
    const w = new MultipartWriter(out);
    const bodies = [
      Buffer.from(`--${w.boundary}`), // the boundary, but not at the start of a line
      Buffer.from(`\r\n--${w.boundary.slice(0, -1)}\r\n--\r\n\r\n`),
      Buffer.alloc(0),
      randomBytes(100_000),
      Buffer.from('\r\n'),
      Buffer.from('ends with CR\r'),
    ];
    // At the start of a body the boundary would begin a line, so the first body starts with 'x'.
    bodies[0] = Buffer.concat([Buffer.from('x'), bodies[0]]);
    for (const [i, b] of bodies.entries()) {
      await w.writePart({ 'Content-Type': 'application/octet-stream', 'Content-Location': `/frames/${i + 1}` }, b);
    }
    await w.end();
    expect(out.writableEnded).toBe(false); // the caller ends the response
    const got = await parse(Readable.from([out.bytes()]), w.contentTypeHeader('application/octet-stream'));
    expect(got.map((g) => g.body)).toEqual(bodies);
    expect(got.map((g) => g.headers)).toEqual(bodies.map((_, i) => ({ 'content-type': 'application/octet-stream', 'content-location': `/frames/${i + 1}` })));
  });

  it('writes the exact RFC 2046 framing', async () => {
    const out = sink();
    const w = new MultipartWriter(out, 'b0undary');
    await w.writePart({ 'Content-Type': 'application/dicom' }, Buffer.from('one'));
    await w.writePart({}, Readable.from([Buffer.from('tw'), Buffer.from('o')]));
    await w.end();
    expect(out.bytes().toString()).toBe('--b0undary\r\nContent-Type: application/dicom\r\n\r\none\r\n--b0undary\r\n\r\ntwo\r\n--b0undary--\r\n');
  });

  it('writes a valid empty body when there are no parts', async () => {
    const out = sink();
    const w = new MultipartWriter(out, 'empty');
    await w.end();
    expect(out.bytes().toString()).toBe('--empty--\r\n');
    expect(await parse(Readable.from([out.bytes()]), w.contentTypeHeader('application/dicom'))).toEqual([]);
  });

  it('streams a 50 MB part through to readMultipart with backpressure both ways', async () => {
    const pipe = new PassThrough();
    const w = new MultipartWriter(pipe);
    const source = generated(50 * MB);
    let consumed = 0;
    let maxAhead = 0;
    const expected = createHash('sha256');
    const check = generated(50 * MB);
    const expectedDone = (async () => { for await (const c of check) expected.update(c); })();
    const reading = (async () => {
      const boundary = boundaryFromContentType(parseMediaType(w.contentTypeHeader('application/dicom')));
      const hashes: string[] = [];
      for await (const part of readMultipart(pipe, boundary, { maxPartBytes: 64 * MB, maxParts: 10 })) {
        const h = createHash('sha256');
        for await (const c of part.body as AsyncIterable<Buffer>) {
          h.update(c);
          if (hashes.length === 1) {
            consumed += c.length;
            maxAhead = Math.max(maxAhead, source.produced - consumed);
          }
        }
        hashes.push(h.digest('hex'));
      }
      return hashes;
    })();
    await w.writePart({ 'Content-Type': 'application/dicom' }, Buffer.from('small first part'));
    await w.writePart({ 'Content-Type': 'application/dicom' }, source);
    await w.writePart({ 'Content-Type': 'application/dicom' }, Buffer.from('small last part'));
    await w.end();
    pipe.end();
    await expectedDone;
    const hashes = await reading;
    expect(hashes).toEqual([
      createHash('sha256').update('small first part').digest('hex'),
      expected.digest('hex'),
      createHash('sha256').update('small last part').digest('hex'),
    ]);
    // Source -> writer -> PassThrough -> parser -> consumer holds a few chunks, never the part.
    expect(maxAhead).toBeLessThan(512 * 1024);
  });

  it('waits for drain: a slow output does not make it read the part source ahead', async () => {
    let written = 0;
    let maxAhead = 0;
    const source = generated(4 * MB, 16 * 1024);
    const out = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        maxAhead = Math.max(maxAhead, source.produced - written);
        setTimeout(cb, 0);
      },
    });
    const w = new MultipartWriter(out);
    await w.writePart({ 'Content-Type': 'application/dicom' }, source);
    await w.end();
    expect(source.produced).toBe(4 * MB);
    // The output's buffer, the Readable's buffer and a chunk or two in hand: not megabytes.
    expect(maxAhead).toBeLessThan(256 * 1024);
  });

  it('rejects writePart when the part source fails mid-way, and refuses to go on', async () => {
    const out = sink();
    const w = new MultipartWriter(out);
    await w.writePart({ 'Content-Type': 'application/dicom' }, Buffer.from('good part'));
    const boom = new Error('object store read failed');
    const failing = Readable.from((async function* () {
      yield Buffer.alloc(1000, 1);
      await sleep(1);
      throw boom;
    })());
    await expect(w.writePart({ 'Content-Type': 'application/dicom' }, failing)).rejects.toBe(boom);
    expect(failing.destroyed).toBe(true);
    await expect(w.writePart({}, Buffer.from('x'))).rejects.toThrow(/earlier part failed/);
    await expect(w.end()).rejects.toThrow(/earlier part failed/);
    // What went out is a truncated multipart body: a reader sees that, not a short valid one.
    const err = await parse(Readable.from([out.bytes()]), w.contentTypeHeader('application/dicom')).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'MALFORMED_MULTIPART', message: expect.stringMatching(/^truncated/) });
  });

  it('rejects when the output is destroyed while waiting for drain', async () => {
    const out = new Writable({ highWaterMark: 1, write(_c, _e, _cb) { /* never completes */ } });
    const w = new MultipartWriter(out);
    const writing = w.writePart({}, Buffer.alloc(1000));
    await sleep(1);
    out.destroy();
    await expect(writing).rejects.toThrow(/closed/);
  });

  it('rejects when the output is already closed', async () => {
    const out = sink();
    out.destroy();
    await expect(new MultipartWriter(out).writePart({}, Buffer.from('x'))).rejects.toThrow(/output is closed/);
  });

  it('refuses header injection and bad header names, writing nothing', async () => {
    const out = sink();
    const w = new MultipartWriter(out);
    await expect(w.writePart({ 'Content-Location': '/a\r\nX-Injected: 1' }, Buffer.from('x'))).rejects.toThrow(TypeError);
    await expect(w.writePart({ 'Bad Name': 'x' }, Buffer.from('x'))).rejects.toThrow(TypeError);
    expect(out.bytes().length).toBe(0);
    await w.writePart({ 'Content-Type': 'text/plain' }, Buffer.from('still usable'));
    await w.end();
    expect((await parse(Readable.from([out.bytes()]), w.contentTypeHeader('text/plain')))[0].body.toString()).toBe('still usable');
  });

  it('refuses a Buffer body that contains its own delimiter', async () => {
    const w = new MultipartWriter(sink(), 'fixed');
    await expect(w.writePart({}, Buffer.from('a\r\n--fixed\r\nb'))).rejects.toThrow(/contains the boundary delimiter/);
  });

  it('refuses a Buffer body that starts with --boundary (the header block\'s CRLF makes it a delimiter)', async () => {
    const out = sink();
    const w = new MultipartWriter(out, 'fixed');
    for (const first of [true, false]) {
      await expect(w.writePart({}, Buffer.from('--fixed\r\nb'))).rejects.toThrow(/contains the boundary delimiter/);
      await expect(w.writePart({ 'Content-Type': 'text/plain' }, Buffer.from('--fixed'))).rejects.toThrow(/contains the boundary delimiter/);
      if (first) await w.writePart({}, Buffer.from('ok'));
    }
    await w.writePart({}, Buffer.from('--fixe')); // a prefix is harmless
    await w.end();
    const got = await parse(Readable.from([out.bytes()]), w.contentTypeHeader('text/plain'));
    expect(got.map((g) => g.body.toString())).toEqual(['ok', '--fixe']);
  });

  it('refuses overlapping writes and writes after end', async () => {
    const w = new MultipartWriter(sink());
    const first = w.writePart({}, Readable.from([Buffer.from('a'), Buffer.from('b')]));
    await expect(w.writePart({}, Buffer.from('c'))).rejects.toThrow(/has not finished/);
    await first;
    await w.end();
    await expect(w.writePart({}, Buffer.from('d'))).rejects.toThrow(/already closed/);
    await expect(w.end()).rejects.toThrow(/already closed/);
  });

  it('builds the Content-Type header with the part type quoted and extra parameters', () => {
    const w = new MultipartWriter(sink(), 'abc');
    expect(w.contentTypeHeader('application/dicom')).toBe('multipart/related; type="application/dicom"; boundary=abc');
    const ct = w.contentTypeHeader('application/dicom', { 'transfer-syntax': '1.2.840.10008.1.2.1' });
    expect(ct).toBe('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1; boundary=abc');
    expect(parseMediaType(ct).params).toEqual({ type: 'application/dicom', 'transfer-syntax': '1.2.840.10008.1.2.1', boundary: 'abc' });
    const spaced = new MultipartWriter(sink(), 'DICOM DATA BOUNDARY');
    expect(boundaryFromContentType(parseMediaType(spaced.contentTypeHeader('application/dicom')))).toBe('DICOM DATA BOUNDARY');
  });

  it('makes random boundaries that are valid and distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const b = randomBoundary();
      expect(b).toMatch(/^[0-9A-Za-z'()+_,\-./:=?]{1,70}$/);
      seen.add(b);
    }
    expect(seen.size).toBe(100);
    expect(new MultipartWriter(sink()).boundary).not.toBe(new MultipartWriter(sink()).boundary);
  });

  it('rejects an invalid boundary', () => {
    for (const b of ['', 'x'.repeat(71), 'trailing ', 'star*']) expect(() => new MultipartWriter(sink(), b)).toThrow(TypeError);
  });

  it('leaves ending the output to the caller', async () => {
    const kept = sink();
    await new MultipartWriter(kept).end();
    expect(kept.writableEnded).toBe(false);
  });

  it('works end to end over HTTP: writer on the client request, readMultipart on the IncomingMessage', async () => {
    const server = http.createServer(async (req, res) => {
      try {
        const boundary = boundaryFromContentType(parseMediaType(req.headers['content-type'] ?? ''));
        const seen: string[] = [];
        for await (const part of readMultipart(req, boundary, { maxPartBytes: 8 * MB, maxParts: 10 })) {
          const h = createHash('sha256');
          for await (const c of part.body as AsyncIterable<Buffer>) h.update(c);
          seen.push(`${part.headers['content-location']}:${h.digest('hex')}`);
        }
        res.end(JSON.stringify(seen));
      } catch (err) {
        res.writeHead(400, { connection: 'close' }).end(String(err));
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const bodies = [randomBytes(10), randomBytes(3 * MB), Buffer.alloc(0)];
      const req = http.request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'POST' });
      const response = once(req, 'response');
      const writer = new MultipartWriter(req);
      req.setHeader('content-type', writer.contentTypeHeader('application/dicom'));
      for (const [i, b] of bodies.entries()) await writer.writePart({ 'Content-Type': 'application/dicom', 'Content-Location': `/i/${i}` }, i === 1 ? Readable.from([b.subarray(0, MB), b.subarray(MB)]) : b);
      await writer.end();
      req.end();
      const [res] = (await response) as [http.IncomingMessage];
      expect(res.statusCode).toBe(200);
      expect(JSON.parse((await readAll(res)).toString())).toEqual(bodies.map((b, i) => `/i/${i}:${createHash('sha256').update(b).digest('hex')}`));
    } finally {
      server.close();
    }
  });
});
