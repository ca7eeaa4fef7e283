/**
 * npm run bench: measures the archive against the issue's design targets on this machine.
 * The server runs in its own process (embedded Postgres, filesystem store) so its RSS is its own.
 *
 *   1. STOW-RS throughput: BENCH_N (default 1000) synthetic ~450 KB VL photographs (2000x1500 JPEG),
 *      BENCH_PER_REQUEST (10) per request, concurrency 4.
 *   2. Fill to BENCH_INDEX (20000) instances with small photos, then a QIDO-RS mix: p50/p95 per query.
 *   3. WADO-RS instance retrieval (transfer-syntax=*) at concurrency 4: req/s; also rendered/thumbnail.
 *   4. One STOW-RS request of BENCH_BIG_MB (1024) MB streamed, sampling the server's RSS.
 *   5. Capture API: BENCH_CAPTURES (50) captures of BENCH_CAPTURE_FILES (4) 12 MP camera JPEGs from 4
 *      clients, timed to every file stored (convert-photo) and to QA present (derive); where the CPU
 *      went (server, Postgres, client) and the jobs' timings; then the derived thumbnails' latency.
 *      Runs first, on an idle server: every instance the other sections store queues a derive job,
 *      and the ~15,000 they leave behind take minutes to drain. BENCH_ONLY=capture runs only this.
 *   6. Viewer: the demo patient with BENCH_VIEWER_STUDIES (20) studies (2048x1536 photos), then
 *      BENCH_VIEWER_RUNS (7) launches in headless Chromium, each a fresh one-time launch URL: time
 *      from navigation to the first rendered frame (the viewer's `lucida:first-image` mark), and
 *      what was downloaded before it. Runs after the capture section; BENCH_ONLY=viewer runs only this.
 *   7. Storage adapters side by side: two fresh servers, one on the filesystem store and one on S3
 *      (s3rver in its own process: test/bench/s3-server.ts), each given the same BENCH_STORAGE_N (300)
 *      ~450 KB photographs by STOW-RS (10 per request, concurrency 4), then WADO-RS instance and frame
 *      retrieval (concurrency 4). Runs last; BENCH_ONLY=storage runs only this.
 * Targets: STOW >= 400 inst/s; QIDO p95 <= 25 ms at 20k; WADO >= 500 req/s; RSS < 300 MB;
 * capture >= 20 photos/s; thumbnail p50 <= 5 ms; first image <= 1 s after launch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadOrCreateLocalKey, signLocalToken } from '../../services/core/auth/tokens.js';
import { newUid } from '../../services/core/dicom/index.js';
import { makeBenchPhoto, makeJpeg, makeVlPhoto, seededRandom } from '../fixtures/dicom.js';
import { freePort } from '../helpers/net.js';
import { inParallel } from '../helpers/parallel.js';
import { DEMO_SEEDER_SUBJECT, seedDemo } from '../../services/core/demo/seed.js';
import { ensureViewerBuilt, launchUrl, openBrowser } from '../helpers/browser.js';

const N = Number(process.env.BENCH_N ?? 1000);
const PER_REQUEST = Number(process.env.BENCH_PER_REQUEST ?? 10);
const INDEX_TARGET = Number(process.env.BENCH_INDEX ?? 20000);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 1024);
const CAPTURES = Number(process.env.BENCH_CAPTURES ?? 50);
const CAPTURE_FILES = Number(process.env.BENCH_CAPTURE_FILES ?? 4);
const CAPTURE_ONLY = process.env.BENCH_ONLY === 'capture';
const VIEWER_ONLY = process.env.BENCH_ONLY === 'viewer';
const STORAGE_ONLY = process.env.BENCH_ONLY === 'storage';
const STORAGE_N = Number(process.env.BENCH_STORAGE_N ?? 300);
const VIEWER_STUDIES = Number(process.env.BENCH_VIEWER_STUDIES ?? 20);
const VIEWER_RUNS = Number(process.env.BENCH_VIEWER_RUNS ?? 7);
const CONCURRENCY = 4;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

interface Resp { status: number; headers: http.IncomingHttpHeaders; bytes: number; body?: Buffer }

function call(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | AsyncIterable<Buffer>; keepBody?: boolean } = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; if (opts.keepBody) chunks.push(c); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: opts.keepBody ? Buffer.concat(chunks) : undefined }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!opts.body) req.end();
    else if (Buffer.isBuffer(opts.body)) req.end(opts.body);
    else {
      (async () => {
        for await (const chunk of opts.body as AsyncIterable<Buffer>) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(reject);
    }
  });
}

const BOUNDARY = 'lucida-bench-boundary-0b9e';
const CT = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;
function multipart(instances: Buffer[]): Buffer {
  const chunks: Buffer[] = [];
  for (const i of instances) chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), i, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function rssMb(pid: number): Promise<{ rss: number; hwm: number }> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => ({
    rss: Number(s.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024,
    hwm: Number(s.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024,
  }));
}

/**
 * The server under test (`lucida all`), or with `bare`, a second API process on the first one's
 * database and store without authentication and audit (test/bench/bare-server.ts), for comparison.
 */
async function startServer(dataDir: string, second?: { databaseUrl: string; bare: boolean }, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; base: string; pgPort: number }> {
  const port = await freePort();
  const pgPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(pgPort),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'warn', STOW_MAX_REQUEST_MB: String(BIG_MB + 64),
    // One client sends everything here: the per-client limiter runs, but never limits.
    RATE_LIMIT_PER_MINUTE: '100000000',
    ...(second ? { DATABASE_URL: second.databaseUrl } : {}),
    ...extraEnv,
  };
  // BENCH_SERVER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the server (not allowed in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const entry = !second ? ['services/cli.ts', 'all'] : second.bare ? ['test/bench/bare-server.ts'] : ['services/cli.ts', 'serve'];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...entry], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout!.resume();
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('server exited during start');
    const ok = await call(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return { child, base, pgPort };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server did not become ready');
}

