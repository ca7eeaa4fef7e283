/**
 * Streaming reader for multipart/related request bodies (RFC 2387 over the RFC 2046 §5.1.1
 * multipart syntax), as sent to DICOMweb STOW-RS (PS3.18 §8.6.1.2, §10.5.1.1).
 *
 * Memory is flat whatever the body size: the scanner keeps at most one source chunk plus a
 * tail shorter than the delimiter (plus, while reading part headers, at most maxHeaderBytes),
 * and each part's bytes are handed on as slices of the source chunks, pulled only as fast as
 * the consumer reads them.
 */
import { Readable } from 'node:stream';
import { LucidaError } from '../../core/errors.js';
import { isToken, isValidBoundary, parseMediaType, type MediaType } from '../http/media-type.js';

/** One body part. Its bytes must be read (or discarded) before the next part can be parsed. */
export interface MultipartPart {
  /**
   * Part header fields, names lower-case, values trimmed; folded lines are unfolded
   * (e.g. `content-location`, `content-id`).
   */
  headers: Record<string, string>;
  /** The raw Content-Type header of the part, if any (parse it with parseMediaType). */
  contentType?: string;
  /** This part's bytes, streamed with backpressure. Ends at the next delimiter. */
  body: Readable;
}

export interface MultipartLimits {
  /** Largest body of a single part, in bytes (its headers not counted). Over it: PAYLOAD_TOO_LARGE. */
  maxPartBytes: number;
  /** Most parts in one body. One more: PAYLOAD_TOO_LARGE. */
  maxParts: number;
  /** Largest header block of a part, in bytes. Over it: MALFORMED_MULTIPART. Default 16 KiB. */
  maxHeaderBytes?: number;
}

const malformed = (detail: string) => new LucidaError('MALFORMED_MULTIPART', detail);

function checkBoundary(boundary: unknown): string {
  if (typeof boundary !== 'string' || !isValidBoundary(boundary)) {
    throw malformed('the boundary parameter must be 1 to 70 characters from the RFC 2046 §5.1.1 set, not ending in a space');
  }
  return boundary;
}

/**
 * The `boundary` parameter of a multipart Content-Type, checked against RFC 2046 §5.1.1
 * (1–70 characters of `bchars`, not ending in a space). The essence is not checked here: the
 * route decides which multipart types it takes.
 * @throws LucidaError MALFORMED_MULTIPART when the boundary is missing or invalid.
 */
export function boundaryFromContentType(ct: MediaType): string {
  const boundary = ct.params.boundary;
  if (boundary === undefined) throw malformed(`${ct.essence} without a boundary parameter`);
  return checkBoundary(boundary);
}

/**
 * The essence of a part's Content-Type (lower-case), `fallback` when the part has none, or
 * undefined when it is malformed: the caller refuses that part, not the whole body.
 */
export function partEssence(part: Pick<MultipartPart, 'contentType'>, fallback: string): string | undefined {
  if (part.contentType === undefined) return fallback;
  try {
    return parseMediaType(part.contentType).essence;
  } catch (err) {
    if (err instanceof LucidaError && err.code === 'UNSUPPORTED_MEDIA_TYPE') return undefined;
    throw err;
  }
}

const CR = 0x0d;
const HEADER_END = Buffer.from('\r\n\r\n');
const isPadding = (c: number) => c === 0x20 || c === 0x09;
// A second copy of these in one part is ambiguous, not additive.
const SINGLETON_HEADERS = new Set(['content-type', 'content-location', 'content-id', 'content-length', 'content-transfer-encoding', 'content-encoding']);

/**
 * The byte-level state machine. One instance per body; its methods are never run concurrently
 * (the generator waits for a part's pump to stop before it touches the scanner again).
 * Once a method throws, every later call throws the same error.
 */
