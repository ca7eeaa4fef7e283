/**
 * The demo data end to end on a real server (API + worker): seedDemo loads the patients through the
 * capture API and the worker; DICOMweb then shows exactly the planned patients, studies and
 * instances, with the acquisition dates the photographs' EXIF carried, in the designed order; a
 * second seeding (in this process, and from the `lucida seed-demo` command) adds nothing; a rendered
 * photograph shows the colour patches in their colours and the ruler where the layout says; and
 * `lucida launch` prints a one-time viewer URL that the exchange accepts, recorded as launched by 'cli'.
 * Last, `lucida all --demo` on a fresh DATA_DIR starts, seeds itself and prints a working viewer link.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import request from 'supertest';
import { demoPhotoLayout } from '../../services/core/demo/demo-photos.js';
import { DEMO_SEEDER_SUBJECT, describeDemo, seedDemo, type SeededDemo, type SeededStudy } from '../../services/core/demo/seed.js';
import type { DicomJson } from '../../services/core/dicom/json.types.js';
import { jsonValue } from '../helpers/dicom-json.js';
import { freePort } from '../helpers/net.js';
import { binary, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const SIZE = { width: 640, height: 480 };
const OPTIONS = { size: SIZE, studiesForFirstPatient: 3, patients: 3 };
const TAG = {
  StudyUID: '0020000D', SeriesUID: '0020000E', SopUID: '00080018', PatientName: '00100010', ContentDate: '00080023', AcquisitionDateTime: '0008002A',
  ImageLaterality: '00200062', AnatomicRegionSequence: '00082218', ViewCodeSequence: '00540220', CodeValue: '00080100',
};

describe('demo data', () => {
  let srv: TestServer;
  let demo: SeededDemo;
  let clinician: string;
  let seederToken: string;

  beforeAll(async () => {
    srv = await startTestServer({}, ['api', 'worker']);
    clinician = await srv.token('clinician');
    seederToken = await srv.token('photographer', { subject: DEMO_SEEDER_SUBJECT });
    demo = await seedDemo({ baseUrl: srv.url, token: seederToken }, OPTIONS);
  }, 90_000);
  afterAll(async () => { await srv?.destroy(); });

  const qido = async (path: string): Promise<DicomJson[]> =>
    (await request(srv.url).get(path).set('Authorization', `Bearer ${clinician}`).expect(200)).body;
  /** The archive's stored metadata of one demo photograph (WADO-RS). */
  const metadata = async (study: SeededStudy, img: SeededStudy['images'][number]) =>
    ((await request(srv.url)
      .get(`/dicomweb/studies/${study.studyInstanceUID}/series/${img.seriesInstanceUID}/instances/${img.sopInstanceUID}/metadata`)
      .set('Authorization', `Bearer ${clinician}`).expect(200)).body as DicomJson[])[0];
  /** The first code of a code sequence (e.g. AnatomicRegionSequence) in a stored instance. */
  const codeIn = (meta: DicomJson, sequence: string) => jsonValue(jsonValue(meta, sequence) as DicomJson, TAG.CodeValue);
  const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'services/cli.ts', ...args], {
    env: {
      ...process.env, DATA_DIR: srv.config.dataDir, EMBEDDED_PG_PORT: String(srv.config.embeddedPostgresPort),
      PORT: String(srv.config.port), PUBLIC_BASE_URL: srv.url, LOG_LEVEL: 'warn',
    },
  });

  it('stores the planned patients, each photograph converted', async () => {
    expect(demo.patients.map((p) => [p.dicomName, p.studies.length, p.studies.flatMap((s) => s.images).length]))
      .toEqual([['DEMO^Alice', 3, 6], ['DEMO^Bob', 2, 3], ['DEMO^Carol', 1, 2]]);
    for (const p of demo.patients) {
      const studies = await qido(`/dicomweb/studies?PatientID=${p.nhsNumber}`);
      expect(studies.map((s) => jsonValue(s, TAG.StudyUID)).sort()).toEqual(p.studies.map((s) => s.studyInstanceUID).sort());
      for (const s of studies) expect(jsonValue(s, TAG.PatientName)).toEqual({ Alphabetic: p.dicomName });
      for (const img of p.studies.flatMap((s) => s.images)) expect(img.status).toBe('stored');
    }
    expect(describeDemo(demo)).toContain('DEMO, Alice');
  });

  it('keeps the EXIF acquisition date of every photograph, the visits in the designed order', async () => {
    const contentDates = new Map<string, unknown>();
    for (const p of demo.patients) {
      const instances = await qido(`/dicomweb/instances?PatientID=${p.nhsNumber}&includefield=${TAG.ContentDate}&includefield=${TAG.AcquisitionDateTime}`);
      expect(instances).toHaveLength(p.studies.flatMap((s) => s.images).length);
      for (const study of p.studies) {
        for (const img of study.images) {
          const found = instances.find((i) => jsonValue(i, TAG.SopUID) === img.sopInstanceUID)!;
          expect(jsonValue(found, TAG.StudyUID)).toBe(study.studyInstanceUID);
          expect(jsonValue(found, TAG.ContentDate)).toBe(study.takenAt.contentDate);
          expect(jsonValue(found, TAG.AcquisitionDateTime)).toBe(study.takenAt.acquisitionDateTime);
          contentDates.set(img.sopInstanceUID, jsonValue(found, TAG.ContentDate));
        }
      }
      const times = p.studies.map((s) => new Date(s.takenAt.iso).getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    // As the archive stores them: Alice's three visits over twelve months, the monitored naevus
    // photographed at the same site and side at every one.
    const alice = demo.patients[0];
    expect(alice.studies.map((s) => contentDates.get(s.images[0].sopInstanceUID))).toEqual(['20250107', '20250707', '20251230']);
    const monitored = await Promise.all(alice.studies.map((s) => metadata(s, s.images[0])));
    expect(monitored.map((m) => [codeIn(m, TAG.AnatomicRegionSequence), jsonValue(m, TAG.ImageLaterality)]))
      .toEqual([['70559009', 'R'], ['70559009', 'R'], ['70559009', 'R']]);
  });

  it('records body site, laterality, view and camera in the instances', async () => {
    const study = demo.patients[0].studies[0];
    const meta = await metadata(study, study.images[1]); // the oblique view of the forearm
    expect(jsonValue(meta, TAG.ImageLaterality)).toBe('R');
    expect(jsonValue(meta, '00080070')).toBe('Canon');
    expect(jsonValue(meta, '00081090')).toBe('EOS R6');
    expect(codeIn(meta, TAG.AnatomicRegionSequence)).toBe('70559009');
    expect(codeIn(meta, TAG.ViewCodeSequence)).toBe('399182000'); // oblique
    const face = await metadata(study, study.images[2]);
    expect(codeIn(face, TAG.AnatomicRegionSequence)).toBe('73897004'); // Skin of face
    expect(jsonValue(face, TAG.ImageLaterality)).toBe('U');
  });

  it('renders the photograph in true colour: each patch centre within 6 levels, ruler ticks where the layout puts them', async () => {
    const study = demo.patients[0].studies[0];
    const img = study.images[0];
    const res = await request(srv.url)
      .get(`/dicomweb/studies/${study.studyInstanceUID}/series/${img.seriesInstanceUID}/instances/${img.sopInstanceUID}/rendered`)
      .set('Authorization', `Bearer ${clinician}`).set('Accept', 'image/png').buffer(true).parse(binary).expect(200);
    const { data, info } = await sharp(res.body as Buffer).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([SIZE.width, SIZE.height]);
    const at = (x: number, y: number) => {
      const i = (Math.floor(y) * info.width + Math.floor(x)) * info.channels;
      return [data[i], data[i + 1], data[i + 2]];
    };
    const layout = demoPhotoLayout(SIZE.width, SIZE.height, img.lesion.diameterMm);
    for (const p of layout.patches) {
      const got = at(p.x + p.w / 2, p.y + p.h / 2);
      got.forEach((v, c) => expect(Math.abs(v - p.rgb[c])).toBeLessThanOrEqual(6));
    }
    const { ruler, pxPerMm } = layout;
    for (const x of [ruler.x0, ruler.x5cm, ruler.x10cm]) {
      expect(Math.max(...at(x, ruler.y))).toBeLessThan(140);
      expect(Math.min(...at(x + pxPerMm / 2, ruler.y))).toBeGreaterThan(200);
    }
    // The lesion is dark at its centre.
    expect(at(layout.lesion.cx, layout.lesion.cy)[0]).toBeLessThan(130);
  });

  it('adds nothing when seeded again, here or from `lucida seed-demo`', async () => {
    const count = async () => (await Promise.all(demo.patients.map((p) => qido(`/dicomweb/instances?PatientID=${p.nhsNumber}`))))
      .map((list) => list.length);
    const before = await count();
    const again = await seedDemo({ baseUrl: srv.url, token: seederToken }, OPTIONS);
    const studies = (d: SeededDemo) => d.patients.flatMap((p) => p.studies);
    expect(studies(again).every((s) => s.replayed)).toBe(true);
    expect(studies(again).map((s) => [s.captureId, s.studyInstanceUID])).toEqual(studies(demo).map((s) => [s.captureId, s.studyInstanceUID]));

    const { stdout } = await cli(['seed-demo', '--url', srv.url, '--size', `${SIZE.width}x${SIZE.height}`, '--studies', '3', '--patients', '3']);
    expect(stdout).toContain('Already loaded: nothing added.');
    expect(stdout).toContain(`npm run launch -- --patient ${demo.patients[0].nhsNumber}`);
    expect(await count()).toEqual(before);
  }, 60_000);

  it('`lucida launch` prints a one-time viewer URL the exchange accepts, recorded as launched by cli', async () => {
    const alice = demo.patients[0];
    const { stdout } = await cli(['launch', '--patient', alice.nhsNumber, '--issuer', 'NHS', '--user', 'demo-clinician']);
    const url = stdout.trim();
    expect(url).toMatch(new RegExp(`^${srv.url.replace(/\./g, '\\.')}/viewer/#launch=[A-Za-z0-9_-]{43}$`));
    const code = new URL(url).hash.replace(/^#launch=/, '');
    const session = await request(srv.url).post('/api/launch/exchange').send({ code }).expect(200);
    expect(session.body).toMatchObject({ patient: { id: alice.nhsNumber, issuer: 'NHS' }, user: { id: 'demo-clinician' } });
    // The session sees this patient's studies, and only them.
    const seen = await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${session.body.accessToken}`).expect(200);
    expect((seen.body as DicomJson[]).map((s) => jsonValue(s, TAG.StudyUID)).sort()).toEqual(alice.studies.map((s) => s.studyInstanceUID).sort());
    await request(srv.url).post('/api/launch/exchange').send({ code }).expect(401); // once only

    // Another patient's study named with this patient: refused like POST /api/launch refuses it.
    const other = demo.patients[1].studies[0].studyInstanceUID;
    await expect(cli(['launch', '--patient', alice.nhsNumber, '--study', other])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('no such study') });

    const admin = await srv.token('admin');
    const audit = await request(srv.url).get('/api/audit?user=cli&action=launch').set('Authorization', `Bearer ${admin}`).expect(200);
    expect(audit.body.events.map((e: Record<string, unknown>) => [e.outcome, e.clientId, e.onBehalfOf, e.method, e.patientIds]))
      .toEqual(expect.arrayContaining([
        ['success', 'lucida-cli', 'demo-clinician', 'CLI', [alice.nhsNumber]],
        ['not-found', 'lucida-cli', expect.any(String), 'CLI', [alice.nhsNumber]],
      ]));
  }, 60_000);
});

describe('lucida all --demo', () => {
  let dataDir: string;
  beforeAll(async () => { dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-demo-')); });
  afterAll(async () => { await rm(dataDir, { recursive: true, force: true }); });

  it('starts, loads the demo in the background, prints the patients and a viewer link that works, and stops cleanly', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(await freePort()),
      PUBLIC_BASE_URL: base, LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'all', '--demo', '--size', '640x480', '--studies', '2', '--patients', '1'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    try {
      await waitFor(() => out, (o) => o.includes('A new link at any time') || o.includes('could not be loaded') || child.exitCode !== null, { timeoutMs: 60_000 });
      expect(out).toContain('DEMO, Alice');
      expect(out).toContain('2 studies, 5 photographs');
      const url = /(http:\S+\/viewer\/#launch=\S+)/.exec(out)?.[1];
      expect(url).toBeDefined();
      const session = await request(base).post('/api/launch/exchange').send({ code: new URL(url!).hash.replace(/^#launch=/, '') }).expect(200);
      const studies = await request(base).get('/dicomweb/studies').set('Authorization', `Bearer ${session.body.accessToken}`).expect(200);
      expect(studies.body).toHaveLength(2);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 90_000);
});
