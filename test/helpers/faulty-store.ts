/**
 * A real object store with injected failures, for the tests that are about the archive's own failure
 * (a full disk, an unreachable S3, a listing cut off), which cannot be provoked otherwise. Everything
 * else goes to the store it wraps, unchanged.
 */
import type { Readable } from 'node:stream';
import type { ByteRange, ObjectStore } from '../../services/core/storage/object-store.js';

export interface FaultyStoreOptions {
  /** Which puts may fail (default: every key). */
  failPut?: (key: string) => boolean;
  /** Every listing yields what the store holds, then fails (default: false). */
  failListing?: boolean;
  /**
   * A failing put writes the object first and then fails, as an S3 PUT whose answer was lost
   * (default: false: it fails before writing anything, as a full disk).
   */
  landBeforeFailing?: boolean;
}

export class FaultyStore implements ObjectStore {
  /** The next this many puts that `failPut` selects fail ("injected: disk full"); Infinity: all of them. */
  failures = 0;
  /** While true, every delete fails ("injected: store unavailable"). */
  failDeletes = false;

  constructor(private readonly inner: ObjectStore, private readonly options: FaultyStoreOptions = {}) {}

  async put(key: string, body: Buffer | Readable) {
    if (this.failures > 0 && (this.options.failPut?.(key) ?? true)) {
      this.failures--;
      if (!this.options.landBeforeFailing) throw new Error('injected: disk full');
      await this.inner.put(key, body);
      throw new Error('injected: connection reset after the body was sent');
    }
    return this.inner.put(key, body);
  }

  get(key: string, range?: ByteRange) { return this.inner.get(key, range); }
  async delete(key: string) {
    if (this.failDeletes) throw new Error('injected: store unavailable');
    return this.inner.delete(key);
  }
  exists(key: string) { return this.inner.exists(key); }

  async *list(prefix: string) {
    yield* this.inner.list(prefix);
    if (this.options.failListing) throw new Error('injected: listing cut off');
  }
}
