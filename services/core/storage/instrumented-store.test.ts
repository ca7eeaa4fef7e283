import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { testLogger } from '../../../test/helpers/server.js';
import { Metrics } from '../metrics.js';
import { FsObjectStore } from './fs-object-store.js';
import { instrumentStore } from './instrumented-store.js';
import { describeObjectStoreContract } from './object-store.contract.js';
import type { ObjectStore } from './object-store.js';

const roots: string[] = [];
afterAll(async () => { await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))); });
const { log } = testLogger('silent');

async function fsStore(): Promise<FsObjectStore> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lucida-instrumented-'));
  roots.push(root);
  const store = new FsObjectStore(root);
  await store.init();
  return store;
}

// The decorator changes nothing a caller can see: the whole contract holds through it.
describeObjectStoreContract('FsObjectStore through instrumentStore', async () => instrumentStore(await fsStore(), new Metrics(log)));

/** A filesystem store whose puts fail while `failures` > 0, and whose listing fails half way. */
class FaultyStore implements ObjectStore {
  failures = 0;
  constructor(private readonly inner: FsObjectStore) {}
  async put(key: string, body: Buffer | Readable) {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('injected: disk full');
    }
    return this.inner.put(key, body);
  }
  get(key: string, range?: { start: number; end?: number }) { return this.inner.get(key, range); }
  delete(key: string) { return this.inner.delete(key); }
  exists(key: string) { return this.inner.exists(key); }
  async *list(prefix: string) {
    yield* this.inner.list(prefix);
    throw new Error('injected: listing cut off');
  }
}

/** The value of one labelled sample in the scrape text, 0 when absent. */
async function sample(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const prefix = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}} `;
  const line = (await metrics.scrape()).split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

describe('instrumentStore', () => {
  let faulty: FaultyStore;
  let metrics: Metrics;
  let store: ObjectStore;
  beforeEach(async () => {
    faulty = new FaultyStore(await fsStore());
    metrics = new Metrics(log);
    store = instrumentStore(faulty, metrics);
  });
  const errors = (operation: string) => sample(metrics, 'lucida_object_store_errors_total', { operation });
  const timings = (operation: string) => sample(metrics, 'lucida_object_store_operation_duration_seconds_count', { operation });

  it('counts a failed put as a store error, passes the error on, and times every put', async () => {
    faulty.failures = 1;
    await expect(store.put('a/one', Buffer.from('x'))).rejects.toThrow('injected: disk full');
    await store.put('a/one', Buffer.from('x'));
    expect(await errors('put')).toBe(1);
    expect(await timings('put')).toBe(2);
  });

  it('does not count an absent object (NOT_FOUND) or a successful operation as an error', async () => {
    await expect(store.get('no/such')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.exists('no/such')).toBeNull();
    await store.delete('no/such');
    for (const op of ['get', 'exists', 'delete', 'put']) expect(await errors(op)).toBe(0);
    expect(await timings('get')).toBe(1);
  });

  it('counts a listing that fails part way through', async () => {
    await store.put('b/one', Buffer.from('x'));
    const seen: string[] = [];
    await expect((async () => { for await (const o of store.list('b/')) seen.push(o.key); })()).rejects.toThrow('listing cut off');
    expect(seen).toEqual(['b/one']);
    expect(await errors('list')).toBe(1);
  });

  it('shows the error count in the scrape text', async () => {
    faulty.failures = 2;
    for (let i = 0; i < 2; i++) await store.put(`c/${i}`, Buffer.from('x')).catch(() => {});
    expect(await metrics.scrape()).toContain('lucida_object_store_errors_total{operation="put"} 2');
  });
});
