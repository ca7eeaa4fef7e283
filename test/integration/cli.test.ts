/**
 * The one-command start: `lucida all` on embedded defaults prints its URLs, serves, issues tokens
 * with `lucida token`, lets `lucida migrate` and `audit-verify` work on its database meanwhile, and on
 * SIGTERM finishes, stops the queue and the embedded Postgres, exit 0.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

describe('lucida CLI', () => {
  let dataDir: string;
  beforeAll(async () => { dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-cli-')); });
  afterAll(async () => { await rm(dataDir, { recursive: true, force: true }); });

  it('starts API + worker on embedded defaults, serves with a CLI token, and shuts down cleanly on SIGTERM', async () => {
    const port = await freePort();
    const env = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'all'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    await waitFor(() => out, (o) => o.includes('DICOMweb base URL') || child.exitCode !== null, { timeoutMs: 60_000 });
    expect(out).toContain(`http://localhost:${port}/dicomweb`);
    expect(out).toContain('npm run token');
    expect(child.exitCode).toBeNull(); // still serving

    const { stdout: token } = await run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'token', '--role', 'clinician'], { env });
    const base = `http://127.0.0.1:${port}`;
    await request(base).get('/dicomweb/studies').set('Authorization', `Bearer ${token.trim()}`).expect(200);
    await request(base).get('/readyz').expect(200);

    // One-off commands on the same DATA_DIR use the embedded Postgres this server runs (a second
    // postmaster on its files would fail on their lock), and leave it running.
    const { stdout: migrated } = await run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'migrate'], { env });
    expect(migrated).toContain('database is up to date');
    const { stdout: verified } = await run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'audit-verify'], { env });
    expect(verified).toMatch(/^audit chain OK: [1-9]\d* events/);
    await request(base).get('/readyz').expect(200);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The embedded Postgres was stopped, not abandoned.
    await expect(stat(path.join(dataDir, 'pg', 'postmaster.pid'))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 90_000);

  it('refuses an unknown role and a bad configuration with a clear message and exit code 2', async () => {
    const env = { ...process.env, DATA_DIR: dataDir };
    await expect(run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'token', '--role', 'superuser'], { env }))
      .rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage: npm run token') });
    await expect(run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'all'], { env: { ...env, PORT: 'eighty' } }))
      .rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('PORT must be a whole number') });
  });
});
