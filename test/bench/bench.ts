/**
 * npm run bench: measures the archive against the design targets on this machine.
 * The server runs in its own process (embedded Postgres, filesystem store) so its RSS is its own.
 *
 *   1. STOW-RS throughput: BENCH_N (default 1000) synthetic ~450 KB VL photographs (2000x1500 JPEG),
 *      BENCH_PER_REQUEST (10) per request, concurrency 4.
 *   2. Fill to BENCH_INDEX (20000) instances with small photos, then a QIDO-RS mix: p50/p95 per query.
 *   3. WADO-RS instance retrieval (transfer-syntax=*) at concurrency 4: req/s; also rendered/thumbnail.
 *   4. One STOW-RS request of BENCH_BIG_MB (1024) MB streamed, sampling the server's RSS.
 * Targets: STOW >= 400 inst/s; QIDO p95 <= 25 ms at 20k; WADO >= 500 req/s; RSS < 300 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateLocalKey, signLocalToken } from '../../services/core/auth/tokens.js';
import { newUid } from '../../services/core/dicom/index.js';
import { makeBenchPhoto, makeJpeg, makeVlPhoto } from '../fixtures/dicom.js';
import { freePort } from '../helpers/net.js';

const N = Number(process.env.BENCH_N ?? 1000);
const PER_REQUEST = Number(process.env.BENCH_PER_REQUEST ?? 10);
const INDEX_TARGET = Number(process.env.BENCH_INDEX ?? 20000);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 1024);
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

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
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

async function startServer(dataDir: string): Promise<{ child: ChildProcess; base: string; pgPort: number }> {
  const port = await freePort();
  const pgPort = await freePort();
  const env = {
    ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(pgPort),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'warn', STOW_MAX_REQUEST_MB: String(BIG_MB + 64),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'all'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
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

async function main() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-bench-'));
  const { child, base, pgPort } = await startServer(dataDir);
  const key = await loadOrCreateLocalKey(dataDir);
  const token = await signLocalToken(key, { issuer: 'lucida-local', audience: 'lucida' }, { subject: 'bench', roles: ['admin'] });
  const auth = { Authorization: `Bearer ${token}` };
  const report: string[] = [];
  const line = (s: string) => { console.log(s); report.push(s); };
  try {
    line(`Lucida bench on ${os.cpus().length} cores, node ${process.version}`);
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
    await pool(batches, CONCURRENCY, async (body) => {
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
    await pool(fillBatches, CONCURRENCY, async (body) => {
      const r = await call(`${base}/dicomweb/studies`, { method: 'POST', headers: { ...auth, 'Content-Type': CT }, body });
      if (r.status !== 200) throw new Error(`fill STOW failed: ${r.status}`);
    });
    // Bulk-loading 19,000 instances in a minute outpaces autovacuum; a live archive's statistics are
    // current (autovacuum analyses within a minute or so). Measure that steady state, and say so.
    const db = new pg.Client({ connectionString: `postgres://lucida:lucida-embedded@localhost:${pgPort}/lucida?host=${encodeURIComponent(path.join(dataDir, 'run'))}` });
    await db.connect();
    await db.query('VACUUM ANALYZE');
    await db.end();
    line(`index filled to ${N + fill.length} instances (${fill.length} small ones in ${(ms(fillStart) / 1000).toFixed(1)} s = ${(fill.length / (ms(fillStart) / 1000)).toFixed(0)} inst/s), then VACUUM ANALYZE`);
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
    for (const [name, make] of mix) {
      for (let i = 0; i < 10; i++) await call(base + make(), { headers: auth }); // warm-up
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = process.hrtime.bigint();
        const r = await call(base + make(), { headers: auth });
        if (r.status !== 200) throw new Error(`${name}: ${r.status}`);
        times.push(ms(t));
      }
      line(`QIDO ${name.padEnd(34)} p50 ${pct(times, 50).toFixed(1).padStart(6)} ms  p95 ${pct(times, 95).toFixed(1).padStart(6)} ms  [target p95 <= 25 ms]`);
    }

    // 3. WADO-RS retrieval
    const targets = fill.slice(0, 2000);
    const wado = async (label: string, accept: string, count: number, urlOf: (f: typeof fill[0]) => string) => {
      const items = Array.from({ length: count }, (_, i) => targets[i % targets.length]);
      const t = process.hrtime.bigint();
      let bytes = 0;
      await pool(items, CONCURRENCY, async (f) => {
        const r = await call(base + urlOf(f), { headers: { ...auth, Accept: accept } });
        if (r.status !== 200) throw new Error(`${label}: ${r.status}`);
        bytes += r.bytes;
      });
      const secs = ms(t) / 1000;
      line(`WADO ${label.padEnd(40)} ${(count / secs).toFixed(0).padStart(5)} req/s  ${(bytes / 1048576 / secs).toFixed(1)} MB/s`);
    };
    const inst = (f: typeof fill[0]) => `/dicomweb/studies/${f.study}/series/${f.series}/instances/${f.sop}`;
    await wado('instance, transfer-syntax=* [>= 500]', 'multipart/related; type="application/dicom"; transfer-syntax=*', 4000, inst);
    await wado('instance, default (decoded to explicit LE)', 'multipart/related; type="application/dicom"', 1000, inst);
    await wado('frames/1, transfer-syntax=*', 'multipart/related; type="application/octet-stream"; transfer-syntax=*', 2000, (f) => `${inst(f)}/frames/1`);
    await wado('metadata (instance)', 'application/dicom+json', 2000, (f) => `${inst(f)}/metadata`);
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
    const final = await rssMb(child.pid!);
    line(`server RSS now ${final.rss.toFixed(0)} MB, high-water mark ${final.hwm.toFixed(0)} MB`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
    agent.destroy();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
