/**
 * S3ObjectStore against a real S3 server on loopback (s3rver; production runs MinIO): the storage
 * contract, then what only S3 has: the bucket at start, how bodies are sent (one PUT, or parts
 * holding one part in memory), aborted uploads, and a store that is down, hangs or answers 5xx.
 */
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { jest } from '@jest/globals';
import { Client } from 'minio';
import { loadConfig, ConfigError } from '../config.js';
import { startS3Server, type TestS3Server } from '../../../test/helpers/s3.js';
import { freePort } from '../../../test/helpers/net.js';
import { readObject } from './object-store.js';
import { describeObjectStoreContract } from './object-store.contract.js';
import { S3ObjectStore, type S3Settings } from './s3-object-store.js';

const MiB = 1024 * 1024;
let server: Promise<TestS3Server> | undefined;
const s3 = () => (server ??= startS3Server());
afterAll(async () => { await (await server)?.destroy(); });

/** The store's settings as loadConfig makes them from S3_* variables, with 5 MiB parts (S3's smallest). */
const settings = async (bucket: string, env: Record<string, string> = {}): Promise<S3Settings> =>
  loadConfig({ ...(await s3()).env(bucket), S3_CREATE_BUCKET: 'true', S3_PART_SIZE_MB: '5', ...env }).s3!;

const openStore = async (bucket: string, env: Record<string, string> = {}) => {
  const store = new S3ObjectStore(await settings(bucket, env));
  await store.init();
  return store;
};

/** A second S3 client, to look at the bucket the way an operator would. */
const inspector = async () => {
  const { port, accessKey, secretKey } = await s3();
  return new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey, secretKey, region: 'us-east-1', pathStyle: true });
};

describeObjectStoreContract('S3ObjectStore on s3rver', () => openStore('contract'));