class Scanner {
  /** Unconsumed bytes. Starts as a virtual CRLF so a delimiter at the very start matches. */
  private pending: Buffer = Buffer.from('\r\n');
  private sourceDone = false;
  private readonly delim: Buffer; // CRLF "--" boundary: RFC 2046 delimiter
  error: unknown;
  /** Parts opened so far (1-based index of the current part). */
  partIndex = 0;
  private inPreamble = true;
  private partEnded = false;
  private partBytes = 0;
  /** Leading bytes of the part still to drop: the CRLF that ended the header block (see readHeaders). */
  private skip = 0;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly boundary: string,
    private readonly maxPartBytes: number,
    private readonly maxHeaderBytes: number,
  ) {
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.error !== undefined) throw this.error;
    try {
      return await fn();
    } catch (err) {
      this.error ??= err;
      throw err;
    }
  }

  /** Next non-empty source chunk, or null at the end of the source. */
  private async read(): Promise<Buffer | null> {
    while (!this.sourceDone) {
      const r = await this.source.next();
      if (r.done) { this.sourceDone = true; break; }
      const v = r.value;
      let chunk: Buffer;
      if (Buffer.isBuffer(v)) chunk = v;
      else if (v instanceof Uint8Array) chunk = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      else throw new TypeError('multipart source must yield Buffers or Uint8Arrays (was setEncoding called on it?)');
      if (chunk.length > 0) return chunk;
    }
    return null;
  }

  /** Appends one chunk to `pending`; false at the end of the source. Copies only when `pending` is not empty. */
  private async pull(): Promise<boolean> {
    const chunk = await this.read();
    if (!chunk) return false;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    return true;
  }

  /** Makes `pending` at least n bytes long; false if the source ends first. */
  private async ensure(n: number): Promise<boolean> {
    while (this.pending.length < n) if (!(await this.pull())) return false;
    return true;
  }

  /**
   * Where the bytes of `b` that might begin a delimiter start: the first offset within the last
   * (delimiter length - 1) bytes whose suffix is a prefix of the delimiter; b.length if none.
   * Only a CR can start the delimiter, so this is a couple of indexOf calls.
   */
  private tailStart(b: Buffer): number {
    const d = this.delim;
    let k = b.indexOf(CR, Math.max(0, b.length - d.length + 1));
    while (k !== -1) {
      if (d.compare(b, k, b.length, 0, b.length - k) === 0) return k;
      k = b.indexOf(CR, k + 1);
    }
    return b.length;
  }

  private truncatedError(): LucidaError {
    if (this.inPreamble) return malformed(`no part delimited by the boundary "${this.boundary}" was found`);
    return malformed(`truncated: the body ended inside part ${this.partIndex}, before the next boundary delimiter`);
  }

  /** Hands out a slice of the current part (or preamble), dropping `skip` bytes and counting the limit. */
  private emit(seg: Buffer): Buffer {
    if (this.skip > 0) {
      const drop = Math.min(this.skip, seg.length);
      this.skip -= drop;
      seg = seg.subarray(drop);
    }
    if (!this.inPreamble) {
      this.partBytes += seg.length;
      if (this.partBytes > this.maxPartBytes) {
        throw new LucidaError('PAYLOAD_TOO_LARGE', `part ${this.partIndex} is larger than ${this.maxPartBytes} bytes`);
      }
    }
    return seg;
  }

  /**
   * The next bytes of the current part (or of the preamble), or null once its closing delimiter
   * has been consumed. Returned buffers are slices of source chunks, never copies of them.
   */
  nextSegment(): Promise<Buffer | null> {
    return this.guard(async () => {
      for (;;) {
        if (this.partEnded) return null;
        const p = this.pending;
        if (p.length >= this.delim.length) {
          const i = p.indexOf(this.delim);
          if (i >= 0) {
            this.partEnded = true;
            this.pending = p.subarray(i + this.delim.length);
            const seg = this.emit(p.subarray(0, i));
            if (seg.length > 0) return seg;
            return null;
          }
        }
        const t = this.tailStart(p);
        if (t > 0) {
          this.pending = p.subarray(t);
          const seg = this.emit(p.subarray(0, t));
          if (seg.length > 0) return seg;
          continue;
        }
        // All of `pending` (shorter than the delimiter) may begin one: look at the next chunk.
        const chunk = await this.read();
        if (!chunk) throw this.truncatedError();
        if (p.length === 0) {
          this.pending = chunk;
        } else if (chunk.length < this.delim.length) {
          this.pending = Buffer.concat([p, chunk]);
        } else {
          // Decide the straddling case on a small probe so the big chunk is never copied.
          const probe = Buffer.concat([p, chunk.subarray(0, this.delim.length - 1)]);
          const i = probe.indexOf(this.delim);
          if (i >= 0 && i < p.length) {
            this.partEnded = true;
            this.pending = chunk.subarray(i + this.delim.length - p.length);
            const seg = this.emit(p.subarray(0, i));
            return seg.length > 0 ? seg : null;
          }
          this.pending = chunk;
          const seg = this.emit(p);
          if (seg.length > 0) return seg;
        }
      }
    });
  }

  /** Discards the preamble (RFC 2046: to be ignored) up to and including the first delimiter. */
  skipPreamble(): Promise<void> {
    return this.guard(async () => {
      while ((await this.nextSegment()) !== null) { /* discard */ }
      this.inPreamble = false;
    });
  }

  /**
   * After a delimiter: `--` closes the body (the rest is the epilogue, ignored); otherwise
   * transport padding (SP/HT) then CRLF opens a part. Leaves `pending` at that CRLF.
   */
  afterDelimiter(): Promise<'close' | 'part'> {
    return this.guard(async () => {
      if (!(await this.ensure(2))) throw malformed(`truncated: the body ended right after a boundary delimiter`);
      if (this.pending[0] === 0x2d && this.pending[1] === 0x2d) {
        this.pending = Buffer.alloc(0);
        return 'close';
      }
      let padding = 0;
      for (;;) {
        let j = 0;
        while (j < this.pending.length && isPadding(this.pending[j])) j++;
        padding += j;
        this.pending = this.pending.subarray(j);
        if (padding > this.maxHeaderBytes) throw malformed('too much transport padding after a boundary delimiter');
        if (this.pending.length > 0) break;
        if (!(await this.pull())) throw malformed('truncated: the body ended right after a boundary delimiter');
      }
      if (!(await this.ensure(2))) throw malformed('truncated: the body ended right after a boundary delimiter');
      if (this.pending[0] !== CR || this.pending[1] !== 0x0a) {
        throw malformed('a boundary delimiter must be followed by "--" or by CRLF (is the boundary also used inside a part?)');
      }
      return 'part';
    });
  }

  /**
   * Reads a part's header block. `pending` starts with the CRLF ending the delimiter line, so an
   * empty block is just CRLFCRLF. The second CRLF of the terminator is left in `pending` and
   * skipped as the part's first bytes unless a delimiter follows it directly: RFC 2046 lets a
   * part with no body (`headers CRLF` then `CRLF--boundary`) share that CRLF with the delimiter.
   */
  readHeaders(): Promise<Record<string, string>> {
    return this.guard(async () => {
      let scanned = 0;
      for (;;) {
        const p = this.pending;
        const end = p.indexOf(HEADER_END, Math.max(0, scanned - 3));
        // A delimiter before the end of the block means the block was never terminated.
        const upTo = end >= 0 ? Math.min(p.length, end + this.delim.length) : p.length;
        const stray = p.subarray(0, upTo).indexOf(this.delim, Math.max(0, scanned - this.delim.length + 1));
        if (stray >= 0 && (end < 0 || stray < end)) {
          throw malformed(`the headers of part ${this.partIndex} are not terminated by an empty line before the next boundary delimiter`);
        }
        if (end >= 0) {
          if (end - 2 > this.maxHeaderBytes) throw malformed(`the headers of part ${this.partIndex} are larger than ${this.maxHeaderBytes} bytes`);
          const block = p.subarray(2, end);
          this.pending = p.subarray(end + 2);
          return parseHeaders(block, this.partIndex);
        }
        if (p.length > this.maxHeaderBytes + 6) {
          throw malformed(`the headers of part ${this.partIndex} are larger than ${this.maxHeaderBytes} bytes`);
        }
        scanned = p.length;
        if (!(await this.pull())) throw malformed(`truncated: the body ended inside the headers of part ${this.partIndex}`);
      }
    });
  }

  /** Starts counting a new part; its first two pending bytes are the header terminator's CRLF. */
  beginPart(): void {
    this.partEnded = false;
    this.partBytes = 0;
    this.skip = 2;
  }

  /** Reads and drops the epilogue so that the source completes normally. */
  drainEpilogue(): Promise<void> {
    return this.guard(async () => {
      while ((await this.read()) !== null) { /* RFC 2046: the epilogue is ignored */ }
    });
  }
}

