/**
 * S3 ObjectStore: MinIO in production, any S3-compatible store, through the `minio` client.
 *
 * put() streams: a body that ends within one part (S3_PART_SIZE_MB) is sent as one PUT; a longer
 * one (a Buffer too) as a multipart upload, read from the body only as fast as parts go up: one
 * part in memory at a time, briefly two while the chunks read are joined into the next. S3 makes
 * an object visible only when its PUT or CompleteMultipartUpload succeeds, so the object appears
 * whole or not at all; a put that fails (its body stream failing included) aborts its multipart
 * upload. An upload that cannot be aborted (the store went away meanwhile) is left to the bucket's
 * lifecycle rule (AbortIncompleteMultipartUpload, see the README). minio's own putObject() is used
 * only for single PUTs. For longer bodies (minio 8.0.7, tried on s3rver) it resumes any incomplete
 * upload of the same key (another process's included), and a body that fails leaves its promise
 * pending for ever, its error uncaught (which ends a Node process) and its upload never aborted.
 *
 * A store that cannot be reached, does not answer in time or answers 5xx is LucidaError
 * UNAVAILABLE (503: clients retry), never a 500 and never a hang (s3-transport.ts).
 * The secret key is given to the client and nowhere else: no message or log line carries it.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Client, S3Error } from 'minio';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import { LucidaError, isLucidaError } from '../errors.js';
import { assertValidKey, type ByteRange, type ObjectStore, type StoredObject } from './object-store.js';
import { DEFAULT_S3_TIMEOUTS, S3_SERVER_UNAVAILABLE, guardedTransport, type S3Timeouts } from './s3-transport.js';

export type S3Settings = NonNullable<Config['s3']>;

export interface S3StoreOptions {
  log?: Logger;
  timeouts?: Partial<S3Timeouts>;
}

export class S3ObjectStore implements ObjectStore {
  private readonly client: Client;
  private readonly bucket: string;
  private readonly partSize: number;
  /** host:port, for messages (the endpoint may not carry credentials, but only this is shown). */
  private readonly where: string;

  constructor(private readonly settings: S3Settings, private readonly options: S3StoreOptions = {}) {
    const url = new URL(settings.endpoint);
    this.bucket = settings.bucket;
    this.partSize = settings.partSizeBytes;
    this.where = url.host;
    const useSSL = url.protocol === 'https:';
    this.client = new Client({
      endPoint: url.hostname.replace(/^\[(.*)\]$/, '$1'), // an IPv6 literal without its brackets
      port: url.port ? Number(url.port) : (useSSL ? 443 : 80),
      useSSL,
      accessKey: settings.accessKey,
      secretKey: settings.secretKey,
      region: settings.region,
      pathStyle: settings.pathStyle,
      partSize: settings.partSizeBytes,
      transport: guardedTransport(url.protocol, { ...DEFAULT_S3_TIMEOUTS, ...options.timeouts }),
      // Retries are the caller's business (a 503 tells the client to retry); minio's would also
      // print to the console.
      retryOptions: { disableRetry: true },
    });
  }

  /**
   * Checks that the bucket exists, creating it when S3_CREATE_BUCKET allows. Fails start-up with a
   * message naming the variable to change.
   */
  async init(): Promise<void> {
    const { bucket, createBucket, region } = this.settings;
    if (await this.startUp(() => this.client.bucketExists(bucket))) return;
    if (!createBucket) {
      throw new ConfigError(`the S3 bucket "${bucket}" (S3_BUCKET) does not exist at ${this.where}: create it, `
        + 'or set S3_CREATE_BUCKET=true to let Lucida create it');
    }
    try {
      await this.startUp(() => this.client.makeBucket(bucket, region));
      this.options.log?.info({ bucket, endpoint: this.where }, 'object store bucket created');
    } catch (err) {
      // Another process starting at the same moment created it first.
      if (!(await this.startUp(() => this.client.bucketExists(bucket)))) throw err;
    }
  }

  /** Start-up errors in the operator's terms: which variable to look at. */
  private async startUp<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isUnreachable(err)) {
        throw new LucidaError('UNAVAILABLE', `object store unreachable at ${this.where} (S3_ENDPOINT): ${summarise(err)}`);
      }
      if (err instanceof S3Error && CREDENTIAL_ERRORS.has(err.code ?? '')) {
        throw new ConfigError(`the object store at ${this.where} refused the request (${err.code}): check S3_ACCESS_KEY, `
          + 'S3_SECRET_KEY and what that user may do with the bucket');
      }
      throw err;
    }
  }

  async put(key: string, body: Readable | Buffer): Promise<{ sizeBytes: number }> {
    assertValidKey(key);
    let uploadId: string | undefined;
    const parts: { part: number; etag: string }[] = [];
    let sizeBytes = 0;
    try {
      for await (const part of partsOf(Buffer.isBuffer(body) ? [body] : body, this.partSize)) {
        if (uploadId === undefined && part.length < this.partSize) {
          // The whole body fitted in one part: a single PUT.
          await this.call(() => this.client.putObject(this.bucket, key, part, part.length));
          return { sizeBytes: part.length };
        }
        if (part.length === 0) continue; // the end, just after a full part
        uploadId ??= await this.call(() => this.client.initiateNewMultipartUpload(this.bucket, key, {}));
        const uploaded = await this.call(() => this.client.uploadPart({
          bucketName: this.bucket, objectName: key, uploadID: uploadId!, partNumber: parts.length + 1,
          headers: { 'Content-MD5': createHash('md5').update(part).digest('base64') },
        }, part));
        parts.push({ part: uploaded.part, etag: uploaded.etag });
        sizeBytes += part.length;
      }
      await this.call(() => this.client.completeMultipartUpload(this.bucket, key, uploadId!, parts));
      return { sizeBytes };
    } catch (err) {
      if (uploadId !== undefined) await this.abort(key, uploadId);
      throw err; // the body's own error as it was, or the store's mapped by call()
    }
  }

  private async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.abortMultipartUpload(this.bucket, key, uploadId);
    } catch (err) {
      this.options.log?.warn({ err: summarise(err), key, uploadId },
        'could not abort a failed multipart upload: the bucket lifecycle rule will remove its parts');
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    try {
      if (!range) return await this.call(() => this.client.getObject(this.bucket, key));
      // minio: length 0 = to the end of the object.
      const length = range.end === undefined ? 0 : range.end - range.start + 1;
      return await this.call(() => this.client.getPartialObject(this.bucket, key, range.start, length));
    } catch (err) {
      if (isAbsent(err)) throw new LucidaError('NOT_FOUND', 'object not found');
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      // S3 answers 204 for an absent key as well.
      await this.call(() => this.client.removeObject(this.bucket, key));
    } catch (err) {
      if (!isAbsent(err)) throw err;
    }
  }

  async exists(key: string): Promise<{ sizeBytes: number } | null> {
    assertValidKey(key);
    try {
      const stat = await this.call(() => this.client.statObject(this.bucket, key));
      return { sizeBytes: stat.size };
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  }

  /** ListObjectsV2, a page (1,000 keys) at a time as the caller reads. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    const objects = this.client.listObjectsV2(this.bucket, prefix, true);
    try {
      for await (const item of objects as AsyncIterable<{ name?: string; size: number }>) {
        if (item.name !== undefined) yield { key: item.name, sizeBytes: item.size };
      }
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Runs one S3 request; a store that cannot serve becomes UNAVAILABLE. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.failure(err);
    }
  }

  private failure(err: unknown): unknown {
    if (isLucidaError(err) || !isUnreachable(err)) return err;
    const unavailable = new LucidaError('UNAVAILABLE', 'object store unreachable');
    unavailable.cause = err; // for the log line, never the response
    return unavailable;
  }
}

/** S3 error codes for "no such object". HEAD (statObject) has no body, hence minio's 'NotFound'. */
const ABSENT = new Set(['NoSuchKey', 'NotFound']);
const isAbsent = (err: unknown) => err instanceof S3Error && ABSENT.has(err.code ?? '');

const CREDENTIAL_ERRORS = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch']);

/** Connection failures (Node's socket errors) and the transport's deadlines and 5xx answers. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', S3_SERVER_UNAVAILABLE,
]);

function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; errors?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  // Node tries every address of a host name (IPv6 and IPv4) and reports an AggregateError.
  return Array.isArray(e.errors) && e.errors.some(isUnreachable);
}

/** The error's code and message for a start-up message or log: no stack, no request. */
function summarise(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return [e?.code, e?.message].filter((x) => typeof x === 'string' && x).join(': ') || String(err);
}

/**
 * Cuts a body into parts of exactly `size` bytes, then yields what is left: a last part shorter
 * than `size`, possibly empty. Holds at most one part (plus one incoming chunk) in memory.
 */
async function* partsOf(body: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const take = (bytes: number) => {
    const part = held.length === 1 ? held[0] : Buffer.concat(held, bytes); // one chunk: no copy
    held = [];
    heldBytes = 0;
    return part;
  };
  for await (const chunk of body) {
    let rest = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (heldBytes + rest.length >= size) {
      const fill = size - heldBytes;
      held.push(rest.subarray(0, fill));
      rest = rest.subarray(fill);
      yield take(size);
    }
    if (rest.length) {
      held.push(rest);
      heldBytes += rest.length;
    }
  }
  yield take(heldBytes);
}
