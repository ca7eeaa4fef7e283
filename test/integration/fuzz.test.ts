/**
 * Bounded, seeded fuzzing of a whole running server (issue 4, item 6): real embedded Postgres,
 * filesystem store, worker, HTTP on loopback. Thousands of mutated inputs go to every way in
 * (test/fuzz/cases.ts): Part 10 files and multipart bodies to STOW-RS, multipart/form-data and
 * metadata JSON to the capture API, DICOM JSON + bulk data to STOW-RS, QIDO-RS query strings, bearer
 * tokens, and retrievals of whatever got stored. Then:
 *   - no answer is a 5xx, no connection is reset or left unanswered, no request reports the
 *     archive's own failure (0x0110/0xA700), no forged token is accepted, no error is logged;
 *   - nothing partial is stored: no pending row, every object belongs to a stored instance, its
 *     renditions or a capture's original, and every indexed object exists;
 *   - the server still answers /healthz and a STOW → QIDO → WADO round trip byte for byte.
 *
 * Reproducible: the seed is printed (FUZZ_SEED sets it, FUZZ_RUNS the number of requests). A failure
 * names its case as category:index; `FUZZ_SEED=<seed> FUZZ_CASE=<category>:<index>` replays that one
 * case alone and prints the answer. (A wado case retrieves what the whole run stored: replay it with
 * the whole run, FUZZ_SEED alone. A reset on a kept-alive connection may be caused by the request
 * before it on that connection, which the finding names.)
 *
 * Failed authentications are limited per client address (middleware/security.ts): the jwt cases come
 * from 127.0.0.2–251 in turn, a few each, so the token verifier sees all of them; 127.0.0.1 stays
 * clean for the other categories.
 */
import request from 'supertest';
import { exportJWK, generateKeyPair } from 'jose';
import { loadOrCreateLocalKey } from '../../services/core/auth/tokens.js';
import { newUid } from '../../services/core/dicom/index.js';
import { makeJpeg, makeVlPhoto } from '../fixtures/dicom.js';
import { checkArchive, type ArchiveReport } from '../fuzz/archive-check.js';
import { buildCase, CATEGORIES, type Category, type FuzzCase, type FuzzContext } from '../fuzz/cases.js';
import { buildSeeds, fixedUid, withUids } from '../fuzz/dicom-seeds.js';
import { createAgent, send, type FuzzResponse } from '../fuzz/http.js';
import { Rng } from '../fuzz/random.js';
import { binary, multipartBody, splitMultipart, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20260404);
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);
const ONLY = process.env.FUZZ_CASE;
/** A capture station and an EPR or two at once: enough to meet races, small enough for 2 cores. */
const CONCURRENCY = 3;
/** Share of the requests per category; wado runs last, on what the others stored. */
const SHARE: Record<Category, number> = {
  'stow-dicom': 0.28, 'stow-multipart': 0.1, capture: 0.07, 'stow-json': 0.06, qido: 0.25, jwt: 0.14, wado: 0.1,
};

interface Finding { case: string; problem: string; description: string }
interface Tally { sent: number; statuses: Map<number, number>; errors: Map<string, number>; skipped: number }

