/**
 * Loads the demo patients (demo-patients.ts) into a running Lucida through its real capture API:
 * one POST /api/captures per visit, exactly as a capture station sends it (multipart/form-data, the
 * camera JPEGs and a metadata part), then waits on GET /api/captures/{id} until the worker has
 * converted every photograph. Going through HTTP rather than calling the capture service keeps one
 * ingest path (route checks, audit events, the worker's conversion) and lets the CLI seed a server
 * running in another process as easily as one in its own.
 *
 * Idempotent: every visit is posted with a fixed Idempotency-Key and byte-identical content (the
 * photographs are deterministic), so a second run with the same options gets the first run's captures
 * back (`replayed: true`) and stores nothing. The key is scoped by the archive to the token's subject:
 * always seed as the same user ({@link DEMO_SEEDER_SUBJECT}). Different options (size, number of
 * studies) make different photographs and so different captures.
 *
 * Logs carry capture ids and UIDs only: never the demo names or NHS numbers.
 */
import type { Logger } from 'pino';
import { formatNhsNumber } from '../capture/nhs-number.js';
import type { ConsentLevel } from '../capture/types.js';
import { demoCaptureMetadata, demoPlan, type DemoCode, type DemoDateTime, type DemoPlanOptions } from './demo-patients.js';
import { renderDemoPhoto, type DemoPhotoScene } from './demo-photos.js';

/** The token subject demo captures are made as (Idempotency-Keys are per subject). */
export const DEMO_SEEDER_SUBJECT = 'demo-seeder';
/** Default photo size: 3.1 MP, above the image-QA minimum of 2 MP, 4:3 like most cameras. */
const DEFAULT_DEMO_SIZE = { width: 2048, height: 1536 } as const;
/** Version of the demo content: change it when the plan or the photographs change. */
const DEMO_VERSION = 'lucida-demo-v1';

export interface DemoSeedDeps {
  /** The API's base URL, e.g. http://127.0.0.1:8080 (no trailing slash needed). */
  baseUrl: string;
  /** A bearer token with the capture role (photographer or admin), subject {@link DEMO_SEEDER_SUBJECT}. */
  token: string;
  log?: Logger;
}

export interface DemoSeedOptions extends DemoPlanOptions {
  /** Photo size in pixels (default 2048 × 1536; at least 640 × 480). */
  size?: { width: number; height: number };
  /** Wait until every photograph is stored (default true). Without a worker running, pass false. */
  waitForConversion?: boolean;
  /** Longest wait for the conversions, all captures together (default 180 s). */
  timeoutMs?: number;
}

export interface SeededImage {
  fileName: string;
  status: 'queued' | 'converting' | 'stored' | 'failed';
  seriesInstanceUID: string;
  sopInstanceUID: string;
  seriesNumber: number;
  instanceNumber: number;
  site: DemoCode;
  laterality: 'R' | 'L' | 'B' | 'U';
  view?: DemoCode;
  seriesDescription: string;
  lesion: DemoPhotoScene['lesion'];
  width: number;
  height: number;
}

export interface SeededStudy {
  visit: number;
  captureId: string;
  studyInstanceUID: string;
  /** True when this run found the capture made by an earlier one (nothing new stored). */
  replayed: boolean;
  /** When the photographs were taken (EXIF DateTimeOriginal): what the archive shows as ContentDate/AcquisitionDateTime. */
  takenAt: DemoDateTime;
  consent: ConsentLevel;
  description: string;
  images: SeededImage[];
}

export interface SeededPatient {
  number: number;
  family: string;
  given: string;
  dicomName: string;
  nhsNumber: string;
  issuer: 'NHS';
  birthDate: string;
  sex: 'M' | 'F';
  studies: SeededStudy[];
}

export interface SeededDemo {
  size: { width: number; height: number };
  patients: SeededPatient[];
}

/** A refusal or failure of the archive while seeding. The message names capture ids, never patients. */
class DemoSeedError extends Error {}

interface CaptureStatus {
  id: string;
  status: 'processing' | 'stored' | 'partial' | 'failed';
  studyInstanceUID: string;
  files: {
    index: number; fileName: string; status: SeededImage['status']; reason?: string;
    seriesInstanceUID: string; sopInstanceUID: string; seriesNumber: number; instanceNumber: number;
  }[];
}

/**
 * Seeds the demo (see the module comment) and returns what was stored: patients, their NHS numbers,
 * and for each visit the capture id, StudyInstanceUID and each photograph's UIDs.
 * @throws DemoSeedError when the archive refuses a capture or a photograph fails to convert.
 */