/** Milliseconds of CPU (user + system, all threads) a process has used; with its reaped children when asked. */
async function cpuMs(pid: number, withChildren = false): Promise<number> {
  const { user, system } = await cpuSplitMs(pid, withChildren);
  return user + system;
}

async function cpuSplitMs(pid: number, withChildren = false): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm) ": state is field 3, so field n is f[n - 3] (proc(5)); ticks are 10 ms (USER_HZ 100).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { user: (f[11] + (withChildren ? f[13] : 0)) * 10, system: (f[12] + (withChildren ? f[14] : 0)) * 10 };
}

/** CPU time (all processes and the kernel) the machine has spent busy, in milliseconds (/proc/stat, USER_HZ 100). */
async function machineBusyMs(): Promise<number> {
  const [, ...ticks] = (await readFile('/proc/stat', 'utf8')).split('\n')[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal ...: everything but idle and iowait is busy.
  return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) * 10;
}

/** CPU used so far by the embedded Postgres: the postmaster, its live backends and those that exited. */
async function postgresCpuMs(dataDir: string): Promise<number> {
  const postmaster = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  let total = await cpuMs(postmaster, true);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) total += await cpuMs(Number(entry)).catch(() => 0);
  }
  return total;
}

/** A warning when processes outside the bench used more than 15 % of a core: the figures are then disturbed. */
const otherLoad = (cpu: CpuUse, wallMs: number) =>
  cpu.other / wallMs > 0.15 ? `; OTHER LOAD on the machine: ${(cpu.other / wallMs * 100).toFixed(0)} % of one core, figures disturbed` : '';

/** CPU used since {@link cpuMeter} was called, in ms: the server (user/system), Postgres, this process, the whole machine. */
interface CpuUse { serverUser: number; serverSystem: number; server: number; postgres: number; client: number; machine: number; other: number }

async function cpuMeter(serverPid: number, dataDir: string): Promise<() => Promise<CpuUse>> {
  const read = async () => ({
    server: await cpuSplitMs(serverPid), postgres: await postgresCpuMs(dataDir), client: process.cpuUsage(), machine: await machineBusyMs(),
  });
  const start = await read();
  return async () => {
    const now = await read();
    const client = ((u) => (u.user + u.system) / 1000)(process.cpuUsage(start.client));
    const serverUser = now.server.user - start.server.user;
    const serverSystem = now.server.system - start.server.system;
    const postgres = now.postgres - start.postgres;
    const machine = now.machine - start.machine;
    // Everything else: other processes (a test run beside the bench disturbs every figure) and kernel threads.
    const other = machine - serverUser - serverSystem - postgres - client;
    return { serverUser, serverSystem, server: serverUser + serverSystem, postgres, client, machine, other };
  };
}

/**
 * A 12 MP camera-like JPEG: smooth colour fields under strong sensor-like noise (the makeBenchPhoto
 * recipe, 4000×3000 at quality 95), camera EXIF with orientation 1, so the converter wraps it without
 * decoding. ≈ 5.3 MiB (5.6 MB), like a real 12 MP camera file (4–8 MB at q90–95).
 */
