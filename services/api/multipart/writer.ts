/**
 * Streaming writer for multipart/related responses (RFC 2387, RFC 2046 §5.1.1), as WADO-RS sends
 * them (PS3.18 §8.7.3.4, §10.4.3): one part at a time, with backpressure, so a study of any
 * size goes out at flat memory.
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { formatMediaType, isToken, isValidBoundary } from '../http/media-type.js';

// Field values: visible ASCII, SP, HT and obs-text. CR and LF would let a value inject headers.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A boundary that cannot plausibly occur in the content: 128 random bits (RFC 2046 §5.1.1 asks
 * that the boundary not appear in any part; stored content cannot be built to contain it).
 */
export function randomBoundary(): string {
  return `lucida-${randomBytes(16).toString('hex')}`;
}

/**
 * Writes a multipart/related body to `out` part by part. Parts are written in order; each
 * `writePart` must be awaited before the next. The caller ends `out` (the response) after
 * {@link MultipartWriter.end}. When a part's source fails mid-way the writer is
 * broken: the body on the wire is truncated, with no close delimiter, which is the honest signal
 * to the client; the caller should destroy the connection rather than end it normally.
 */
export class MultipartWriter {
  readonly boundary: string;
  private readonly delimiter: Buffer;
  /** The delimiter without its leading CRLF: what a part body must not start with. */
  private readonly dashBoundary: Buffer;
  private parts = 0;
  private busy = false;
  private closed = false;
  private failure: unknown;

  constructor(private readonly out: Writable, boundary: string = randomBoundary()) {
    if (!isValidBoundary(boundary)) throw new TypeError('MultipartWriter: the boundary must be 1 to 70 RFC 2046 bchars, not ending in a space');
    this.boundary = boundary;
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.dashBoundary = this.delimiter.subarray(2);
  }

  /**
   * The response Content-Type for this body, e.g.
   * `multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1; boundary=...`
   * (RFC 2387 `type` is the media type of the parts; PS3.18 §8.7.3.4).
   */
  contentTypeHeader(partType: string, extraParams: Record<string, string> = {}): string {
    return formatMediaType('multipart/related', { type: partType, ...extraParams, boundary: this.boundary });
  }

  /**
   * Writes one part: delimiter, the given header fields, an empty line, then the body. A Readable
   * body is streamed chunk by chunk, waiting for `out` to drain. Rejects if the body errors
   * (the writer is then unusable) or `out` fails or closes. A Buffer body is checked not to contain
   * the delimiter, nor to start with `--boundary` (after the header block's CRLF that is a delimiter
   * too); a streamed body is not checked, which is safe with a {@link randomBoundary}.
   * @throws TypeError for a header name that is not a token or a value containing CR, LF or NUL.
   */
  async writePart(headers: Record<string, string>, body: Buffer | Uint8Array | Readable): Promise<void> {
    this.checkUsable('writePart');
    let head = this.parts === 0 ? `--${this.boundary}\r\n` : `\r\n--${this.boundary}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (!isToken(name)) throw new TypeError(`MultipartWriter: invalid header name ${JSON.stringify(name)}`);
      if (!HEADER_VALUE.test(value)) throw new TypeError(`MultipartWriter: header ${name} has a value with a control character`);
      head += `${name}: ${value}\r\n`;
    }
    head += '\r\n';
    if (body instanceof Uint8Array) {
      const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (bytes.indexOf(this.delimiter) >= 0 || bytes.subarray(0, this.dashBoundary.length).equals(this.dashBoundary)) {
        throw new Error('MultipartWriter: the part body contains the boundary delimiter');
      }
    }

    this.busy = true;
    this.parts++;
    try {
      await this.write(Buffer.from(head, 'latin1'));
      if (body instanceof Uint8Array) {
        if (body.byteLength > 0) await this.write(body);
      } else {
        for await (const chunk of body) {
          if (typeof chunk === 'string') throw new TypeError('MultipartWriter: a part body must yield bytes, not strings');
          if ((chunk as Uint8Array).byteLength > 0) await this.write(chunk as Uint8Array);
        }
      }
    } catch (err) {
      this.failure = err;
      throw err;
    } finally {
      this.busy = false;
    }
  }

  /** Writes the close delimiter (`--boundary--`) and waits for it to be accepted by `out`; does not end `out`. */
  async end(): Promise<void> {
    this.checkUsable('end');
    this.closed = true;
    const close = this.parts === 0 ? `--${this.boundary}--\r\n` : `\r\n--${this.boundary}--\r\n`;
    try {
      await this.write(Buffer.from(close, 'latin1'));
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  private checkUsable(what: string): void {
    if (this.failure !== undefined) throw new Error(`MultipartWriter.${what}: an earlier part failed; the body is truncated`, { cause: this.failure });
    if (this.closed) throw new Error(`MultipartWriter.${what}: the body is already closed`);
    if (this.busy) throw new Error(`MultipartWriter.${what}: the previous writePart has not finished`);
  }

  /** Writes with backpressure: resolves at once if `out` has room, else on 'drain'. */
  private write(chunk: Uint8Array): Promise<void> {
    const out = this.out;
    if (out.destroyed || out.writableEnded) return Promise.reject(new Error('MultipartWriter: the output is closed'));
    if (out.write(chunk)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        out.off('drain', onDrain);
        out.off('error', onError);
        out.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onError = (err: Error) => done(err);
      const onClose = () => done(new Error('MultipartWriter: the output closed before draining'));
      out.on('drain', onDrain);
      out.on('error', onError);
      out.on('close', onClose);
    });
  }
}
