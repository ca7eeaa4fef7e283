/**
 * ObjectStore port: opaque keys to immutable byte objects. Kept deliberately small (Orthanc's
 * storage-area shape) so the S3 adapter drops in beside FsObjectStore.
 * Keys are relative paths of [A-Za-z0-9._-] segments separated by '/'.
 */
import type { Readable } from 'node:stream';
import { LucidaError } from '../errors.js';

/** Inclusive byte range, as in HTTP Range (RFC 9110 §14.1.2). `end` omitted = to the end. */
export interface ByteRange { start: number; end?: number }

export interface ObjectStore {
  /** Streams `body` into the object; the object appears whole and durable, or not at all. */
  put(key: string, body: Readable | Buffer): Promise<{ sizeBytes: number }>;
  /** The object's bytes (or a range of them). Throws LucidaError NOT_FOUND when absent. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes the object; removing an absent object is not an error. */
  delete(key: string): Promise<void>;
  /** Size of the object, or null when absent. */
  exists(key: string): Promise<{ sizeBytes: number } | null>;
  /**
   * Every object whose key starts with `prefix` ('' = all), in no particular order, streamed (an
   * archive holds millions). For bookkeeping (verify-store), never on a request's path.
   */
  list(prefix: string): AsyncIterable<StoredObject>;
}

export interface StoredObject { key: string; sizeBytes: number }

const KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function assertValidKey(key: string): void {
  if (!KEY.test(key) || key.split('/').some((s) => s === '.' || s === '..') || key.length > 1024) {
    throw new LucidaError('INTERNAL', `invalid object key`);
  }
}

/**
 * Collects a stream into one Buffer: only for bodies known to be bounded (one instance, one part).
 * With `maxBytes`, throws LucidaError PAYLOAD_TOO_LARGE as soon as more than that has arrived,
 * without reading the rest; `what` names the stream in that error.
 */
export async function readAll(stream: AsyncIterable<Buffer | Uint8Array>, maxBytes = Infinity, what = 'the body'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > maxBytes) throw new LucidaError('PAYLOAD_TOO_LARGE', `${what} is larger than ${maxBytes} bytes`);
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/** Reads a whole object into memory: only for objects known to be bounded (one instance, a thumbnail). */
export async function readObject(store: ObjectStore, key: string): Promise<Buffer> {
  return readAll(await store.get(key));
}

/**
 * Object keys: one place decides the layout. UIDs are validated before they get here.
 * An instance key carries a random suffix per store attempt, so an abandoned attempt's object is
 * never the same object as a later attempt's: reconciliation can delete it without a race.
 */
export const objectKeys = {
  instance: (study: string, series: string, sop: string, attempt: string) => `instances/${study}/${series}/${sop}.${attempt}.dcm`,
  derivative: (sop: string, variant: string) => `derived/${sop}/${variant}`,
  /** An original photograph as uploaded (provenance; admins only). */
  upload: (captureId: string, fileIndex: number) => `uploads/${captureId}/${fileIndex}`,
};