async function makeCameraPhoto(): Promise<Buffer> {
  const width = 4000;
  const height = 3000;
  const rand = seededRandom(20261124);
  const base = Buffer.alloc(8 * 6 * 3);
  for (let i = 0; i < base.length; i++) base[i] = 40 + Math.floor(rand() * 176);
  const smooth = await sharp(base, { raw: { width: 8, height: 6, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
  const tile = 512;
  const noise = Buffer.alloc(tile * tile * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.round(88 + rand() * 80); // mean 128, ±40
  return sharp(smooth, { raw: { width, height, channels: 3 } })
    .composite([{ input: noise, raw: { width: tile, height: tile, channels: 3 }, tile: true, blend: 'soft-light' }])
    .withExif({
      IFD0: { Make: 'Canon', Model: 'EOS R5', Software: 'Firmware 1.8.1' },
      IFD2: { DateTimeOriginal: '2025:03:04 10:11:12', ExposureTime: '1/125', FNumber: '28/10', ISOSpeedRatings: '200', FocalLength: '50/1' },
    })
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** A capture request as a station sends it: metadata part, then the files, streamed without copying the JPEG. */
function captureRequest(i: number, photo: Buffer): { chunks: Buffer[]; length: number; contentType: string } {
  const boundary = 'lucida-bench-capture-7d1f';
  const fileNames = Array.from({ length: CAPTURE_FILES }, (_, k) => `IMG_${String(i * CAPTURE_FILES + k).padStart(4, '0')}.JPG`);
  const metadata = {
    patient: { hospitalNumber: { value: `CAPBENCH${String(i).padStart(5, '0')}`, issuer: 'RXH' }, name: { family: 'Bench', given: [`Capture${i}`] }, birthDate: '1980-02-29', sex: 'F' },
    consent: { level: 'record' },
    photographer: 'GRAPHER^P', site: { institution: 'Royal Example Hospital', studio: 'Studio 2' },
    groups: [{ bodySite: { code: '70559009', scheme: 'SCT' }, laterality: 'R', seriesDescription: 'Right forearm', files: fileNames }],
  };
  const chunks: Buffer[] = [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(metadata)}\r\n`),
  ];
  for (const name of fileNames) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: image/jpeg\r\n\r\n`), photo, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { chunks, length: chunks.reduce((a, c) => a + c.length, 0), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function* streamOf(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

const PHOTO_JOBS = ['convert-photo', 'derive'];

/** Conversion and derive jobs queued or running. */
async function pendingPhotoJobs(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = ANY($1) AND state IN ('created', 'retry', 'active')`, [PHOTO_JOBS]);
  return rows[0].n;
}

/** Waits until no conversion or derive job is queued or running; returns how many there were and how long it took. */
async function drainPhotoJobs(db: pg.Client): Promise<{ backlog: number; secs: number }> {
  const t = process.hrtime.bigint();
  const backlog = await pendingPhotoJobs(db);
  for (let n = backlog; n > 0; n = await pendingPhotoJobs(db)) await new Promise((r) => setTimeout(r, 500));
  return { backlog, secs: ms(t) / 1000 };
}

interface SectionContext { base: string; child: ChildProcess; dataDir: string; db: pg.Client; token: string; line: (s: string) => void }

/** 5. Capture API throughput (convert-photo, then derive) and the latency of the thumbnails it derived. */
async function captureSection({ base, child, dataDir, db, token, line }: SectionContext): Promise<void> {
  const auth = { Authorization: `Bearer ${token}` };
  const drained = await drainPhotoJobs(db);
  if (drained.backlog) line(`derive/convert jobs already queued: ${drained.backlog}, drained in ${drained.secs.toFixed(1)} s`);
  const photo = await makeCameraPhoto();
  const total = CAPTURES * CAPTURE_FILES;
  const requests = Array.from({ length: CAPTURES }, (_, i) => captureRequest(i, photo));
  const since = (await db.query<{ now: Date }>('SELECT now()')).rows[0].now;
  const idle = await rssMb(child.pid!);
  let peak = idle.rss;
  const sampler = setInterval(() => { rssMb(child.pid!).then((m) => { peak = Math.max(peak, m.rss); }, () => {}); }, 50);
  const cpuSince = await cpuMeter(child.pid!, dataDir);

  // Progress from the database (one light query) rather than 50 clients polling GET /api/captures/{id}.
  const progress = async () => (await db.query<{ stored: number; failed: number; qa: number }>(
    `SELECT count(*) FILTER (WHERE f.status = 'stored')::int AS stored, count(*) FILTER (WHERE f.status = 'failed')::int AS failed,
            count(i.qa)::int AS qa
       FROM captures c JOIN capture_files f ON f.capture_id = c.id LEFT JOIN instances i ON i.sop_uid = f.sop_uid
      WHERE c.created_at >= $1`, [since])).rows[0];
  const t0 = process.hrtime.bigint();
  let firstStoredMs = 0;
  let storedMs = 0;
  let qaMs = 0;
  let uploadsDone = false;
  let abandoned = false;
  const watcher = (async () => {
    for (;;) {
      if (abandoned) return undefined;
      const p = await progress();
      if (p.stored && !firstStoredMs) firstStoredMs = ms(t0);
      if (uploadsDone && p.stored + p.failed >= total && !storedMs) storedMs = ms(t0);
      if (storedMs && p.qa >= p.stored) { qaMs = ms(t0); return p; }
      if (ms(t0) > 600_000) throw new Error(`captures not done after 10 min: ${JSON.stringify(p)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const ids: string[] = [];
  const postTimes: number[] = [];
  await inParallel(requests, CONCURRENCY, async (r) => {
    if (abandoned) return;
    const t = process.hrtime.bigint();
    const res = await call(`${base}/api/captures`, {
      method: 'POST', headers: { ...auth, 'Content-Type': r.contentType, 'Content-Length': String(r.length) }, body: streamOf(r.chunks), keepBody: true,
    });
    if (res.status !== 202) throw new Error(`capture POST: ${res.status} ${res.body?.toString('utf8').slice(0, 500)}`);
    postTimes.push(ms(t));
    ids.push(JSON.parse(res.body!.toString('utf8')).id);
  }).catch(async (err) => {
    abandoned = true;
    clearInterval(sampler);
    await watcher.catch(() => {});
    throw err;
  });
  const uploadMs = ms(t0);
  uploadsDone = true;
  const done = (await watcher)!;
  clearInterval(sampler);
  const cpu = await cpuSince();
  const totalBytes = requests.reduce((a, r) => a + r.length, 0);
  line(`capture API: ${CAPTURES} captures × ${CAPTURE_FILES} photos of ${(photo.length / 1048576).toFixed(1)} MB (4000×3000 JPEG q95), ${CAPTURE_FILES * CONCURRENCY} in flight from ${CONCURRENCY} clients`);
  line(`  uploads: all ${CAPTURES} answered 202 after ${(uploadMs / 1000).toFixed(1)} s (${(totalBytes / 1048576 / (uploadMs / 1000)).toFixed(0)} MB/s; per request p50 ${pct(postTimes, 50).toFixed(0)} ms, p95 ${pct(postTimes, 95).toFixed(0)} ms)`);
  line(`  stored: ${done.stored} of ${total} (failed ${done.failed}), first after ${(firstStoredMs / 1000).toFixed(1)} s, all after ${(storedMs / 1000).toFixed(1)} s = ${(done.stored / (storedMs / 1000)).toFixed(1)} photos/s  [target >= 20 photos/s]`);
  line(`  QA present (derive done) for all after ${(qaMs / 1000).toFixed(1)} s = ${(done.stored / (qaMs / 1000)).toFixed(1)} photos/s end to end`);
  const perPhoto = (x: number) => (x / total).toFixed(0);
  line(`  CPU per photo: server ${perPhoto(cpu.server)} ms (user ${perPhoto(cpu.serverUser)}, system ${perPhoto(cpu.serverSystem)}), Postgres ${perPhoto(cpu.postgres)} ms, bench client ${perPhoto(cpu.client)} ms, rest of the machine ${perPhoto(cpu.other)} ms`);
  line(`  machine busy ${(cpu.machine / qaMs / os.cpus().length * 100).toFixed(0)} % of ${os.cpus().length} cores over ${(qaMs / 1000).toFixed(1)} s (server ${(cpu.server / qaMs * 100).toFixed(0)} % of one core)${otherLoad(cpu, qaMs)}`);
  const jobs = await db.query<{ name: string; n: number; wait: number; run: number; run95: number; span: number }>(
    `SELECT name, count(*)::int AS n,
            avg(extract(epoch FROM started_on - created_on)) * 1000 AS wait,
            avg(extract(epoch FROM completed_on - started_on)) * 1000 AS run,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_on - started_on)) * 1000 AS run95,
            extract(epoch FROM max(completed_on) - min(started_on)) AS span
       FROM pgboss.job WHERE name = ANY($1) AND created_on >= $2 AND state = 'completed' GROUP BY name ORDER BY name`, [PHOTO_JOBS, since]);
  for (const j of jobs.rows) {
    line(`  job ${j.name.padEnd(13)} ${j.n} done in ${Number(j.span).toFixed(1)} s (${(j.n / Number(j.span)).toFixed(1)}/s); queued avg ${Number(j.wait).toFixed(0)} ms, running (batches of ${process.env.CONVERT_CONCURRENCY ?? 4}) avg ${Number(j.run).toFixed(0)} ms, p95 ${Number(j.run95).toFixed(0)} ms`);
  }
  line(`  server RSS idle ${idle.rss.toFixed(0)} MB, peak ${peak.toFixed(0)} MB  [target < 300 MB]`);

  // Every file's status as the photographer sees it, and the thumbnails to fetch.
  const thumbs: string[] = [];
  for (const id of ids) {
    const r = await call(`${base}/api/captures/${id}`, { headers: auth, keepBody: true });
    const status = JSON.parse(r.body!.toString('utf8'));
    if (status.status !== 'stored') throw new Error(`capture ${id} is ${status.status}`);
    for (const f of status.files) {
      if (f.encoding !== 'wrapped' || !f.qa) throw new Error(`capture ${id} file ${f.index}: encoding ${f.encoding}, qa ${JSON.stringify(f.qa)}`);
      thumbs.push(new URL(f.thumbnailURL).pathname);
    }
  }
  const thumbnail = async (url: string) => {
    const t = process.hrtime.bigint();
    const r = await call(base + url, { headers: { ...auth, Accept: 'image/jpeg' } });
    if (r.status !== 200 || r.headers['content-type'] !== 'image/jpeg') throw new Error(`thumbnail: ${r.status} ${r.headers['content-type']}`);
    return ms(t);
  };
  const sequential: number[] = [];
  for (let pass = 0; pass < 2; pass++) for (const url of thumbs) sequential.push(await thumbnail(url));
  line(`  thumbnail (derived 12 MP photos) sequential: p50 ${pct(sequential, 50).toFixed(1)} ms  p95 ${pct(sequential, 95).toFixed(1)} ms  [target p50 <= 5 ms]`);
  const concurrent: number[] = [];
  const items = Array.from({ length: 1000 }, (_, i) => thumbs[i % thumbs.length]);
  const t = process.hrtime.bigint();
  await inParallel(items, CONCURRENCY, async (url) => { concurrent.push(await thumbnail(url)); });
  line(`  thumbnail concurrency ${CONCURRENCY}: ${(items.length / (ms(t) / 1000)).toFixed(0)} req/s, p50 ${pct(concurrent, 50).toFixed(1)} ms  p95 ${pct(concurrent, 95).toFixed(1)} ms`);
}

/**
 * Time to first image in headless Chromium: launch (POST /api/launch) → navigation → session
 * exchange → timeline → one instance's metadata → one frame decoded and rendered. Each run is a new
 * page with a cold cache except the browser's HTTP cache of the viewer's own files (as at a clinic
 * workstation after the first use); the first run, fully cold, is reported apart.
 */
async function viewerSection(base: string, key: Awaited<ReturnType<typeof loadOrCreateLocalKey>>, line: (s: string) => void): Promise<void> {
  const sign = (subject: string, role: string) => signLocalToken(key, { issuer: 'lucida-local', audience: 'lucida' }, { subject, roles: [role] });
  ensureViewerBuilt();
  const t0 = process.hrtime.bigint();
  const demo = await seedDemo({ baseUrl: base, token: await sign(DEMO_SEEDER_SUBJECT, 'photographer') }, { studiesForFirstPatient: VIEWER_STUDIES, patients: 1 });
  const patient = demo.patients[0];
  const photos = patient.studies.reduce((n, s) => n + s.images.length, 0);
  line(`viewer: demo patient with ${patient.studies.length} studies, ${photos} photographs (${demo.size.width}x${demo.size.height}) seeded in ${(ms(t0) / 1000).toFixed(1)} s`);
  const epr = await sign('bench-epr', 'epr');
  const browser = await openBrowser();
  try {
    const times: number[] = [];
    let cold = 0;
    let fetched = { frames: 0, metadata: 0, thumbnails: 0, bytes: 0 };
    for (let i = 0; i < VIEWER_RUNS; i++) {
      const url = await launchUrl(base, epr, patient.nhsNumber);
      const page = await browser.newPage();
      const seen = { frames: 0, metadata: 0, thumbnails: 0, bytes: 0 };
      page.on('response', (r) => {
        const u = r.url();
        if (u.includes('/frames/')) seen.frames++;
        else if (u.endsWith('/metadata')) seen.metadata++;
        else if (u.endsWith('/thumbnail')) seen.thumbnails++;
        if (u.includes('/dicomweb/')) seen.bytes += Number(r.headers()['content-length'] ?? 0);
      });
      await page.goto(url);
      await page.waitForSelector('.viewport[data-rendered="true"]', { timeout: 30_000 });
      const firstImage = await page.evaluate(() => (globalThis as any).performance.getEntriesByName('lucida:first-image')[0]?.startTime as number);
      if (i === 0) {
        cold = firstImage;
        fetched = { ...seen };
      } else times.push(firstImage);
      await page.close();
    }
    times.sort((a, b) => a - b);
    line(`viewer time to first image (navigation → first rendered frame, headless Chromium, loopback): cold ${cold.toFixed(0)} ms; warm p50 ${pct(times, 50).toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms over ${times.length} launches  [target <= 1000 ms]`);
    line(`viewer requests of the first launch (until the page closed, just after its first image): ${fetched.metadata} instance metadata, ${fetched.frames} frame, ${fetched.thumbnails} thumbnails (started after the first image, in view only) of ${photos} photographs`);
  } finally {
    await browser.close();
  }
}

/** The embedded Postgres of a bench server started on `dataDir` (its socket under DATA_DIR/run). */
const embeddedUrl = (dataDir: string, pgPort: number) =>
  `postgres://lucida:lucida-embedded@localhost:${pgPort}/lucida?host=${encodeURIComponent(path.join(dataDir, 'run'))}`;

/** 7. The same ingest and retrieval on the filesystem store and on S3 (s3rver), fresh servers both. */
async function storageSection(line: (s: string) => void): Promise<void> {
  const s3 = spawn(process.execPath, ['--import', 'tsx', 'test/bench/s3-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ endpoint: string; env: Record<string, string> }>((resolve, reject) => {
    s3.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(String(d).split('\n')[0])));
    s3.once('exit', () => reject(new Error('the S3 server exited during start')));
  });
  const jpeg = await makeBenchPhoto();
  const study = newUid();
  const photos: Buffer[] = [];
  for (let i = 0; i < STORAGE_N; i++) {
    photos.push(await makeVlPhoto({ jpeg, studyUID: study, seriesUID: study + '.1', patientID: 'STORAGE1', instanceNumber: i + 1 }));
  }
  const bytes = photos.reduce((a, p) => a + p.length, 0);
  const results: Record<string, string[]> = {};
  try {
    for (const [label, env] of [['filesystem', {}], ['S3 (s3rver)', { ...started.env, S3_CREATE_BUCKET: 'true' }]] as const) {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-bench-store-'));
      const srv = await startServer(dataDir, undefined, env);
      const db = new pg.Client({ connectionString: embeddedUrl(dataDir, srv.pgPort) });
      try {
        await db.connect();
        const key = await loadOrCreateLocalKey(dataDir);
        const token = await signLocalToken(key, { issuer: 'lucida-local', audience: 'lucida' }, { subject: 'bench', roles: ['admin'] });
        const auth = { Authorization: `Bearer ${token}` };
        const batches: Buffer[][] = [];
        for (let i = 0; i < photos.length; i += 10) batches.push(photos.slice(i, i + 10));
        const t0 = process.hrtime.bigint();
        let failed = 0;
        await inParallel(batches, CONCURRENCY, async (batch) => {
          const r = await call(`${srv.base}/dicomweb/studies`, { method: 'POST', headers: { ...auth, 'Content-Type': CT }, body: multipart(batch) });
          if (r.status !== 200) failed++;
        });
        const stowSecs = ms(t0) / 1000;
        // The derive jobs (thumbnail, rendering: store writes too) finish before retrieval is measured.
        const drained = await drainPhotoJobs(db);
        const { rows } = await db.query<{ sop_uid: string; series_uid: string }>("SELECT sop_uid, series_uid FROM instances WHERE status = 'stored'");
        const retrieve = async (accept: string, suffix: string, count: number) => {
          const items = Array.from({ length: count }, (_, i) => rows[i % rows.length]);
          const t = process.hrtime.bigint();
          let got = 0;
          await inParallel(items, CONCURRENCY, async (r) => {
            const res = await call(`${srv.base}/dicomweb/studies/${study}/series/${r.series_uid}/instances/${r.sop_uid}${suffix}`, { headers: { ...auth, Accept: accept } });
            if (res.status !== 200) throw new Error(`${label} retrieve ${suffix}: ${res.status}`);
            got += res.bytes;
          });
          const secs = ms(t) / 1000;
          return `${(count / secs).toFixed(0)} req/s (${(got / 1048576 / secs).toFixed(0)} MB/s)`;
        };
        results[label] = [
          `${(STORAGE_N / stowSecs).toFixed(0)} inst/s (${(bytes / 1048576 / stowSecs).toFixed(0)} MB/s${failed ? `, ${failed} failed requests` : ''}); derive backlog ${drained.backlog} cleared in ${drained.secs.toFixed(1)} s`,
          await retrieve('multipart/related; type="application/dicom"; transfer-syntax=*', '', 1000),
          await retrieve('multipart/related; type="application/octet-stream"; transfer-syntax=*', '/frames/1', 1000),
          await retrieve('image/jpeg', '/thumbnail', 1000),
        ];
      } finally {
        await db.end().catch(() => {});
        srv.child.kill('SIGTERM');
        await new Promise((r) => srv.child.once('exit', r));
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    s3.kill('SIGTERM');
    await new Promise((r) => s3.once('exit', r));
  }
  const fs = results.filesystem;
  const s3r = results['S3 (s3rver)'];
  line(`storage: ${STORAGE_N} instances of ${(bytes / STORAGE_N / 1024).toFixed(0)} KB, fresh servers, concurrency ${CONCURRENCY}; filesystem | S3 on s3rver (loopback, its own process)`);
  ['STOW-RS ingest', 'WADO instance (transfer-syntax=*)', 'WADO frames/1', 'WADO thumbnail'].forEach((name, i) => {
    line(`  ${name.padEnd(34)} ${fs[i]}  |  ${s3r[i]}`);
  });
}

async function main() {
  if (STORAGE_ONLY) {
    await storageSection((s) => console.log(s));
    agent.destroy();
    return;
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-bench-'));
  const { child, base, pgPort } = await startServer(dataDir);
  const key = await loadOrCreateLocalKey(dataDir);
  const token = await signLocalToken(key, { issuer: 'lucida-local', audience: 'lucida' }, { subject: 'bench', roles: ['admin'] });
  const auth = { Authorization: `Bearer ${token}` };
  const report: string[] = [];
  const line = (s: string) => { console.log(s); report.push(s); };
  // The bench's own connection: VACUUM ANALYZE, job queue state, capture progress.
  const db = new pg.Client({ connectionString: `postgres://lucida:lucida-embedded@localhost:${pgPort}/lucida?host=${encodeURIComponent(path.join(dataDir, 'run'))}` });
  db.on('error', (err) => console.error(`bench database connection: ${err.message}`));
  const photographer = await signLocalToken(key, { issuer: 'lucida-local', audience: 'lucida' }, { subject: 'capture-bench', roles: ['photographer'] });
  const captures = () => captureSection({ base, child, dataDir, db, token: photographer, line });
  const runStart = process.hrtime.bigint();
  const extraChildren: ChildProcess[] = [];
  try {
    await db.connect();
    const cpuSince = await cpuMeter(child.pid!, dataDir);
    line(`Lucida bench on ${os.cpus().length} cores, node ${process.version}`);
    // 5. Capture API, then the thumbnails its derive jobs made (first: see the header).
    if (!VIEWER_ONLY) await captures();
    if (CAPTURE_ONLY) return;
    await viewerSection(base, key, line);
    if (VIEWER_ONLY) return;
    // 1. STOW throughput
    const benchJpeg = await makeBenchPhoto();
    const patients = Array.from({ length: 50 }, (_, i) => `BENCH${String(i).padStart(5, '0')}`);
    process.stdout.write(`generating ${N} photos of ${(benchJpeg.length / 1024).toFixed(0)} KB JPEG... `);
    const photos: Buffer[] = [];
    for (let i = 0; i < N; i += PER_REQUEST) {
      const study = newUid();
      const series = newUid();
      const pid = patients[(i / PER_REQUEST) % patients.length];
      for (let j = 0; j < PER_REQUEST && i + j < N; j++) {
        photos.push(await makeVlPhoto({ jpeg: benchJpeg, studyUID: study, seriesUID: series, patientID: pid, patientName: `BENCH^${pid}`, instanceNumber: j + 1 }));
      }
    }
    console.log('done');
    const batches: Buffer[] = [];
    for (let i = 0; i < photos.length; i += PER_REQUEST) batches.push(multipart(photos.slice(i, i + PER_REQUEST)));
    const totalBytes = photos.reduce((a, p) => a + p.length, 0);
    const t0 = process.hrtime.bigint();
    let failures = 0;
    await inParallel(batches, CONCURRENCY, async (body) => {
      const r = await call(`${base}/dicomweb/studies`, { method: 'POST', headers: { ...auth, 'Content-Type': CT, Accept: 'application/dicom+json' }, body });
      if (r.status !== 200) failures++;
    });
    const stowMs = ms(t0);
    line(`STOW-RS: ${N} instances (${(totalBytes / N / 1024).toFixed(0)} KB avg, ${PER_REQUEST}/request, concurrency ${CONCURRENCY}) in ${(stowMs / 1000).toFixed(2)} s = ${(N / (stowMs / 1000)).toFixed(0)} inst/s, ${(totalBytes / 1048576 / (stowMs / 1000)).toFixed(0)} MB/s, failed requests: ${failures}  [target >= 400 inst/s]`);
    photos.length = 0;
    batches.length = 0;

    // 2. Fill the index with small photos, then the QIDO mix.
    const small = await makeJpeg(64, 48);
    const fillStart = process.hrtime.bigint();
    const fill: { study: string; series: string; sop: string; pid: string; accession: string }[] = [];
    const studiesNeeded = Math.max(0, Math.ceil((INDEX_TARGET - N) / 5));
    const fillBatches: Buffer[] = [];
    const names = ['SMITH', 'JONES', 'TAYLOR', 'BROWN', 'WILLIAMS', 'WILSON', 'JOHNSON', 'DAVIES', 'ROBINSON', 'WRIGHT'];
    for (let s = 0; s < studiesNeeded; s++) {
      const pid = `P${String(s % 4000).padStart(6, '0')}`;
      const study = newUid();
      const series = newUid();
      const accession = `ACC${String(s).padStart(7, '0')}`;
      const date = `2025${String((s % 12) + 1).padStart(2, '0')}${String((s % 28) + 1).padStart(2, '0')}`;
      const instances: Buffer[] = [];
      for (let k = 0; k < 5; k++) {
        const sop = newUid();
        fill.push({ study, series, sop, pid, accession });
        instances.push(await makeVlPhoto({
          jpeg: small, studyUID: study, seriesUID: series, sopUID: sop, patientID: pid, accession, studyDate: date,
          patientName: `${names[s % names.length]}^PATIENT${s % 4000}`, instanceNumber: k + 1,
        }));
      }
      fillBatches.push(multipart(instances));
    }
    await inParallel(fillBatches, CONCURRENCY, async (body) => {
      const r = await call(`${base}/dicomweb/studies`, { method: 'POST', headers: { ...auth, 'Content-Type': CT }, body });
      if (r.status !== 200) throw new Error(`fill STOW failed: ${r.status}`);
    });
    // Bulk-loading 19,000 instances in a minute outpaces autovacuum; a live archive's statistics are
    // current (autovacuum analyses within a minute or so). Measure that steady state, and say so.
    await db.query('VACUUM ANALYZE');
    line(`index filled to ${N + fill.length} instances (${fill.length} small ones in ${(ms(fillStart) / 1000).toFixed(1)} s = ${(fill.length / (ms(fillStart) / 1000)).toFixed(0)} inst/s), then VACUUM ANALYZE`);
    // Every stored image queued a derive job (thumbnail, rendering, QA): let the backlog clear, so that
    // what follows measures queries and retrieval, not the worker.
    const backlog = await drainPhotoJobs(db);
    line(`derive backlog after the STOW sections: ${backlog.backlog} jobs, cleared in ${backlog.secs.toFixed(1)} s`
      + (backlog.backlog ? ` (${(backlog.backlog / backlog.secs).toFixed(0)} jobs/s while idle otherwise)` : ''));
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    const mix: [string, () => string][] = [
      ['studies?PatientID=', () => `/dicomweb/studies?PatientID=${pick(fill).pid}`],
      ['studies?PatientName=SMI*', () => `/dicomweb/studies?PatientName=${pick(names).slice(0, 3)}*&limit=50`],
      ['studies?PatientName fuzzy', () => `/dicomweb/studies?PatientName=${pick(names).toLowerCase()}&fuzzymatching=true&limit=50`],
      ['studies?StudyDate=range', () => `/dicomweb/studies?StudyDate=20250301-20250310&limit=100`],
      ['studies?AccessionNumber=', () => `/dicomweb/studies?AccessionNumber=${pick(fill).accession}`],
      ['studies?StudyInstanceUID=', () => `/dicomweb/studies?StudyInstanceUID=${pick(fill).study}`],
      ['studies (latest 100)', () => `/dicomweb/studies?limit=100`],
      ['studies/{s}/series', () => { const f = pick(fill); return `/dicomweb/studies/${f.study}/series`; }],
      ['studies/{s}/series/{se}/instances', () => { const f = pick(fill); return `/dicomweb/studies/${f.study}/series/${f.series}/instances`; }],
      ['instances?SOPInstanceUID=', () => `/dicomweb/instances?SOPInstanceUID=${pick(fill).sop}`],
      ['series?Modality=XC&limit=100', () => `/dicomweb/series?Modality=XC&limit=100`],
      ['studies?includefield=all', () => `/dicomweb/studies?PatientID=${pick(fill).pid}&includefield=all`],
    ];
    // QIDO and WADO on two more API processes (`lucida serve`, as deployed behind a load balancer)
    // on this database and store: one as deployed (token verified, access scoped, every request
    // audited), one without authentication and audit; measured alternately so that drift of the
    // machine's speed hits both alike, and apart from the first process's worker.
    const databaseUrl = `postgres://lucida:lucida-embedded@localhost:${pgPort}/lucida?host=${encodeURIComponent(path.join(dataDir, 'run'))}`;
    const securedApi = await startServer(dataDir, { databaseUrl, bare: false });
    const bare = await startServer(dataDir, { databaseUrl, bare: true });
    extraChildren.push(securedApi.child, bare.child);
    const bases = { secured: securedApi.base, bare: bare.base };
    const auditedBefore = Number((await db.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);
    const overhead = (a: number, b: number) => `${a >= b ? '+' : ''}${((a / b - 1) * 100).toFixed(0)}%`;
    for (const [name, make] of mix) {
      const p95: Record<string, number> = {};
      const p50: Record<string, number> = {};
      for (const b of Object.values(bases)) {
        for (let i = 0; i < 10; i++) await call(b + make(), { headers: auth }); // warm-up
      }
      const times: Record<string, number[]> = { secured: [], bare: [] };
      for (let i = 0; i < 200; i++) {
        for (const [which, b] of Object.entries(bases)) {
          const t = process.hrtime.bigint();
          const r = await call(b + make(), { headers: auth });
          if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
          times[which].push(ms(t));
        }
      }
      for (const which of Object.keys(bases)) { p50[which] = pct(times[which], 50); p95[which] = pct(times[which], 95); }
      line(`QIDO ${name.padEnd(34)} p50 ${p50.secured.toFixed(1).padStart(6)} ms  p95 ${p95.secured.toFixed(1).padStart(6)} ms  [target p95 <= 25 ms]`
        + `  | without auth+audit p50 ${p50.bare.toFixed(1)} ms (${overhead(p50.secured, p50.bare)}), p95 ${p95.bare.toFixed(1)} ms`);
    }

    // 3. WADO-RS retrieval
    const targets = fill.slice(0, 2000);
    const wadoRate = async (b: string, label: string, accept: string, count: number, urlOf: (f: typeof fill[0]) => string) => {
      const items = Array.from({ length: count }, (_, i) => targets[i % targets.length]);
      const t = process.hrtime.bigint();
      let bytes = 0;
      await inParallel(items, CONCURRENCY, async (f) => {
        const r = await call(b + urlOf(f), { headers: { ...auth, Accept: accept } });
        if (r.status !== 200) throw new Error(`${label}: ${r.status}`);
        bytes += r.bytes;
      });
      const secs = ms(t) / 1000;
      return { rate: count / secs, mbs: bytes / 1048576 / secs };
    };
    const wado = async (label: string, accept: string, count: number, urlOf: (f: typeof fill[0]) => string, compare = false) => {
      if (!compare) {
        const r = await wadoRate(base, label, accept, count, urlOf);
        line(`WADO ${label.padEnd(40)} ${r.rate.toFixed(0).padStart(5)} req/s  ${r.mbs.toFixed(1)} MB/s`);
        return;
      }
      // Best of three alternating rounds on each server.
      const best = { secured: { rate: 0, mbs: 0 }, bare: { rate: 0, mbs: 0 } };
      for (let round = 0; round < 3; round++) {
        for (const [which, b] of Object.entries(bases) as ['secured' | 'bare', string][]) {
          const r = await wadoRate(b, label, accept, count, urlOf);
          if (r.rate > best[which].rate) best[which] = r;
        }
      }
      line(`WADO ${label.padEnd(40)} ${best.secured.rate.toFixed(0).padStart(5)} req/s  ${best.secured.mbs.toFixed(1)} MB/s`
        + `  | without auth+audit ${best.bare.rate.toFixed(0)} req/s (${overhead(best.secured.rate, best.bare.rate)})`);
    };
    const inst = (f: typeof fill[0]) => `/dicomweb/studies/${f.study}/series/${f.series}/instances/${f.sop}`;
    await wado('instance, transfer-syntax=* [>= 500]', 'multipart/related; type="application/dicom"; transfer-syntax=*', 4000, inst, true);
    await wado('frames/1, transfer-syntax=*', 'multipart/related; type="application/octet-stream"; transfer-syntax=*', 2000, (f) => `${inst(f)}/frames/1`, true);
    await wado('metadata (instance)', 'application/dicom+json', 2000, (f) => `${inst(f)}/metadata`, true);
    const audited = Number((await db.query('SELECT count(*) AS n FROM audit_events')).rows[0].n) - auditedBefore;
    line(`audit events written during the compared QIDO/WADO rows: ${audited} (one per request to the server with audit)`);
    // The comparison's two API processes go; what follows runs on the first server alone.
    for (const c of extraChildren.splice(0)) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    await wado('instance, default (decoded to explicit LE)', 'multipart/related; type="application/dicom"', 1000, inst);
    await wado('thumbnail (first: rendered)', 'image/jpeg', 1000, (f) => `${inst(f)}/thumbnail`);
    const thumbTimes: number[] = [];
    for (const f of targets.slice(0, 500)) {
      const t = process.hrtime.bigint();
      await call(base + `${inst(f)}/thumbnail`, { headers: { ...auth, Accept: 'image/jpeg' } });
      thumbTimes.push(ms(t));
    }
    line(`WADO thumbnail (cached) p50 ${pct(thumbTimes, 50).toFixed(1)} ms  p95 ${pct(thumbTimes, 95).toFixed(1)} ms`);

    // 4. One big streamed STOW request, sampling server RSS.
    if (BIG_MB > 0) {
      const idle = await rssMb(child.pid!);
      let peak = idle.rss;
      const sampler = setInterval(() => { rssMb(child.pid!).then((m) => { peak = Math.max(peak, m.rss); }, () => {}); }, 50);
      const study = newUid();
      const series = newUid();
      const target = BIG_MB * 1048576;
      let sent = 0;
      let parts = 0;
      async function* body(): AsyncGenerator<Buffer> {
        while (sent < target) {
          const p = await makeVlPhoto({ jpeg: benchJpeg, studyUID: study, seriesUID: series, patientID: 'BIGSTOW', instanceNumber: ++parts });
          const chunk = Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n')]);
          sent += chunk.length;
          yield chunk;
        }
        yield Buffer.from(`--${BOUNDARY}--\r\n`);
      }
      const t = process.hrtime.bigint();
      const r = await call(`${base}/dicomweb/studies`, { method: 'POST', headers: { ...auth, 'Content-Type': CT }, body: body() });
      clearInterval(sampler);
      line(`STOW one request of ${(sent / 1048576).toFixed(0)} MB (${parts} parts): status ${r.status} in ${(ms(t) / 1000).toFixed(1)} s; server RSS idle ${idle.rss.toFixed(0)} MB, peak ${peak.toFixed(0)} MB  [target < 300 MB]`);
    }
    await storageSection(line);
    const final = await rssMb(child.pid!);
    line(`server RSS now ${final.rss.toFixed(0)} MB, high-water mark ${final.hwm.toFixed(0)} MB`);
    const cpu = await cpuSince();
    line(`whole run ${(ms(runStart) / 1000).toFixed(0)} s: server ${(cpu.server / 1000).toFixed(0)} s CPU, Postgres ${(cpu.postgres / 1000).toFixed(0)} s, bench client ${(cpu.client / 1000).toFixed(0)} s${otherLoad(cpu, ms(runStart))}`);
  } finally {
    await db.end().catch(() => {});
    for (const c of extraChildren) if (c.exitCode === null) c.kill('SIGTERM');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
    agent.destroy();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
