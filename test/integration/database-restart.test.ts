/**
 * Postgres restarting under a running API process (issue 6, item 4): while the database is down,
 * QIDO-RS, WADO-RS and STOW-RS fail quickly with 503 problem+json (STOW: no instance acknowledged),
 * /readyz is 503, /healthz 200, and the process stays up (pg-boss and the liveness connection report
 * their errors in the log, they do not crash it). Once Postgres is back on the same data directory and
 * port, the same process serves again by itself, takes its liveness lock again, and stores new instances.
 * A host that stops answering instead (its backend frozen with SIGSTOP: sockets up, nothing said) is
 * bounded by the serving pool's query timeout, its connection dropped, and the pool serves on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../services/core/config.js';
import { loadOrCreateLocalKey, signLocalToken } from '../../services/core/auth/tokens.js';
import { createPool, startEmbeddedPostgres, type EmbeddedDatabase } from '../../services/core/index/database.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { freePort } from '../helpers/net.js';
import { readyAt, spawnLucida, type LucidaProcess } from '../helpers/processes.js';
import { multipartBody } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';
import type pg from 'pg';
import { newUid } from '../../services/core/dicom/index.js';

/** Longest a request may take to fail while the database is down. */
const FAIL_FAST_MS = 15_000;

describe('Postgres restarting under a running API process', () => {
  let pgDir: string;
  let dataDir: string;
  let pgPort: number;
  let database: EmbeddedDatabase | undefined;
  let api: LucidaProcess | undefined;

  beforeAll(async () => {
    pgDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-pgrestart-'));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-pgrestart-data-'));
    pgPort = await freePort();
    database = await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort });
  });
  afterAll(async () => {
    await api?.kill('SIGKILL');
    await database?.stop();
    await rm(pgDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('survives a pooled connection that dies while checked out (pg-pool stops listening to it then)', async () => {
    const pool = createPool(database!.url, 2);
    const admin = createPool(database!.url, 1);
    try {
      // Checked out between two statements (as in a transaction), when the server ends the session:
      // the client emits 'error' with no pool listener on it. Unheard, that ends the process (jest
      // reports it as an uncaught error and fails).
      const client = await pool.connect();
      const { rows: [{ pid }] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await sleep(300);
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
      await admin.end();
    }
  });

  describe('a database host that stops answering (vanished: failover, network cut), with a query timeout', () => {
    const TIMEOUT_MS = 500;
    /** Freezes (SIGSTOP) the backend serving `client`: its socket stays up, nothing answers, nothing is closed. */
    async function freeze(client: { query: pg.Pool['query'] }, admin: pg.Pool): Promise<() => void> {
      const { rows: [{ pid }] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      process.kill(pid, 'SIGSTOP');
      let thawed = false;
      const thaw = () => { if (!thawed) process.kill(pid, 'SIGCONT'); thawed = true; };
      thaws.push(thaw);
      expect((await admin.query('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount).toBe(1);
      return thaw;
    }
    const thaws: (() => void)[] = [];
    afterEach(() => { for (const thaw of thaws.splice(0)) thaw(); });

    it('fails a query in flight after the timeout, drops its connection, and serves the next on a new one', async () => {
      const pool = createPool(database!.url, 1, { queryTimeoutMs: TIMEOUT_MS });
      const admin = createPool(database!.url, 1);
      try {
        await freeze(pool, admin);
        const t = Date.now();
        await expect(pool.query('SELECT 1')).rejects.toThrow('Query read timeout');
        expect(Date.now() - t).toBeLessThan(TIMEOUT_MS + 1000);
        // The pool's one connection was the frozen one: the next query gets a new connection at once.
        const t2 = Date.now();
        expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect(Date.now() - t2).toBeLessThan(TIMEOUT_MS);
      } finally {
        await pool.end();
        await admin.end();
      }
    });

    it('in a transaction: the statement fails after the timeout, the ROLLBACK at once, and the client is not pooled again', async () => {
      const pool = createPool(database!.url, 1, { queryTimeoutMs: TIMEOUT_MS });
      const admin = createPool(database!.url, 1);
      try {
        const client = await pool.connect();
        await client.query('BEGIN');
        const thaw = await freeze(client, admin);
        const t = Date.now();
        await expect(client.query('SELECT 1')).rejects.toThrow('Query read timeout');
        // Not queued behind the unanswered statement for another timeout: the connection is closed.
        await expect(client.query('ROLLBACK')).rejects.toThrow();
        const failedMs = Date.now() - t;
        expect(failedMs).toBeLessThan(TIMEOUT_MS + 300);
        client.release(); // as the repositories do, without an error: the pool must discard it anyway
        const t2 = Date.now();
        expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect(Date.now() - t2).toBeLessThan(TIMEOUT_MS);
        expect(pool.totalCount).toBe(1);
        // Thawed, the backend finds its client gone and ends its session: the transaction is rolled back.
        thaw();
        expect(await waitFor(async () => (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")).rows[0].n,
          (n) => n === 0, { timeoutMs: 5000 })).toBe(0);
      } finally {
        await pool.end();
        await admin.end();
      }
    });

    it('has no timeout unless asked (migrations, one-off commands)', async () => {
      const pool = createPool(database!.url, 1);
      try {
        expect((await pool.query<{ slept: string }>("SELECT pg_sleep($1)::text AS slept", [(TIMEOUT_MS * 2) / 1000])).rows).toEqual([{ slept: '' }]);
      } finally {
        await pool.end();
      }
    });
  });

  it('answers 503 while the database is down, without hanging or dying, and recovers by itself', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { DATABASE_URL: database!.url, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_BASE_URL: url };
    api = await spawnLucida({ name: 'pg-restart-api', command: 'serve', env, ready: readyAt(url) });
    const token = await signLocalToken(await loadOrCreateLocalKey(dataDir), loadConfig(env).auth, { subject: 'restart-test', roles: ['epr'] });
    const auth = { Authorization: `Bearer ${token}` };

    const study = newUid();
    const series = newUid();
    const stow = async () => {
      const sop = newUid();
      const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: await makeVlPhoto({ studyUID: study, seriesUID: series, sopUID: sop }) }]);
      const res = await fetch(`${url}/dicomweb/studies`, { method: 'POST', body, headers: { ...auth, 'Content-Type': contentType, Accept: 'application/dicom+json' } });
      return { sop, res, body: await res.text() };
    };
    const qido = () => fetch(`${url}/dicomweb/studies/${study}/instances`, { headers: { ...auth, Accept: 'application/dicom+json' } });
    const stored = await stow();
    expect(stored.res.status).toBe(200);
    const wado = () => fetch(`${url}/dicomweb/studies/${study}/series/${series}/instances/${stored.sop}`,
      { headers: { ...auth, Accept: 'application/dicom; transfer-syntax=*' } });
    expect((await wado()).status).toBe(200);

    // Postgres stops (fast shutdown: every session is terminated).
    await database!.stop();
    database = undefined;
    const timed = async <T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> => {
      const t = Date.now();
      const value = await f();
      return { value, ms: Date.now() - t };
    };
    const down = {
      qido: await timed(qido), wado: await timed(wado), stow: await timed(stow), readyz: await timed(() => fetch(`${url}/readyz`)),
    };
    // The other reads that need the index: every one a quick 503 too.
    const instance = `/dicomweb/studies/${study}/series/${series}/instances/${stored.sop}`;
    const reads = [
      '/dicomweb/studies?PatientID=TEST0001', `/dicomweb/studies/${study}/metadata`, `${instance}/metadata`, `${instance}/frames/1`,
      `${instance}/rendered`, `/dicomweb/studies/${study}/thumbnail`, `/dicomweb/studies/${study}`,
      `/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${stored.sop}&contentType=application%2Fdicom`,
    ];
    const others = await Promise.all(reads.map((p) => timed(() => fetch(`${url}${p}`, { headers: { ...auth, Accept: '*/*' } }))));
    for (const { value: res, ms } of [down.qido, down.wado, down.readyz, ...others]) {
      expect({ url: res.url, status: res.status }).toEqual({ url: res.url, status: 503 });
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ code: 'UNAVAILABLE' });
      expect(ms).toBeLessThan(FAIL_FAST_MS);
    }
    // STOW: nothing acknowledged. Either the whole request is 503, or (PS3.18 §10.5.3) the instance
    // is in the Failed SOP Sequence with a processing failure or out-of-resources reason and 409.
    const { res: stowDown, body: stowBody } = down.stow.value;
    expect(down.stow.ms).toBeLessThan(FAIL_FAST_MS);
    let stowReason = '';
    if (stowDown.status === 503) {
      expect(stowDown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    } else {
      expect(stowDown.status).toBe(409);
      const reason = JSON.parse(stowBody)['00081198'].Value[0]['00081197'].Value[0] as number;
      expect([0x0110, 0xa700]).toContain(reason);
      stowReason = ` (failure reason 0x${reason.toString(16).padStart(4, '0')})`;
    }
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // A few seconds down: pg-boss polls and the liveness connection retries, and fail; the process stays.
    await sleep(3000);
    expect(api.child.exitCode).toBeNull();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // Postgres is back on the same files and port: the same process serves again without a restart.
    database = await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort });
    const back = Date.now();
    expect(await waitFor(async () => (await qido()).status, (s) => s === 200, { timeoutMs: 30_000, intervalMs: 250 })).toBe(200);
    const recoveredMs = Date.now() - back;
    expect(await waitFor(readyAt(url), (ok) => ok, { timeoutMs: 30_000, intervalMs: 250 })).toBe(true);
    const after = await stow();
    expect(after.res.status).toBe(200);
    const listed = await (await qido()).json() as { '00080018': { Value: string[] } }[];
    expect(listed.map((m) => m['00080018'].Value[0]).sort()).toEqual([stored.sop, after.sop].sort());
    expect(await waitFor(() => api!.logged('process liveness lock re-taken').length, (n) => n > 0, { timeoutMs: 15_000 })).toBe(1);
    expect(api.child.exitCode).toBeNull();

    console.log(`database restart: while down QIDO ${down.qido.value.status} in ${down.qido.ms} ms, WADO ${down.wado.value.status} in ${down.wado.ms} ms,`
      + ` STOW ${stowDown.status}${stowReason} in ${down.stow.ms} ms, ${reads.length} other reads 503 in at most ${Math.max(...others.map((o) => o.ms))} ms, readyz ${down.readyz.value.status} in ${down.readyz.ms} ms;`
      + ` serving again ${recoveredMs} ms after Postgres restarted; queue errors logged ${api.logged('queue error').length},`
      + ` liveness lost/re-taken ${api.logged('process liveness lock lost').length}/${api.logged('process liveness lock re-taken').length}`);
    await api.kill('SIGTERM');
    api = undefined;
  });
});
