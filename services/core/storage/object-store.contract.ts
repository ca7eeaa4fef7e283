/**
 * The storage contract every ObjectStore adapter must pass: run by fs-object-store.test.ts and by
 * s3-object-store.test.ts (on s3rver, with 5 MiB multipart parts: the sizes below cross them).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { readAll, readObject, type ObjectStore } from './object-store.js';

export function describeObjectStoreContract(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => { store = await makeStore(); });

    it('round-trips a buffer byte for byte and reports its size', async () => {
      const data = randomBytes(100_003);
      expect(await store.put('a/b/one.bin', data)).toEqual({ sizeBytes: data.length });
      expect((await readObject(store, 'a/b/one.bin')).equals(data)).toBe(true);
      expect(await store.exists('a/b/one.bin')).toEqual({ sizeBytes: data.length });
    });

    it('streams a large body of unknown length in and out (8 MiB)', async () => {
      const hash = createHash('sha256');
      let sent = 0;
      const body = Readable.from((function* () {
        for (let i = 0; i < 128; i++) {
          const chunk = randomBytes(64 * 1024);
          hash.update(chunk);
          sent += chunk.length;
          yield chunk;
        }
      })());
      expect(await store.put('big/stream.bin', body)).toEqual({ sizeBytes: 8 * 1024 * 1024 });
      const back = await readAll(await store.get('big/stream.bin'));
      expect(back.length).toBe(sent);
      expect(createHash('sha256').update(back).digest('hex')).toBe(hash.digest('hex'));
    });

    it('streams 12 MiB of unknown length in (several 5 MiB parts on S3) and reads ranges across the part boundaries', async () => {
      const MiB = 1024 * 1024;
      const data = randomBytes(12 * MiB + 12_345);
      // Chunks of an awkward size, so that no part boundary falls on a chunk boundary.
      const body = Readable.from((function* () {
        for (let at = 0; at < data.length; at += 100_000) yield data.subarray(at, at + 100_000);
      })());
      expect(await store.put('big/parts.bin', body)).toEqual({ sizeBytes: data.length });
      expect(await store.exists('big/parts.bin')).toEqual({ sizeBytes: data.length });
      const range = async (start: number, end?: number) => readAll(await store.get('big/parts.bin', { start, end }));
      expect((await range(5 * MiB - 10, 5 * MiB + 9)).equals(data.subarray(5 * MiB - 10, 5 * MiB + 10))).toBe(true);
      expect((await range(0, 10 * MiB)).equals(data.subarray(0, 10 * MiB + 1))).toBe(true);
      expect((await range(10 * MiB - 3)).equals(data.subarray(10 * MiB - 3))).toBe(true);
      expect((await range(data.length - 1)).equals(data.subarray(data.length - 1))).toBe(true);
      expect(createHash('sha256').update(await readAll(await store.get('big/parts.bin'))).digest('hex'))
        .toBe(createHash('sha256').update(data).digest('hex'));
    });

    it('stores an empty body, given as a buffer or as a stream', async () => {
      expect(await store.put('empty/buffer.bin', Buffer.alloc(0))).toEqual({ sizeBytes: 0 });
      expect(await store.put('empty/stream.bin', Readable.from([]))).toEqual({ sizeBytes: 0 });
      for (const key of ['empty/buffer.bin', 'empty/stream.bin']) {
        expect(await store.exists(key)).toEqual({ sizeBytes: 0 });
        expect((await readObject(store, key)).length).toBe(0);
      }
    });

    it('reads inclusive byte ranges, including an open-ended one', async () => {
      const data = Buffer.from('0123456789abcdef');
      await store.put('range/r.bin', data);
      expect((await readAll(await store.get('range/r.bin', { start: 2, end: 5 }))).toString()).toBe('2345');
      expect((await readAll(await store.get('range/r.bin', { start: 10 }))).toString()).toBe('abcdef');
    });

    it('replaces an object atomically on a second put', async () => {
      await store.put('replace/x.bin', Buffer.from('first'));
      await store.put('replace/x.bin', Buffer.from('second'));
      expect((await readObject(store, 'replace/x.bin')).toString()).toBe('second');
    });

    it('leaves nothing behind when the body stream fails', async () => {
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(1000));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(store.put('broken/never.bin', failing)).rejects.toThrow('client went away');
      expect(await store.exists('broken/never.bin')).toBeNull();
    });

    it('answers NOT_FOUND for a missing object and null from exists; delete is idempotent', async () => {
      await expect(store.get('missing/none.bin')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.exists('missing/none.bin')).toBeNull();
      await store.put('del/d.bin', Buffer.from('x'));
      await store.delete('del/d.bin');
      await store.delete('del/d.bin');
      expect(await store.exists('del/d.bin')).toBeNull();
    });

    it('lists the objects under a prefix with their sizes, and nothing of a failed put', async () => {
      await store.put('list/a/one.bin', Buffer.from('1'));
      await store.put('list/a/two.bin', Buffer.from('22'));
      await store.put('list/b/three.bin', Buffer.from('333'));
      await store.put('listing-not-under/x.bin', Buffer.from('x'));
      const listed = async (prefix: string) => {
        const out: [string, number][] = [];
        for await (const o of store.list(prefix)) out.push([o.key, o.sizeBytes]);
        return out.sort(([a], [b]) => a.localeCompare(b));
      };
      expect(await listed('list/')).toEqual([['list/a/one.bin', 1], ['list/a/two.bin', 2], ['list/b/three.bin', 3]]);
      expect(await listed('list/a/')).toEqual([['list/a/one.bin', 1], ['list/a/two.bin', 2]]);
      expect(await listed('nothing-here/')).toEqual([]);
      const all = (await listed('')).map(([k]) => k);
      expect(all).toEqual(expect.arrayContaining(['list/a/one.bin', 'listing-not-under/x.bin', 'a/b/one.bin']));
      expect(all.filter((k) => k.startsWith('broken/'))).toEqual([]);
    });

    it('refuses keys that could escape the store', async () => {
      await expect(store.put('../escape.bin', Buffer.from('x'))).rejects.toMatchObject({ code: 'INTERNAL' });
      await expect(store.get('a/../../etc/passwd')).rejects.toMatchObject({ code: 'INTERNAL' });
    });
  });
}