describe('fuzzing the running server', () => {
  let srv: TestServer;
  let ctx: FuzzContext;
  const findings: Finding[] = [];
  const tallies = new Map<Category, Tally>(CATEGORIES.map((c) => [c, { sent: 0, statuses: new Map(), errors: new Map(), skipped: 0 }]));
  let logStart = 0;
  const agent = createAgent(CONCURRENCY);
  /** The slowest requests, for the report (a slow way in is a denial of service waiting to happen). */
  const slowest: { case: string; ms: number; description: string }[] = [];
  /** Cases with an oversized body that the server answered early and cut (allowed; listed in the report). */
  const expectedResets: string[] = [];
  /** Fresh connections reset before any answer, whose one re-send was answered (printed, see run()). */
  const freshResets: string[] = [];
  /** The last exchange on each client socket, to explain a reset by what came before it on the connection. */
  const lastOnSocket = new Map<string, string>();

  beforeAll(async () => {
    srv = await startTestServer({
      // Client limits off: this test wants every input to reach the code behind them.
      RATE_LIMIT_PER_MINUTE: '0',
      // Small limits, so oversized inputs are cheap to send; no retries, so failed conversions settle at once.
      STOW_MAX_PART_MB: '16', CAPTURE_MAX_FILE_MB: '2', CAPTURE_MAX_FILES: '20', JOB_RETRY_LIMIT: '0', JOB_RETRY_DELAY_SECONDS: '0',
      STOW_CONVERT_WAIT_SECONDS: '60',
    }, ['api', 'worker']);
    const rng = new Rng(SEED);
    const seeds = await buildSeeds(rng);
    const key = await loadOrCreateLocalKey(srv.config.dataDir);
    const attacker = await generateKeyPair('ES256', { extractable: true });
    const tokens = {
      store: await srv.token('photographer', { subject: 'fuzz-store' }),
      read: await srv.token('clinician', { subject: 'fuzz-read' }),
      capture: await srv.token('photographer', { subject: 'fuzz-capture' }),
      admin: await srv.token('admin', { subject: 'fuzz-admin' }),
    };
    ctx = {
      seed: SEED, seeds, tokens, stored: [], known: [],
      shared: { studies: [fixedUid(rng), fixedUid(rng)], series: [fixedUid(rng), fixedUid(rng)], sops: [fixedUid(rng), fixedUid(rng), fixedUid(rng)] },
      jpeg: await makeJpeg(64, 48),
      jwt: {
        valid: [tokens.read, tokens.admin, await srv.token('epr'), await srv.token('clinician', { patientId: 'FUZZ0001' })],
        privateJwk: key.privateJwk, publicJwk: key.publicJwk, attackerPrivate: attacker.privateKey,
        attackerPublicJwk: await exportJWK(attacker.publicKey), issuer: srv.config.auth.issuer, audience: srv.config.auth.audience,
      },
    };
    // The shared studies and series exist before the fuzzing starts (one instance each, patient FUZZ0001).
    for (let i = 0; i < 2; i++) {
      const uids = { sop: fixedUid(rng), study: ctx.shared.studies[i], series: ctx.shared.series[i] };
      const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: withUids(seeds[0], uids) }]);
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${tokens.store}`).set('Content-Type', contentType).send(body).expect(200);
      ctx.known.push({ study: uids.study, series: uids.series });
    }
    logStart = srv.logs.length;
  }, 120_000);

  afterAll(async () => {
    agent.destroy();
    await srv?.destroy();
  });

  /** Sends one case and records what came back. */
  async function run(c: FuzzCase): Promise<FuzzResponse> {
    const id = `${c.category}:${c.index}`;
    c.request.headers = { ...c.request.headers, 'X-Request-Id': `fuzz-${c.category}-${c.index}` };
    let res = await send(srv.url, agent, c.request, 90_000);
    // A connection of its own (not a kept-alive one) reset within moments, with nothing else wrong:
    // seen a few times in ~10 runs, only while the process-killing suites (crash, scale-out) ran
    // beside this one on 2 cores, once for a request the server had answered 202. Not reproduced
    // alone or replayed. It is sent once more and printed; a second reset is a finding.
    if (res.kind === 'network-error' && !c.mayReset && !res.reused && (res.code === 'ECONNRESET' || res.code === 'EPIPE')) {
      freshResets.push(`${id} (${res.code} after ${res.ms} ms)`);
      res = await send(srv.url, agent, c.request, 90_000);
    }
    slowest.push({ case: id, ms: res.ms, description: c.description.slice(0, 160) });
    slowest.sort((a, b) => b.ms - a.ms).splice(5);
    const tally = tallies.get(c.category)!;
    if (res.kind === 'network-error') {
      // Node refused to send it (a header value it will not put on the wire): nothing reached the server.
      if (res.code.startsWith('CLIENT_REFUSED')) {
        tally.skipped++;
        return res;
      }
      tally.sent++;
      tally.errors.set(res.code, (tally.errors.get(res.code) ?? 0) + 1);
      if (c.mayReset && (res.code === 'ECONNRESET' || res.code === 'EPIPE')) {
        expectedResets.push(id);
        return res;
      }
      const before = res.socket && res.reused ? `; before it on this connection: ${lastOnSocket.get(res.socket) ?? '?'}` : '';
      findings.push({ case: id, problem: `connection ${res.code} after ${res.ms} ms: ${res.message}${before}`, description: c.description });
      return res;
    }
    if (res.socket) lastOnSocket.set(res.socket, `${id} ${res.status} (connection: ${res.headers.connection})`);
    tally.sent++;
    tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500) {
      findings.push({ case: id, problem: `${res.status} ${res.body.toString('utf8').slice(0, 300)}`, description: c.description });
    } else {
      const problem = c.check?.(res);
      if (problem) findings.push({ case: id, problem, description: c.description });
    }
    return res;
  }

  async function runAll(list: [Category, number][]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const [category, index] = list[next++];
        let c: FuzzCase;
        try {
          c = await buildCase(ctx, category, index);
        } catch (err) {
          // A bug of the fuzzer itself: reported like any finding, and the run goes on.
          findings.push({ case: `${category}:${index}`, problem: `the case could not be built: ${(err as Error).stack}`, description: '' });
          continue;
        }
        await run(c);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }

  /** Cases of the given categories, interleaved in proportion, so slow and fast ways in overlap. */
  function schedule(categories: Category[]): [Category, number][] {
    const list: [Category, number, number][] = [];
    for (const c of categories) {
      const n = Math.max(1, Math.round(RUNS * SHARE[c]));
      for (let i = 0; i < n; i++) list.push([c, i, (i + 0.5) / n]);
    }
    return list.sort((a, b) => a[2] - b[2]).map(([c, i]) => [c, i]);
  }

  async function refreshStored(): Promise<void> {
    const { rows } = await srv.runtime.pool.query<{ study_uid: string; series_uid: string; sop_uid: string; number_of_frames: number | null }>(
      "SELECT study_uid, series_uid, sop_uid, number_of_frames FROM instances WHERE status = 'stored' ORDER BY sop_uid");
    // By UID, not insertion order (which races between concurrent requests decide): the same seed picks the same instances.
    ctx.stored = rows.map((r) => ({ study: r.study_uid, series: r.series_uid, sop: r.sop_uid, frames: r.number_of_frames ?? 1 }));
    ctx.known = [...new Map(rows.map((r) => [r.series_uid, { study: r.study_uid, series: r.series_uid }])).values()];
  }

  /** Error-level lines the server logged since the fuzzing began: each is a finding. */
  function loggedErrors(): Finding[] {
    return srv.logs.slice(logStart).flatMap((line) => {
      let entry: { level?: number; msg?: string; requestId?: string; err?: { type?: string; message?: string; stack?: string }; role?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        return [];
      }
      if ((entry.level ?? 0) < 50) return [];
      const stack = entry.err?.stack?.split('\n').slice(1, 4).map((s) => s.trim()).join(' < ') ?? '';
      return [{
        case: entry.requestId?.replace(/^fuzz-(.*)-(\d+)$/, '$1:$2') ?? entry.role ?? 'background',
        problem: `logged "${entry.msg}": ${entry.err?.type ?? ''} ${entry.err?.message ?? ''} ${stack}`.slice(0, 600),
        description: '',
      }];
    });
  }

  function report(): string {
    const lines = [`fuzz seed ${SEED}, ${RUNS} requests planned, concurrency ${CONCURRENCY} (replay: FUZZ_SEED=${SEED} FUZZ_CASE=<category>:<index>)`];
    lines.push('category         sent   2xx   4xx  5xx  net  statuses');
    for (const [c, t] of tallies) {
      const count = (lo: number, hi: number) => [...t.statuses].filter(([s]) => s >= lo && s < hi).reduce((a, [, n]) => a + n, 0);
      const statuses = [...t.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(' ');
      const errors = [...t.errors].map(([e, n]) => `${e}:${n}`).join(' ');
      const net = [...t.errors.values()].reduce((a, n) => a + n, 0);
      lines.push(`${c.padEnd(15)} ${String(t.sent).padStart(5)} ${String(count(200, 300)).padStart(5)} ${String(count(400, 500)).padStart(5)} ${String(count(500, 600)).padStart(4)} ${String(net).padStart(4)}  ${statuses}${errors ? ` | ${errors}` : ''}${t.skipped ? ` | not sendable: ${t.skipped}` : ''}`);
    }
    if (expectedResets.length) lines.push(`connections cut after an early answer to an oversized body (allowed): ${expectedResets.join(', ')}`);
    if (freshResets.length) lines.push(`fresh connections reset before an answer, answered when sent again: ${freshResets.join(', ')}`);
    lines.push(`slowest: ${slowest.map((s) => `${s.case} ${s.ms} ms (${s.description})`).join('; ')}`);
    return lines.join('\n');
  }

  const describeFindings = (list: Finding[]) => list.slice(0, 12).map((f) => `${f.case}: ${f.problem}${f.description ? `\n    input: ${f.description.slice(0, 400)}` : ''}`).join('\n');

  if (ONLY) {
    it(`replays ${ONLY} (seed ${SEED})`, async () => {
      const [category, index] = ONLY.split(':');
      await refreshStored();
      const c = await buildCase(ctx, category as Category, Number(index));
      const res = await run(c);
      console.log(`${ONLY}: ${c.description}\n${c.request.method} ${c.request.path}\n`
        + (res.kind === 'response' ? `${res.status} ${JSON.stringify(res.headers)}\n${res.body.toString('utf8').slice(0, 4000)}` : `${res.code} ${res.message}`));
      expect([...findings, ...loggedErrors()]).toEqual([]);
    }, 120_000);
    return;
  }

  it('answers thousands of mutated requests without a 5xx, a reset, an internal failure or a logged error', async () => {
    const started = Date.now();
    await runAll(schedule(CATEGORIES.filter((c) => c !== 'wado')));
    await refreshStored();
    await runAll(schedule(['wado']));
    const errors = loggedErrors();
    console.log(`${report()}\nin ${((Date.now() - started) / 1000).toFixed(1)} s; ${ctx.stored.length} instances stored; `
      + `${findings.length} finding(s), ${errors.length} error log line(s)${findings.length + errors.length ? `:\n${describeFindings([...findings, ...errors])}` : ''}`);
    const sent = [...tallies.values()].reduce((a, t) => a + t.sent, 0);
    expect(sent).toBeGreaterThan(RUNS * 0.9);
    // Every category reached its code: some requests were accepted, some refused.
    for (const c of ['stow-dicom', 'capture', 'stow-json', 'qido', 'wado'] as const) {
      const t = tallies.get(c)!;
      expect({ c, accepted: [...t.statuses].some(([s]) => s < 300), refused: [...t.statuses].some(([s]) => s >= 400) }).toEqual({ c, accepted: true, refused: true });
    }
    expect(describeFindings([...findings, ...errors])).toBe('');
  }, 240_000);

  it('has the worker finish every job the fuzzing caused (conversions, renditions) without failing one', async () => {
    const open = () => srv.runtime.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pgboss.job WHERE name IN ('convert-photo', 'derive') AND state IN ('created', 'retry', 'active')");
    expect(await waitFor(async () => (await open()).rows[0].n, (n) => n === 0, { timeoutMs: 60_000, intervalMs: 250 })).toBe(0);
    const files = await srv.runtime.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM capture_files WHERE status IN ('queued', 'converting')");
    expect(files.rows[0].n).toBe(0);
    // A failed job is an exception the worker did not expect (an input's fault marks the file failed and completes the job).
    const { rows: failed } = await srv.runtime.pool.query<{ name: string; data: unknown; output: unknown }>(
      "SELECT name, data, output FROM pgboss.job WHERE name IN ('convert-photo', 'derive') AND state = 'failed' LIMIT 10");
    expect(failed.map((j) => `${j.name} ${JSON.stringify(j.data)}: ${JSON.stringify(j.output)?.slice(0, 300)}`)).toEqual([]);
    expect(describeFindings(loggedErrors())).toBe('');
  }, 90_000);

  it('leaves nothing partial: no pending row, no orphan object, no indexed object missing', async () => {
    const archive: ArchiveReport = await waitFor(() => checkArchive(srv.runtime.pool, srv.config.dataDir),
      (r) => r.pendingRows === 0 && r.orphans.length === 0 && r.missing.length === 0 && r.temporaries.length === 0, { timeoutMs: 20_000, intervalMs: 500 });
    console.log(`archive after fuzzing: ${archive.indexedObjects} indexed objects (size and SHA-256 checked), ${archive.objects} objects, `
      + `${archive.pendingRows} pending, ${archive.orphans.length} orphans, ${archive.missing.length} missing, ${archive.temporaries.length} temporaries`);
    expect({ ...archive, orphans: archive.orphans.slice(0, 10), missing: archive.missing.slice(0, 10), temporaries: archive.temporaries.slice(0, 10) })
      .toEqual(expect.objectContaining({ pendingRows: 0, orphans: [], missing: [], temporaries: [] }));
    expect(archive.indexedObjects).toBeGreaterThan(10);
  }, 120_000);

  it('still answers /healthz and a STOW → QIDO → WADO round trip correctly', async () => {
    await request(srv.url).get('/healthz').expect(200, { status: 'ok' });
    await request(srv.url).get('/readyz').expect(200);
    const uids = { studyUID: newUid(), seriesUID: newUid(), sopUID: newUid() };
    const photo = await makeVlPhoto({ ...uids, patientID: 'FUZZ9999', patientName: 'AFTER^FUZZ', jpeg: ctx.jpeg });
    const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: photo }]);
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${ctx.tokens.store}`).set('Content-Type', contentType)
      .set('Accept', 'application/dicom+json').send(body).expect(200);
    const found = await request(srv.url).get(`/dicomweb/instances?SOPInstanceUID=${uids.sopUID}`).set('Authorization', `Bearer ${ctx.tokens.read}`).expect(200);
    expect(found.body).toHaveLength(1);
    expect(found.body[0]['0020000D'].Value).toEqual([uids.studyUID]);
    const res = await request(srv.url).get(`/dicomweb/studies/${uids.studyUID}/series/${uids.seriesUID}/instances/${uids.sopUID}`)
      .set('Authorization', `Bearer ${ctx.tokens.read}`).set('Accept', 'multipart/related; type="application/dicom"; transfer-syntax=*')
      .buffer(true).parse(binary).expect(200);
    const [part] = splitMultipart(res.body, res.headers['content-type']);
    expect(part.body.equals(photo)).toBe(true);
  });
});