function parseHeaders(block: Buffer, partIndex: number): Record<string, string> {
  const headers: Record<string, string> = {};
  if (block.length === 0) return headers;
  let last: string | undefined;
  for (const line of block.toString('latin1').split('\r\n')) {
    if (/[\r\n\0]/.test(line)) throw malformed(`part ${partIndex} has a header line with a bare CR, LF or NUL`);
    if (isPadding(line.charCodeAt(0))) {
      // obs-fold (RFC 5322 §2.2.3): a continuation of the previous field.
      if (last === undefined) throw malformed(`part ${partIndex} headers start with a continuation line`);
      const more = line.trim();
      if (more) headers[last] = headers[last] ? `${headers[last]} ${more}` : more;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase() : '';
    if (!isToken(name)) throw malformed(`part ${partIndex} has an invalid header line`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (Object.hasOwn(headers, name)) {
      if (SINGLETON_HEADERS.has(name)) throw malformed(`part ${partIndex} has more than one ${name} header`);
      headers[name] = `${headers[name]}, ${value}`;
    } else {
      headers[name] = value;
    }
    last = name;
  }
  return headers;
}

const noop = () => {};

/**
 * A part's bytes. `_read` starts a pump that pulls segments from the scanner and pushes them until
 * `push` says stop; so the source is read only as fast as this stream is consumed.
 */
class PartBody extends Readable {
  private wanted = false;
  private pumping: Promise<void> | null = null;
  private abandoned = false;
  private ended = false;

  constructor(private readonly scanner: Scanner) {
    super();
    // Errors are also thrown by the generator, which the consumer is awaiting; a body nobody
    // listens to must not crash the process when it is destroyed with one.
    this.on('error', noop);
  }

  override _read(): void {
    this.wanted = true;
    this.startPump();
  }

  private startPump(): void {
    if (this.pumping || this.abandoned || this.ended || this.destroyed) return;
    const p = this.pump();
    this.pumping = p;
    void p.then(() => {
      if (this.pumping === p) this.pumping = null;
      if (this.wanted) this.startPump(); // _read arrived while the pump was finishing
    });
  }

  private async pump(): Promise<void> {
    try {
      while (this.wanted && !this.abandoned && !this.destroyed) {
        const seg = await this.scanner.nextSegment();
        if (this.destroyed) return; // consumer gave up: the generator discards the rest
        if (seg === null) {
          this.ended = true;
          this.push(null);
          return;
        }
        this.wanted = false;
        if (this.push(seg)) this.wanted = true;
      }
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  /**
   * Called by the generator before it moves on: stops the pump, discards what the consumer has not
   * taken, and settles the stream: ended if nothing was lost, destroyed (no error) if bytes were
   * discarded, so a late reader sees a premature close rather than a silently short part.
   */
  async finish(): Promise<void> {
    this.abandoned = true;
    while (this.pumping) await this.pumping;
    if (this.scanner.error !== undefined) throw this.scanner.error;
    if (this.ended) return;
    let discarded = 0;
    for (let seg = await this.scanner.nextSegment(); seg !== null; seg = await this.scanner.nextSegment()) {
      discarded += seg.length;
    }
    this.ended = true;
    if (discarded > 0 || this.destroyed) this.destroy();
    else this.push(null);
  }
}

/**
 * Reads a multipart/related body (RFC 2046 §5.1.1, RFC 2387; the STOW-RS request of PS3.18
 * §8.6.1.2) part by part, at flat memory.
 *
 * Each yielded part's `body` must be read to its end (or `part.body.resume()`d) to get its bytes;
 * asking for the next part first discards the rest of the current one (its stream is then
 * destroyed, without error, if bytes were lost). The source is pulled only as fast as the part
 * bodies are consumed. The preamble and the epilogue are ignored; the epilogue is drained so
 * that the source ends normally. A body that has a close delimiter but no part yields nothing.
 *
 * Errors are thrown from the generator and also destroy the current part's body with the same
 * error: MALFORMED_MULTIPART for a missing boundary, a truncated body or bad part headers;
 * PAYLOAD_TOO_LARGE for a part over `maxPartBytes` or more than `maxParts` parts. The source is
 * never destroyed or returned early by this reader: on an error, or when the consumer stops early,
 * the caller owns it (for an http.IncomingMessage: answer with `Connection: close`). The preamble
 * and epilogue are scanned at flat memory but not counted against any limit: bound the whole body
 * upstream (size and time). Part headers are decoded as latin1; Content-Transfer-Encoding and a
 * part Content-Length are not interpreted (DICOMweb parts are binary).
 *
 * @param body request bytes, e.g. an http.IncomingMessage (no setEncoding)
 * @param boundary from {@link boundaryFromContentType}
 */
export async function* readMultipart(
  body: AsyncIterable<Buffer | Uint8Array>,
  boundary: string,
  limits: MultipartLimits,
): AsyncGenerator<MultipartPart, void, undefined> {
  checkBoundary(boundary);
  const maxHeaderBytes = limits.maxHeaderBytes ?? 16 * 1024;
  for (const [name, v] of [['maxPartBytes', limits.maxPartBytes], ['maxParts', limits.maxParts], ['maxHeaderBytes', maxHeaderBytes]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`readMultipart: ${name} must be a non-negative integer`);
  }
  const scanner = new Scanner(body[Symbol.asyncIterator](), boundary, limits.maxPartBytes, maxHeaderBytes);
  let current: PartBody | null = null;
  try {
    await scanner.skipPreamble();
    for (;;) {
      if ((await scanner.afterDelimiter()) === 'close') {
        await scanner.drainEpilogue();
        return;
      }
      scanner.partIndex++;
      if (scanner.partIndex > limits.maxParts) {
        throw new LucidaError('PAYLOAD_TOO_LARGE', `more than ${limits.maxParts} parts`);
      }
      const headers = await scanner.readHeaders();
      scanner.beginPart();
      current = new PartBody(scanner);
      const part: MultipartPart = { headers, body: current };
      if (headers['content-type'] !== undefined) part.contentType = headers['content-type'];
      yield part;
      await current.finish();
      current = null;
    }
  } catch (err) {
    if (current && !current.destroyed) current.destroy(err as Error);
    throw err;
  }
}