export async function seedDemo(deps: DemoSeedDeps, opts: DemoSeedOptions = {}): Promise<SeededDemo> {
  const size = opts.size ?? DEFAULT_DEMO_SIZE;
  const plan = demoPlan(opts);
  const firstPatientStudies = plan[0].visits.length;
  const base = deps.baseUrl.replace(/\/+$/, '');
  const patients: SeededPatient[] = [];
  for (const p of plan) {
    const studies: SeededStudy[] = [];
    for (const v of p.visits) {
      // Patient 1's visits depend on how many there are (dates, lesion sizes); the others' do not.
      const scope = p.number === 1 ? `p1:v${v.visit}of${firstPatientStudies}` : `p${p.number}:v${v.visit}`;
      const key = `${DEMO_VERSION}:${scope}:${size.width}x${size.height}`;
      const form = new FormData();
      form.append('metadata', JSON.stringify(demoCaptureMetadata(p, v)));
      for (const img of v.images) {
        const jpeg = await renderDemoPhoto({ ...img.scene, ...size, takenAt: { exif: v.takenAt.exif, offset: v.takenAt.offset } });
        form.append('files', new Blob([jpeg], { type: 'image/jpeg' }), img.fileName);
      }
      const res = await fetch(`${base}/api/captures`, {
        method: 'POST', body: form, headers: { authorization: `Bearer ${deps.token}`, 'idempotency-key': key },
      });
      if (res.status !== 202) throw await refusal(res, `the demo capture of patient ${p.number}, visit ${v.visit}`);
      const doc = await res.json() as CaptureStatus;
      const replayed = res.headers.get('idempotent-replayed') === 'true';
      deps.log?.info({ captureId: doc.id, studyInstanceUID: doc.studyInstanceUID, replayed }, 'demo capture submitted');
      studies.push({
        visit: v.visit, captureId: doc.id, studyInstanceUID: doc.studyInstanceUID, replayed, takenAt: v.takenAt,
        consent: v.consent, description: v.description, images: seededImages(doc, v.images, size),
      });
    }
    patients.push({
      number: p.number, family: p.family, given: p.given, dicomName: p.dicomName, nhsNumber: p.nhsNumber, issuer: 'NHS',
      birthDate: p.birthDate, sex: p.sex, studies,
    });
  }
  if (opts.waitForConversion ?? true) {
    const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
    for (const study of patients.flatMap((p) => p.studies)) {
      const doc = await waitForCapture(base, deps.token, study.captureId, deadline);
      for (const img of study.images) img.status = doc.files.find((f) => f.fileName === img.fileName)!.status;
    }
  }
  const studies = patients.flatMap((p) => p.studies);
  deps.log?.info({
    patients: patients.length, studies: studies.length, images: studies.reduce((n, s) => n + s.images.length, 0),
    replayed: studies.filter((s) => s.replayed).length,
  }, 'demo data loaded');
  return { size: { width: size.width, height: size.height }, patients };
}

function seededImages(doc: CaptureStatus, planned: ReturnType<typeof demoPlan>[number]['visits'][number]['images'],
  size: { width: number; height: number }): SeededImage[] {
  return planned.map((img) => {
    const f = doc.files.find((x) => x.fileName === img.fileName);
    if (!f) throw new DemoSeedError(`capture ${doc.id} has no file ${img.fileName}`);
    return {
      fileName: img.fileName, status: f.status, seriesInstanceUID: f.seriesInstanceUID, sopInstanceUID: f.sopInstanceUID,
      seriesNumber: f.seriesNumber, instanceNumber: f.instanceNumber, site: img.site, laterality: img.laterality,
      ...(img.view ? { view: img.view } : {}), seriesDescription: img.seriesDescription, lesion: img.scene.lesion, ...size,
    };
  });
}

async function waitForCapture(base: string, token: string, id: string, deadline: number): Promise<CaptureStatus> {
  for (;;) {
    const res = await fetch(`${base}/api/captures/${id}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw await refusal(res, `the status of demo capture ${id}`);
    const doc = await res.json() as CaptureStatus;
    if (doc.status === 'stored') return doc;
    if (doc.status !== 'processing') {
      const reasons = doc.files.filter((f) => f.status === 'failed').map((f) => `${f.fileName}: ${f.reason ?? 'failed'}`);
      throw new DemoSeedError(`demo capture ${id} ended ${doc.status} (${reasons.join('; ')})`);
    }
    if (Date.now() > deadline) throw new DemoSeedError(`demo capture ${id} is still being converted: is a worker running?`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function refusal(res: Response, what: string): Promise<DemoSeedError> {
  let detail = '';
  try {
    const body = await res.json() as { title?: string; detail?: string };
    detail = body.detail ?? body.title ?? '';
  } catch { /* not problem+json */ }
  return new DemoSeedError(`${what} was refused: HTTP ${res.status}${detail ? ` ${detail}` : ''}`);
}

/**
 * The demo patients as a short table for a person at a terminal (stdout, never a log): names, NHS
 * numbers, studies and their date range.
 */
export function describeDemo(demo: SeededDemo): string {
  const lines = ['Demo patients (synthetic: not real people):'];
  for (const p of demo.patients) {
    const dates = p.studies.map((s) => s.takenAt.date);
    const range = dates.length > 1 ? `${dates[0]} to ${dates[dates.length - 1]}` : dates[0];
    const images = p.studies.reduce((n, s) => n + s.images.length, 0);
    lines.push(`  ${`${p.family}, ${p.given}`.padEnd(18)} NHS ${formatNhsNumber(p.nhsNumber)}  ${p.sex} ${p.birthDate}  `
      + `${p.studies.length} ${p.studies.length === 1 ? 'study' : 'studies'}, ${images} photographs (${range})`);
  }
  return lines.join('\n');
}
