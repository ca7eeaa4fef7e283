import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsObjectStore } from './fs-object-store.js';
import { describeObjectStoreContract } from './object-store.contract.js';

const roots: string[] = [];
afterAll(async () => { await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))); });

describeObjectStoreContract('FsObjectStore', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lucida-store-'));
  roots.push(root);
  const store = new FsObjectStore(root);
  await store.init();
  return store;
});

describe('FsObjectStore specifics', () => {
  it('cleans temporary files left by a crash when initialised', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'lucida-store-'));
    roots.push(root);
    const first = new FsObjectStore(root);
    await first.init();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(root, '.tmp', 'left-by-crash'), 'partial');
    await new FsObjectStore(root).init();
    expect(await readdir(path.join(root, '.tmp'))).toEqual([]);
  });
});
