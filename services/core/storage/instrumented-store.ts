/**
 * An ObjectStore decorator that measures the store it wraps: each operation's duration, and its
 * failures (lucida_object_store_errors_total). Behaviour is unchanged: every call, result and error
 * passes through. NOT_FOUND from get() is the store's answer that an object is absent, not an error.
 * Errors while a caller later reads a get()'s stream are not counted here: they cannot be told
 * apart from the caller giving up on the stream (a client closing its connection).
 */
import { isLucidaError } from '../errors.js';
import type { Metrics, StoreOperation } from '../metrics.js';
import type { ByteRange, ObjectStore, StoredObject } from './object-store.js';

type StoreMetrics = Pick<Metrics, 'storeOperation'>;

const isAbsent = (err: unknown) => isLucidaError(err) && err.code === 'NOT_FOUND';

export function instrumentStore(store: ObjectStore, metrics: StoreMetrics): ObjectStore {
  const timed = async <T>(operation: StoreOperation, run: () => Promise<T>): Promise<T> => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const result = await run();
      metrics.storeOperation(operation, seconds(), false);
      return result;
    } catch (err) {
      metrics.storeOperation(operation, seconds(), !isAbsent(err));
      throw err;
    }
  };
  return {
    put: (key, body) => timed('put', () => store.put(key, body)),
    get: (key, range?: ByteRange) => timed('get', () => store.get(key, range)),
    delete: (key) => timed('delete', () => store.delete(key)),
    exists: (key) => timed('exists', () => store.exists(key)),
    list: (prefix) => countedList(store.list(prefix), metrics),
  };
}

/** list() is a stream of keys: a failure may come at any page, so it is counted wherever it comes. */
async function* countedList(objects: AsyncIterable<StoredObject>, metrics: StoreMetrics): AsyncIterable<StoredObject> {
  try {
    yield* objects;
  } catch (err) {
    metrics.storeOperation('list', 0, true);
    throw err;
  }
}