describe('S3ObjectStore specifics', () => {
  it('refuses to start when its bucket is missing and S3_CREATE_BUCKET is false; creates it when true', async () => {
    const refused = new S3ObjectStore(await settings('created-at-start', { S3_CREATE_BUCKET: 'false' })).init();
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(/"created-at-start" \(S3_BUCKET\) does not exist.*S3_CREATE_BUCKET=true/);
    const client = await inspector();
    expect(await client.bucketExists('created-at-start')).toBe(false);

    const store = await openStore('created-at-start');
    expect(await client.bucketExists('created-at-start')).toBe(true);
    await store.put('k/one.bin', Buffer.from('one'));
    // A second process starting on the same bucket, creation allowed or not.
    await openStore('created-at-start');
    await new S3ObjectStore(await settings('created-at-start', { S3_CREATE_BUCKET: 'false' })).init();
    expect((await readObject(store, 'k/one.bin')).toString()).toBe('one');
  });

  it('refuses to start with credentials the store rejects, naming the variables but never the secret', async () => {
    // s3rver checks access key ids (not signatures, which only MinIO checks): a wrong key id, and a secret to look for.
    const secret = 'not-the-secret-3f9a1c';
    const err = await new S3ObjectStore(await settings('contract', { S3_ACCESS_KEY: 'NOT-A-KEY', S3_SECRET_KEY: secret })).init()
      .catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/S3_ACCESS_KEY, S3_SECRET_KEY/);
    expect(JSON.stringify({ ...err, message: err.message, stack: err.stack })).not.toContain(secret);
  });

  it('sends a body that fits in one part as one PUT, and a longer one in parts, holding one part at a time', async () => {
    const { requests } = await s3();
    const store = await openStore('contract');
    const sent = () => requests.splice(0).filter((r) => r.path.startsWith('/contract/sizes/'))
      .map((r) => `${r.method} ${Object.keys(r.query).sort().join('&')}`.trim());
    requests.splice(0);
    await store.put('sizes/small.bin', Buffer.alloc(5 * MiB - 1));
    await store.put('sizes/small-stream.bin', Readable.from([Buffer.alloc(3 * MiB), Buffer.alloc(2 * MiB - 1)]));
    expect(sent()).toEqual(['PUT', 'PUT']);

    // 12 MiB of unknown length: parts of 5, 5 and 2 MiB. Each chunk is read only when asked for; at
    // no time may more than one part (plus the chunk being read) have been read ahead of the parts
    // the server has seen begin.
    let read = 0;
    let mostAhead = 0;
    const partsBegun = () => requests.filter((r) => r.method === 'PUT' && 'partNumber' in r.query).length;
    const body = Readable.from((function* () {
      for (let i = 0; i < 12 * 16; i++) {
        read += 64 * 1024;
        mostAhead = Math.max(mostAhead, read - partsBegun() * 5 * MiB);
        yield Buffer.alloc(64 * 1024, i);
      }
    })(), { highWaterMark: 1 });
    expect(await store.put('sizes/large.bin', body)).toEqual({ sizeBytes: 12 * MiB });
    expect(mostAhead).toBeLessThanOrEqual(5 * MiB + 64 * 1024);
    expect(sent()).toEqual(['POST uploads', 'PUT partNumber&uploadId', 'PUT partNumber&uploadId', 'PUT partNumber&uploadId', 'POST uploadId']);
    expect(await store.exists('sizes/large.bin')).toEqual({ sizeBytes: 12 * MiB });
    requests.splice(0);

    // Exactly one part's worth: the end is only known after it, so a multipart upload of one part.
    expect(await store.put('sizes/one-part.bin', Readable.from([Buffer.alloc(5 * MiB, 7)]))).toEqual({ sizeBytes: 5 * MiB });
    expect(sent()).toEqual(['POST uploads', 'PUT partNumber&uploadId', 'POST uploadId']);
    expect((await readObject(store, 'sizes/one-part.bin')).equals(Buffer.alloc(5 * MiB, 7))).toBe(true);
  });

  it('aborts the multipart upload of a body that fails: no object, no parts left in the bucket', async () => {
    const store = await openStore('contract');
    const client = await inspector();
    const incomplete = async () => (await client.listIncompleteUploadsQuery('contract', 'broken/', '', '', '')).uploads.map((u) => u.key);
    // The measure itself: an upload begun and not finished is listed until it is aborted.
    const id = await client.initiateNewMultipartUpload('contract', 'broken/probe.bin', {});
    expect(await incomplete()).toEqual(['broken/probe.bin']);
    await client.abortMultipartUpload('contract', 'broken/probe.bin', id);
    expect(await incomplete()).toEqual([]);

    let chunks = 0;
    const failing = new Readable({
      read() {
        // Two parts' worth go up (a part is on the server), then the client goes away.
        if (++chunks <= 11) this.push(Buffer.alloc(MiB, chunks));
        else this.destroy(new Error('client went away'));
      },
    });
    await expect(store.put('broken/multipart.bin', failing)).rejects.toThrow('client went away');
    expect(await store.exists('broken/multipart.bin')).toBeNull();
    expect(await incomplete()).toEqual([]);
  });

  describe('a store that cannot serve: UNAVAILABLE (503), not a 500 and not a hang', () => {
    const unavailable = { code: 'UNAVAILABLE', message: 'object store unreachable' };
    const everyOperation = async (store: S3ObjectStore) => {
      await expect(store.get('a/b.bin')).rejects.toMatchObject(unavailable);
      await expect(store.get('a/b.bin', { start: 1, end: 2 })).rejects.toMatchObject(unavailable);
      await expect(store.exists('a/b.bin')).rejects.toMatchObject(unavailable);
      await expect(store.put('a/b.bin', Buffer.from('x'))).rejects.toMatchObject(unavailable);
      await expect(store.put('a/b.bin', Readable.from([Buffer.alloc(6 * MiB)]))).rejects.toMatchObject(unavailable);
      await expect(store.delete('a/b.bin')).rejects.toMatchObject(unavailable);
      await expect((async () => { for await (const o of store.list('')) void o; })()).rejects.toMatchObject(unavailable);
    };
    const storeAt = async (port: number, idleMs = 30_000) =>
      new S3ObjectStore({ ...(await settings('contract')), endpoint: `http://127.0.0.1:${port}` }, { timeouts: { idleMs } });

    it('nothing listening: every operation, and start-up with a message naming S3_ENDPOINT', async () => {
      const port = await freePort();
      const store = await storeAt(port);
      await everyOperation(store);
      await expect(store.init()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(`127.0.0.1:${port} \\(S3_ENDPOINT\\)`) });
    });

    it('a store that accepts connections and never answers: given up after the idle deadline', async () => {
      const sockets = new Set<net.Socket>();
      const blackHole = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
      try {
        const store = await storeAt((blackHole.address() as net.AddressInfo).port, 300);
        const started = Date.now();
        await expect(store.exists('a/b.bin')).rejects.toMatchObject(unavailable);
        await expect(store.get('a/b.bin')).rejects.toMatchObject(unavailable);
        expect(Date.now() - started).toBeLessThan(3_000);
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => blackHole.close(resolve));
      }
    });

    it('a store answering 500 and 503: without retries printed to the console', async () => {
      for (const status of [500, 503]) {
        const failing = http.createServer((req, res) => { req.resume(); res.writeHead(status).end(); });
        const warn = jest.spyOn(console, 'warn');
        try {
          await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
          await everyOperation(await storeAt((failing.address() as net.AddressInfo).port));
          expect(warn).not.toHaveBeenCalled();
        } finally {
          warn.mockRestore();
          failing.closeAllConnections();
          await new Promise((resolve) => failing.close(resolve));
        }
      }
    });
  });
});
