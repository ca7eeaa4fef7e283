/**
 * Crash safety (issue 6, item 4): an API process (`lucida serve`, a real child process) is killed
 * with SIGKILL while several clients run a STOW loop against it. Then `lucida serve` starts again on
 * the same database and DATA_DIR. Every instance acknowledged with 200 is found by QIDO-RS and
 * retrieved by WADO-RS byte for byte; the pending rows the killed process left (its stores in flight)
 * are removed by the new process's reconciliation pass at start, logged with counts, because their
 * owner process is dead (no waiting for PENDING_TIMEOUT_SECONDS); no pending row is left, and the
 * store holds no object that no row refers to.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../services/core/config.js';
import { loadOrCreateLocalKey, signLocalToken } from '../../services/core/auth/tokens.js';
import { newUid } from '../../services/core/dicom/index.js';
import { PostgresInventory } from '../../services/core/index/postgres-inventory.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { verifyStore } from '../../services/core/storage/verify-store.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/net.js';
import { readyAt, spawnLucida, type LucidaProcess } from '../helpers/processes.js';
import { multipartBody } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const CLIENTS = 6;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('SIGKILL of an API process during a STOW loop', () => {
  let db: TestDatabase;
  let dataDir: string;
  const processes: LucidaProcess[] = [];

  beforeAll(async () => {
    db = await startTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-crash-'));
  });
  afterAll(async () => {
    for (const p of processes) await p.kill('SIGKILL');
    await db?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const countPending = async () =>
    (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM instances WHERE status = 'pending'")).rows[0].n;

  it('loses no acknowledged instance; the next start removes what the killed process left', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_BASE_URL: url };
    const first = await spawnLucida({ name: 'crash-api-1', command: 'serve', env, ready: readyAt(url) });
    processes.push(first);
    const firstId = first.logged('process liveness lock taken')[0]?.processId;
    expect(firstId).toEqual(expect.any(String));

    // The API created the local signing key under DATA_DIR; any process on this DATA_DIR trusts it.
    const key = await loadOrCreateLocalKey(dataDir);
    const token = await signLocalToken(key, loadConfig(env).auth, { subject: 'crash-test', roles: ['epr'] });
    const auth = { Authorization: `Bearer ${token}` };
    // ~2 MB of incompressible JPEG: each store spends long enough writing its object to be caught mid-way.
    const jpeg = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .jpeg({ quality: 95 }).toBuffer();

    // The STOW loop: each client stores one or two new instances per request, in a study of its own.
    const sent = new Map<string, { study: string; series: string; sha256: string }>();
    const acknowledged = new Set<string>();
    const studies: string[] = [];
    let killed = false;
    const client = async (n: number) => {
      const study = newUid();
      const series = newUid();
      studies.push(study);
      for (let round = 0; !killed; round++) {
        const sops = Array.from({ length: 1 + ((n + round) % 2) }, () => newUid());
        const parts = await Promise.all(sops.map((sop) => makeVlPhoto({ studyUID: study, seriesUID: series, sopUID: sop, jpeg })));
        parts.forEach((p, i) => sent.set(sops[i], { study, series, sha256: sha256(p) }));
        const { body, contentType } = multipartBody(parts.map((p) => ({ contentType: 'application/dicom', body: p })));
        try {
          const res = await fetch(`${url}/dicomweb/studies`, {
            method: 'POST', body, headers: { ...auth, 'Content-Type': contentType, Accept: 'application/dicom+json' },
          });
          const text = await res.text();
          if (res.status === 200) for (const sop of sops) acknowledged.add(sop);
          else if (res.status !== 202 && res.status !== 409) throw new Error(`STOW answered ${res.status}: ${text.slice(0, 200)}`);
        } catch (err) {
          if (!killed) throw err; // a request cut by the kill has no answer: not acknowledged
        }
      }
    };
    const loop = Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));

    // Once some instances are acknowledged, kill the API the moment it has stores in flight: it is
    // frozen (SIGSTOP) when the index shows pending rows, so that what it leaves is known rather than
    // raced, then killed (SIGKILL) without any chance to clean up. If its last statements committed
    // everything while it froze, it runs on and we try again. (A pending row whose object is already
    // written is left too when the kill falls between rename and commit, a window too narrow to aim
    // at from here: liveness.test.ts covers that case.)
    expect(await waitFor(() => acknowledged.size, (n) => n >= 12, { timeoutMs: 30_000, intervalMs: 50 })).toBeGreaterThanOrEqual(12);
    const objects = new FsObjectStore(path.join(dataDir, 'objects'));
    const pendingRows = async () => (await db.pool.query<{ object_key: string; owner: string }>(
      "SELECT object_key, owner FROM instances WHERE status = 'pending'")).rows;
    const withObjects = async (rows: { object_key: string }[]) =>
      (await Promise.all(rows.map((r) => objects.exists(r.object_key)))).filter(Boolean).length;
    const pid = first.child.pid!;
    let frozen = false;
    for (let tries = 0; tries < 1000 && !frozen; tries++) {
      if (await countPending() === 0) continue;
      process.kill(pid, 'SIGSTOP');
      await sleep(100); // statements the server had already received finish
      frozen = await countPending() > 0;
      if (!frozen) process.kill(pid, 'SIGCONT');
    }
    killed = true;
    await first.kill('SIGKILL');
    await loop;
    const ackedAtKill = acknowledged.size;

    // What the killed process left: pending rows (all its own) and, for some, their objects.
    const left = await pendingRows();
    const leftObjects = await withObjects(left);
    expect(frozen).toBe(true);
    expect(left.length).toBeGreaterThan(0);
    expect(new Set(left.map((r) => r.owner))).toEqual(new Set([firstId]));

    // The next start: its reconciliation pass removes them at once (the owner is dead), before it serves.
    const second = await spawnLucida({ name: 'crash-api-2', command: 'serve', env, ready: readyAt(url) });
    processes.push(second);
    const [pass] = second.logged('reconciled abandoned stores');
    expect(pass).toMatchObject({ rowsRemoved: left.length, objectsDeleted: leftObjects, deadOwners: 1, failed: 0 });
    expect(await countPending()).toBe(0);

    // Every acknowledged instance: found by QIDO-RS, and retrieved by WADO-RS byte for byte.
    const found = new Set<string>();
    for (const study of studies) {
      const res = await fetch(`${url}/dicomweb/studies/${study}/instances`, { headers: { ...auth, Accept: 'application/dicom+json' } });
      if (res.status === 204) continue;
      expect(res.status).toBe(200);
      for (const m of await res.json() as { '00080018': { Value: string[] } }[]) found.add(m['00080018'].Value[0]);
    }
    const missing = [...acknowledged].filter((sop) => !found.has(sop));
    expect(missing).toEqual([]);
    for (const sop of acknowledged) {
      const { study, series, sha256: expected } = sent.get(sop)!;
      const res = await fetch(`${url}/dicomweb/studies/${study}/series/${series}/instances/${sop}`,
        { headers: { ...auth, Accept: 'application/dicom; transfer-syntax=*' } });
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(expected);
    }

    // The store holds exactly the indexed objects, whole (verify-store: size and SHA-256; the
    // temporary-file area aside).
    const check = await verifyStore(new PostgresInventory(db.pool), objects);
    expect(check).toMatchObject({ pendingRows: 0, missing: [], wrongSize: [], wrongHash: [], unexpected: [] });
    expect(check.ok).toBe(check.expected);
    expect(check.listed).toBe(check.expected);
    const orphans = check.unexpected;
    // The killed process's temporary files (half-written objects): removed at the next start too, as its
    // directory is named after it and it is dead (FsObjectStore.init).
    const tmpFiles = (await readdir(path.join(dataDir, 'objects', '.tmp'), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile()).length;
    expect(tmpFiles).toBe(0);

    console.log(`crash test: sent ${sent.size}, acknowledged ${ackedAtKill}, found ${[...acknowledged].filter((s) => found.has(s)).length}`
      + ` (+${found.size - acknowledged.size} stored but unacknowledged), pending rows left ${left.length} (${leftObjects} with objects),`
      + ` rows reclaimed ${String(pass.rowsRemoved)}, objects reclaimed ${String(pass.objectsDeleted)}, orphans ${orphans.length},`
      + ` temporary files left ${tmpFiles}`);
    await second.kill('SIGTERM');
  });
});
