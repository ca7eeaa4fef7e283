/**
 * verify-store: the index and the object store agree (every indexed object there, with the size and
 * SHA-256 recorded at ingest; nothing in the store the index does not account for), and each kind of
 * damage is reported by name. Through the core function and through `lucida verify-store`.
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { newUid } from '../../services/core/dicom/index.js';
import { PostgresInventory } from '../../services/core/index/postgres-inventory.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { storeIsWhole, verifyStore } from '../../services/core/storage/verify-store.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { postCapture, waitForCapture } from '../helpers/capture.js';
import { multipartBody, startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const PATIENT = { nhsNumber: '9434765919', name: { family: 'Store', given: ['Check'] }, sex: 'F' };

describe('verify-store', () => {
  let srv: TestServer;
  let store: FsObjectStore;
  let inventory: PostgresInventory;
  let objectsDir: string;
  const instanceKeys: string[] = [];
  let uploadKey: string;

  /** `lucida verify-store` against the test server's embedded Postgres and DATA_DIR. */
  const cli = async (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'verify-store', ...args], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: srv.config.dataDir,
      EMBEDDED_PG_PORT: String(srv.config.embeddedPostgresPort), LOG_LEVEL: 'silent',
    },
  }).then(({ stdout }) => ({ code: 0, stdout }), (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }));

  beforeAll(async () => {
    srv = await startTestServer({}, ['api', 'worker']);
    objectsDir = path.join(srv.config.dataDir, 'objects');
    store = new FsObjectStore(objectsDir);
    inventory = new PostgresInventory(srv.runtime.pool);
    const token = await srv.token('photographer');
    const parts = await Promise.all([1, 2, 3].map(() => makeVlPhoto({ studyUID: newUid(), seriesUID: newUid(), sopUID: newUid() })));
    const { body, contentType } = multipartBody(parts.map((p) => ({ contentType: 'application/dicom', body: p })));
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${token}`).set('Content-Type', contentType)
      .send(body).expect(200);
    const capture = await postCapture(srv.url, token, {
      patient: PATIENT, consent: { level: 'record', recordedBy: 'A Nurse' },
      groups: [{ bodySite: { code: '70559009' }, laterality: 'L' }],
    }, [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(202);
    expect((await waitForCapture(srv.url, token, capture.body.id)).status).toBe('stored');
    const { rows } = await srv.runtime.pool.query<{ object_key: string }>("SELECT object_key FROM instances WHERE status = 'stored' ORDER BY object_key");
    instanceKeys.push(...rows.map((r) => r.object_key));
    uploadKey = (await srv.runtime.pool.query('SELECT upload_key FROM capture_files')).rows[0].upload_key;
  }, 60_000);
  afterAll(async () => { await srv?.destroy(); });

  it('finds a whole archive whole, hashing every indexed object', async () => {
    expect(instanceKeys).toHaveLength(4);
    expect(uploadKey).toMatch(/^uploads\//);
    const report = await verifyStore(inventory, store);
    expect(report).toMatchObject({ expected: 5, ok: 5, hashed: true, missing: [], wrongSize: [], wrongHash: [], unexpected: [], pendingRows: 0 });
    // Instances, the kept original and the renditions made so far are all listed, and all accounted for.
    expect(report.listed).toBeGreaterThanOrEqual(5);
    expect(storeIsWhole(report)).toBe(true);
    const out = await cli();
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/5 of 5 indexed objects whole/);
  });

  it('reads the index a page at a time, every expected object exactly once', async () => {
    const keys: string[] = [];
    for await (const obj of inventory.expected(2)) keys.push(obj.key);
    expect(keys.sort()).toEqual([...instanceKeys, uploadKey].sort());
    // A page that ends exactly at the end of a table.
    const exact: string[] = [];
    for await (const obj of inventory.expected(4)) exact.push(obj.key);
    expect(exact.sort()).toEqual([...instanceKeys, uploadKey].sort());
  });

  it('names missing, resized, altered and unexpected objects, and exits 1', async () => {
    const [gone, grown, altered] = instanceKeys;
    await rm(path.join(objectsDir, gone));
    const grownSize = (await readFile(path.join(objectsDir, grown))).length;
    await appendFile(path.join(objectsDir, grown), Buffer.from([0]));
    const bytes = await readFile(path.join(objectsDir, altered));
    bytes[bytes.length - 3] ^= 0xff; // same size, other content
    await writeFile(path.join(objectsDir, altered), bytes);
    const upload = await readFile(path.join(objectsDir, uploadKey));
    upload[upload.length - 3] ^= 0xff;
    await writeFile(path.join(objectsDir, uploadKey), upload);
    // The last two look like kept uploads but are not (36 characters that are no UUID; an index beyond
    // int): unaccounted for, not a failed cast that ends the run.
    const strays = [`instances/1.2.3/4.5.6/${newUid()}.0a0b0c0d0e0f.dcm`, `derived/${newUid()}/thumbnail`, 'notes.txt',
      `uploads/${'-'.repeat(36)}/0`, `uploads/${uploadKey.split('/')[1]}/9999999999`];
    for (const key of strays) {
      await mkdir(path.dirname(path.join(objectsDir, key)), { recursive: true });
      await writeFile(path.join(objectsDir, key), 'stray');
    }

    const report = await verifyStore(inventory, store);
    expect(report.missing).toEqual([gone]);
    expect(report.wrongSize).toEqual([{ key: grown, expected: grownSize, actual: grownSize + 1 }]);
    expect(report.wrongHash).toEqual([altered, uploadKey].sort());
    expect(report.unexpected).toEqual([...strays].sort());
    expect(report.ok).toBe(1);
    expect(storeIsWhole(report)).toBe(false);

    // Sizes only: fast, and blind to content changes of the same size.
    const quick = await verifyStore(inventory, store, { hash: false });
    expect(quick).toMatchObject({ hashed: false, missing: [gone], wrongHash: [], ok: 3 });

    const out = await cli();
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(`missing: ${gone}`);
    expect(out.stdout).toContain(`unexpected: notes.txt`);
    const json = JSON.parse((await cli('--json')).stdout);
    expect(json).toMatchObject({ missing: [gone], unexpected: [...strays].sort() });
  });
});
