import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore } from './fs-object-store.js';
import { readObject } from './object-store.js';
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
  const newRoot = async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'lucida-store-'));
    roots.push(root);
    return root;
  };
  const tmpEntries = async (root: string) => (await readdir(path.join(root, '.tmp'))).sort();
  /** Makes a file or directory look untouched for two hours. */
  const age = async (p: string) => {
    const then = new Date(Date.now() - 2 * 3600_000);
    await utimes(p, then, then);
  };

  it('cleans temporary files left by a crash when initialised', async () => {
    const root = await newRoot();
    const first = new FsObjectStore(root);
    await first.init();
    const [firstDir] = await tmpEntries(root);
    // A crashed process's directory with its half-written file, one left in a live directory, and a
    // loose file of the layout before per-process directories: all untouched for two hours.
    const crashed = path.join(root, '.tmp', 'crashed-process');
    await mkdir(crashed);
    await writeFile(path.join(crashed, 'left-by-crash'), 'partial');
    await writeFile(path.join(root, '.tmp', firstDir, 'left-by-crash'), 'partial');
    await writeFile(path.join(root, '.tmp', 'left-by-crash'), 'partial');
    for (const p of [path.join(crashed, 'left-by-crash'), crashed, path.join(root, '.tmp', firstDir, 'left-by-crash'),
      path.join(root, '.tmp', 'left-by-crash')]) await age(p);

    await new FsObjectStore(root).init();
    const entries = await tmpEntries(root);
    expect(entries).not.toContain('crashed-process');
    expect(entries).not.toContain('left-by-crash');
    expect(await readdir(path.join(root, '.tmp', firstDir))).toEqual([]);
    expect(entries).toHaveLength(2); // the first store's directory (still in use) and the second's
    expect(entries).toContain(firstDir);
  });

  it('leaves the temporary files of another process sharing the root alone', async () => {
    const root = await newRoot();
    const serve = new FsObjectStore(root);
    await serve.init();
    // serve is streaming an upload in when the worker starts.
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => { finish = resolve; });
    const body = Readable.from((async function* () {
      yield Buffer.from('first half, ');
      await finished;
      yield Buffer.from('second half');
    })());
    const put = serve.put('instances/a.dcm', body);
    const [serveDir] = await tmpEntries(root);
    const inFlight = async () => readdir(path.join(root, '.tmp', serveDir));
    for (let i = 0; i < 100 && (await inFlight()).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await inFlight()).toHaveLength(1);

    const worker = new FsObjectStore(root);
    await worker.init();
    expect(await inFlight()).toHaveLength(1);
    finish();
    expect(await put).toEqual({ sizeBytes: 23 });
    expect((await readObject(worker, 'instances/a.dcm')).toString()).toBe('first half, second half');
    expect(await inFlight()).toEqual([]);
  });

  it('re-creates its temporary directory when another process removed it as stale', async () => {
    const root = await newRoot();
    const store = new FsObjectStore(root);
    await store.init();
    const [dir] = await tmpEntries(root);
    await age(path.join(root, '.tmp', dir));
    await new FsObjectStore(root).init(); // an idle, empty directory looks like a crashed process's
    expect(await tmpEntries(root)).not.toContain(dir);
    expect(await store.put('k/one.bin', Buffer.from('one'))).toEqual({ sizeBytes: 3 });
    expect((await stat(path.join(root, '.tmp', dir))).isDirectory()).toBe(true);
  });

  it('removes the temporary directory of a dead Lucida process at once, and keeps a live one\'s', async () => {
    const root = await newRoot();
    const [dead, alive, self] = [randomUUID(), randomUUID(), randomUUID()];
    const living = new Set<string>([alive, self]);
    const owner = (processId: string) => ({ processId, isAlive: async (id: string) => living.has(id) });
    // Two processes wrote half an object each, a minute ago (not stale by age); then one was killed.
    for (const id of [dead, alive]) {
      const dir = path.join(root, '.tmp', `p-${id}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'half-written'), 'partial');
    }
    const anonymous = path.join(root, '.tmp', randomUUID()); // a store with no process: the hour rule
    await mkdir(anonymous);
    await writeFile(path.join(anonymous, 'half-written'), 'partial');

    const store = new FsObjectStore(root, owner(self));
    await store.init();
    expect(await tmpEntries(root)).toEqual([`p-${alive}`, `p-${self}`, path.basename(anonymous)].sort());
    expect(await readdir(path.join(root, '.tmp', `p-${alive}`))).toEqual(['half-written']);
    expect(await store.put('k/three.bin', Buffer.from('three'))).toEqual({ sizeBytes: 5 });
  });

  it('puts without init() (a store opened only to write, as tests and tools do)', async () => {
    const root = await newRoot();
    expect(await new FsObjectStore(root).put('k/two.bin', Buffer.from('two'))).toEqual({ sizeBytes: 3 });
    expect(await new FsObjectStore(root).exists('k/two.bin')).toEqual({ sizeBytes: 3 });
  });
});
