import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FaultyStore } from '../../../test/helpers/faulty-store.js';
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

/** The value of one labelled sample in the scrape text; undefined when the scrape has no such sample. */
async function sample(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const prefix = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}} `;
  const line = (await metrics.scrape()).split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('instrumentStore', () => {
  let faulty: FaultyStore;
  let metrics: Metrics;
  let store: ObjectStore;
  beforeEach(async () => {
    // Puts fail while `failures` > 0; every listing fails once it has yielded what the store holds.
    faulty = new FaultyStore(await fsStore(), { failListing: true });
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
    // Every operation's error count is there from the start, at 0 (metrics.ts), and stays there.
    for (const op of ['get', 'exists', 'delete', 'put', 'list']) expect(await errors(op)).toBe(0);
    for (const op of ['get', 'exists', 'delete']) expect(await timings(op)).toBe(1);
    expect(await timings('put')).toBeUndefined(); // no put yet: no sample
  });

  it('counts a listing that fails part way through', async () => {
    await store.put('b/one', Buffer.from('x'));
    const seen: string[] = [];
    await expect((async () => { for await (const o of store.list('b/')) seen.push(o.key); })()).rejects.toThrow('listing cut off');
    expect(seen).toEqual(['b/one']);
    expect(await errors('list')).toBe(1);
    expect(await timings('list')).toBeUndefined(); // a listing is a stream, not timed as one operation
  });

  it('shows the error count in the scrape text', async () => {
    faulty.failures = 2;
    for (let i = 0; i < 2; i++) await store.put(`c/${i}`, Buffer.from('x')).catch(() => {});
    expect(await metrics.scrape()).toContain('lucida_object_store_errors_total{operation="put"} 2');
  });
});
