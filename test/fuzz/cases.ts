/**
 * The fuzz cases: one HTTP request per (category, index), built from that pair and the run's seed
 * alone (random.ts), so any case can be rebuilt and replayed by itself. Each category aims the
 * mutators at one way in:
 *   stow-dicom      mutated Part 10 files, 1–3 per STOW-RS request, in a well-formed body
 *   stow-multipart  mostly valid instances in mutated multipart/related bodies
 *   capture         the capture API: mutated multipart/form-data, dispositions, metadata JSON, files
 *   stow-json       STOW-RS metadata + bulk data: mutated DICOM JSON, missing or odd image parts
 *   qido            random QIDO-RS searches
 *   jwt             mutated and forged bearer tokens
 *   wado            retrievals (instance, metadata, frames, rendered, thumbnail, bulk data, WADO-URI) of
 *                   whatever the other categories got stored, with odd Accept headers and parameters
 * A case may carry a check of its answer beyond "no 5xx" (e.g. a valid instance must be stored, a
 * forged token must never be accepted).
 */
import { stowJsonPhotoDataset } from '../fixtures/photos.js';
import { TAG } from '../../services/core/dicom/dictionary.js';
import type { FuzzRequest, FuzzResponse } from './http.js';
import { dicomCase, validDicom, type SharedUids } from './dicom-mutators.js';
import { fixedUid, type Seed } from './dicom-seeds.js';
import { jsonCase } from './json-mutators.js';
import { jwtCase, type JwtKeys } from './jwt-mutators.js';
import { multipartCase, type PartSpec } from './multipart-mutators.js';
import { qidoCase } from './qido-generators.js';
import { nastyString, Rng } from './random.js';

export const CATEGORIES = ['stow-dicom', 'stow-multipart', 'capture', 'stow-json', 'qido', 'jwt', 'wado'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface FuzzCase {
  category: Category;
  index: number;
  request: FuzzRequest;
  description: string;
  /**
   * The body is over a size limit, so the server may answer early and close: a reset while sending is
   * then the expected way for the exchange to end (counted, not a finding).
   */
  mayReset?: boolean;
  /** A problem with a non-5xx answer (undefined: fine). */
  check?: (res: Extract<FuzzResponse, { kind: 'response' }>) => string | undefined;
}

export interface StoredRef { study: string; series: string; sop: string; frames: number }

export interface FuzzContext {
  seed: number;
  seeds: Seed[];
  shared: SharedUids;
  tokens: { store: string; read: string; capture: string; admin: string };
  jwt: JwtKeys;
  /** A small camera-like JPEG for the photo ways in. */
  jpeg: Buffer;
  /** Studies and series known to exist (QIDO paths), and stored instances (WADO). */
  known: { study: string; series: string }[];
  stored: StoredRef[];
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

/** PS3.18 failure reasons that mean "our fault": a hidden 500. */
const PROCESSING_FAILURES = new Set([0x0110, 0xa700]);
/** Processing failures that are a client race or a capture still converting, not a bug. */
const BENIGN_PROCESSING = /being stored by another request|taken over by another request|^pending: /;

/** Failed SOP Sequence entries that report an internal failure, as a finding. */
function internalFailures(res: { status: number; body: Buffer; headers: Record<string, unknown> }): string | undefined {
  if (!String(res.headers['content-type'] ?? '').includes('json')) return undefined;
  let body: Record<string, { Value?: Record<string, { Value?: unknown[] }>[] }>;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    return res.status < 300 ? 'a 2xx answer that is not valid JSON' : undefined;
  }
  for (const f of body?.[TAG.FailedSOPSequence]?.Value ?? []) {
    const reason = f[TAG.FailureReason]?.Value?.[0];
    const comment = String(f['00000902']?.Value?.[0] ?? '');
    if (typeof reason === 'number' && PROCESSING_FAILURES.has(reason) && !BENIGN_PROCESSING.test(comment)) {
      return `failure reason 0x${reason.toString(16)} (the archive's own failure): ${comment}`;
    }
  }
  return undefined;
}

function referencedSops(res: { body: Buffer }): string[] {
  try {
    const body = JSON.parse(res.body.toString('utf8'));
    return (body?.[TAG.ReferencedSOPSequence]?.Value ?? []).map((r: Record<string, { Value?: string[] }>) => r[TAG.ReferencedSOPInstanceUID]?.Value?.[0]);
  } catch {
    return [];
  }
}

export async function buildCase(ctx: FuzzContext, category: Category, index: number): Promise<FuzzCase> {
  const rng = Rng.forCase(ctx.seed, category, index);
  switch (category) {
    case 'stow-dicom': return stowDicom(ctx, rng, index);
    case 'stow-multipart': return stowMultipart(ctx, rng, index);
    case 'capture': return capture(ctx, rng, index);
    case 'stow-json': return stowJson(ctx, rng, index);
    case 'qido': {
      const q = qidoCase(rng, ctx.known);
      return { category, index, description: q.description, request: { method: 'GET', path: q.path, headers: { ...bearer(ctx.tokens.read), ...q.headers } } };
    }
    case 'jwt': return jwt(ctx, rng, index);
    default: return wado(ctx, rng, index);
  }
}

function stowDicom(ctx: FuzzContext, rng: Rng, index: number): FuzzCase {
  const n = rng.small(3);
  const files = Array.from({ length: n }, () => dicomCase(rng, ctx.seeds, ctx.shared));
  const boundary = `fuzz-${index}-${rng.int(0, 1e9)}`;
  const parts: Buffer[] = [];
  for (const f of files) parts.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), f.bytes);
  const body = Buffer.concat([...parts, Buffer.from(`\r\n--${boundary}--\r\n`)]).subarray(2);
  const toStudy = rng.chance(0.1) ? `/${rng.chance(0.5) ? ctx.shared.studies[0] : fixedUid(rng)}` : '';
  const mustStore = files.filter((f) => f.valid && !f.shared && !toStudy).map((f) => f.sopInstanceUID!);
  return {
    category: 'stow-dicom', index, description: files.map((f) => f.description).join(' | '),
    request: {
      method: 'POST', path: `/dicomweb/studies${toStudy}`, body,
      headers: { ...bearer(ctx.tokens.store), 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, Accept: 'application/dicom+json' },
    },
    check: (res) => {
      const internal = internalFailures(res);
      if (internal) return internal;
      // A valid instance with UIDs of its own must be stored, whatever its neighbours in the request.
      const stored = referencedSops(res);
      const missing = mustStore.filter((sop) => !stored.includes(sop));
      return missing.length ? `valid instance(s) not stored (${res.status}): ${missing.join(', ')}` : undefined;
    },
  };
}

function stowMultipart(ctx: FuzzContext, rng: Rng, index: number): FuzzCase {
  const n = rng.int(1, 3);
  const parts: PartSpec[] = [];
  for (let i = 0; i < n; i++) {
    // Mostly valid instances, so what the multipart reader gets right is stored.
    const f = rng.chance(0.7) ? validDicom(rng, ctx.seeds) : dicomCase(rng, ctx.seeds, ctx.shared);
    const headers: [string, string][] = [['Content-Type', 'application/dicom']];
    if (rng.chance(0.2)) headers.push(['Content-Location', `http://station.example/${i}`]);
    if (rng.chance(0.1)) headers.push(['Content-ID', `<part-${i}@fuzz>`]);
    parts.push({ headers, body: f.bytes });
  }
  const m = multipartCase(rng, parts, { essence: 'multipart/related', type: 'application/dicom' });
  const headers: Record<string, string> = { ...bearer(ctx.tokens.store), Accept: 'application/dicom+json' };
  if (m.contentType !== undefined) headers['Content-Type'] = m.contentType;
  return {
    category: 'stow-multipart', index, description: m.description,
    request: { method: 'POST', path: '/dicomweb/studies', headers, body: m.body },
    check: internalFailures, mayReset: m.oversized,
  };
}

const PATIENT = {
  nhsNumber: '943 476 5919', hospitalNumber: { value: 'FUZZ1234', issuer: 'RXH' },
  name: { family: 'Fuzz', given: ['Tester'] }, birthDate: '1980-02-29', sex: 'F',
};

function captureMetadata(files: string[]) {
  return {
    patient: PATIENT,
    consent: { level: 'teaching', recordedBy: 'A Nurse', recordedAt: '2026-01-24T09:00:00Z' },
    photographer: 'GRAPHER^P', site: { institution: 'Royal Example Hospital', studio: 'Studio 2' },
    clinicalNote: 'Fuzz capture.',
    groups: [{ bodySite: { code: '70559009', scheme: 'SCT', display: 'Forearm' }, laterality: 'R', view: { code: '399033003' }, seriesDescription: 'Right forearm', files }],
  };
}

/** The photograph of a case: usually the small JPEG, sometimes damaged or not an image at all. */
function photoBytes(ctx: FuzzContext, rng: Rng): { bytes: Buffer; type: string; what?: string } {
  const kind = rng.weighted<string>([[8, 'jpeg'], [1, 'damaged'], [1, 'other']]);
  if (kind === 'jpeg') return { bytes: ctx.jpeg, type: 'image/jpeg' };
  if (kind === 'damaged') {
    const b = Buffer.from(ctx.jpeg);
    const what = rng.pick(['truncated', 'flipped', 'header'] as const);
    if (what === 'truncated') return { bytes: b.subarray(0, rng.int(0, b.length)), type: 'image/jpeg', what: 'truncated JPEG' };
    if (what === 'header') { for (let i = 0; i < 8; i++) b[rng.int(2, Math.min(b.length - 1, 600))] = rng.int(0, 255); return { bytes: b, type: 'image/jpeg', what: 'JPEG headers damaged' }; }
    for (let i = 0; i < 16; i++) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
    return { bytes: b, type: 'image/jpeg', what: 'JPEG bits flipped' };
  }
  return rng.pick([
    { bytes: Buffer.from('not an image'), type: 'text/plain', what: 'text' },
    { bytes: ctx.seeds[0].bytes, type: 'application/dicom', what: 'a DICOM file' },
    { bytes: ctx.jpeg, type: rng.pick(['image/png', 'image/heic', 'image/tiff', 'application/octet-stream']), what: 'JPEG with another type' },
    { bytes: Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n'), rng.bytes(rng.int(0, 200))]), type: 'image/png', what: 'PNG signature, garbage' },
    { bytes: Buffer.from([0xff, 0xd8, 0xff]), type: 'image/jpeg', what: 'SOI only' },
    { bytes: Buffer.alloc(0), type: 'image/jpeg', what: 'empty file' },
  ]);
}

function capture(ctx: FuzzContext, rng: Rng, index: number): FuzzCase {
  const what: string[] = [];
  const n = rng.int(1, 3);
  const names = Array.from({ length: n }, (_, i) => (rng.chance(0.05) ? nastyString(rng).replace(/["\r\n\\]/g, '').slice(0, 300) || `f${i}.jpg` : `photo-${i}.jpg`));
  const meta = rng.chance(0.5) ? jsonCase(rng, captureMetadata(names), { cleanRate: 0.3 }) : { text: JSON.stringify(captureMetadata(names)), description: 'clean', clean: true };
  if (!meta.clean) what.push(`metadata: ${meta.description}`);
  const parts: PartSpec[] = [];
  const metaHeaders: [string, string][] = [['Content-Disposition', 'form-data; name="metadata"'], ['Content-Type', 'application/json']];
  if (rng.chance(0.1)) metaHeaders[1] = ['Content-Type', rng.pick(['text/plain', 'application/json; charset=latin1', 'application/json; charset=utf-16'])];
  parts.push({ headers: metaHeaders, body: Buffer.from(meta.text, 'utf8') });
  for (const name of names) {
    const photo = photoBytes(ctx, rng);
    if (photo.what) what.push(photo.what);
    parts.push({ headers: [['Content-Disposition', `form-data; name="files"; filename="${name}"`], ['Content-Type', photo.type]], body: photo.bytes });
  }
  if (rng.chance(0.3)) {
    const p = rng.pick(parts);
    const disposition = rng.pick([
      'form-data', 'form-data; name=', 'form-data; name="metadata"; name="files"', 'form-data; filename="a.jpg"', 'attachment; name="files"; filename="x.jpg"',
      'form-data; name="files"; filename*=UTF-8\'\'%E2%82%AC.jpg', 'form-data; name="files"; filename="a\\"b.jpg"', 'form-data; name="other"', 'form-data; name="metadata"',
      'form-data; name="files"; filename=""', 'form-data; name="files"; filename="../../etc/passwd"', `form-data; name="files"; filename="${'n'.repeat(rng.int(300, 5000))}"`,
      ';;;', '', 'form-data; name="files"; filename="photo-0.jpg"',
    ]);
    p.headers = p.headers.filter(([k]) => k !== 'Content-Disposition');
    if (disposition) p.headers.push(['Content-Disposition', disposition]);
    what.push(`disposition ${JSON.stringify(disposition).slice(0, 40)}`);
  }
  if (rng.chance(0.1)) { parts.splice(rng.int(0, parts.length - 1), 1); what.push('a part removed'); }
  if (rng.chance(0.05)) { parts.push(parts[0]); what.push('metadata twice'); }
  const m = multipartCase(rng, parts, { essence: 'multipart/form-data', cleanRate: 0.5 });
  if (!m.clean) what.push(m.description);
  const headers: Record<string, string> = { ...bearer(rng.chance(0.9) ? ctx.tokens.capture : ctx.tokens.admin) };
  if (m.contentType !== undefined) headers['Content-Type'] = m.contentType;
  if (rng.chance(0.15)) {
    headers['Idempotency-Key'] = rng.pick(['fuzz-key-1', 'fuzz-key-2', '"quoted-key"', '', ' ', 'k'.repeat(300), 'é', `fuzz-${index}`]);
    what.push('Idempotency-Key');
  }
  return { category: 'capture', index, description: what.join('; ') || 'clean', request: { method: 'POST', path: '/api/captures', headers, body: m.body }, mayReset: m.oversized };
}

function stowJsonDataset(rng: Rng): Record<string, unknown> {
  const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
  const ds = stowJsonPhotoDataset({
    '00100010': v('PN', { Alphabetic: 'Fuzz^Tester' }),
    '00101002': v('SQ', { '00100020': v('LO', 'FUZZ1234'), '00100021': v('LO', 'RXH'), '00100022': v('CS', 'TEXT') }),
    '00204000': v('LT', 'Fuzz.'),
  });
  if (rng.chance(0.3)) ds['00080018'] = v('UI', fixedUid(rng));
  return ds;
}

function stowJson(ctx: FuzzContext, rng: Rng, index: number): FuzzCase {
  const what: string[] = [];
  const datasets = Array.from({ length: rng.small(3) }, () => stowJsonDataset(rng));
  const doc = datasets.length === 1 && rng.chance(0.5) ? datasets[0] : datasets;
  const meta = jsonCase(rng, doc, { cleanRate: 0.15 });
  what.push(`json: ${meta.description}`);
  const parts: PartSpec[] = [{ headers: [['Content-Type', rng.chance(0.9) ? 'application/dicom+json' : 'application/json']], body: Buffer.from(meta.text, 'utf8') }];
  const location = 'http://station.example/photos/1.jpg';
  const images = rng.weighted<number>([[6, 1], [1, 0], [1, 2]]);
  for (let i = 0; i < images; i++) {
    const photo = photoBytes(ctx, rng);
    if (photo.what) what.push(photo.what);
    const id = rng.weighted<[string, string]>([[6, ['Content-Location', location]], [1, ['Content-ID', '<1.jpg@station>']], [1, ['Content-Location', `http://station.example/${i}.jpg`]], [1, ['X-None', 'x']]]);
    parts.push({ headers: [['Content-Type', photo.type], id], body: photo.bytes });
  }
  if (rng.chance(0.1)) { parts.push(parts[0]); what.push('second metadata part'); }
  const m = multipartCase(rng, parts, { essence: 'multipart/related', type: 'application/dicom+json', cleanRate: 0.85 });
  if (!m.clean) what.push(m.description);
  const headers: Record<string, string> = { ...bearer(ctx.tokens.store), Accept: 'application/dicom+json' };
  if (m.contentType !== undefined) headers['Content-Type'] = m.contentType;
  return {
    category: 'stow-json', index, description: what.join('; '), request: { method: 'POST', path: '/dicomweb/studies', headers, body: m.body },
    check: internalFailures, mayReset: m.oversized,
  };
}

async function jwt(ctx: FuzzContext, rng: Rng, index: number): Promise<FuzzCase> {
  const c = await jwtCase(rng, ctx.jwt);
  const path = rng.weighted<string>([[8, '/dicomweb/studies'], [1, '/dicomweb/instances?limit=1'], [1, '/api/captures/00000000-0000-4000-8000-000000000000']]);
  const headers: Record<string, string | string[]> = {};
  if (c.authorization !== undefined) headers.Authorization = c.authorization;
  return {
    category: 'jwt', index, description: c.description,
    // Failed authentications are limited per client address: spread them over loopback addresses, so the
    // verifier (not only the limiter) sees every token. 127.0.0.1 stays clean for the checks afterwards.
    request: { method: 'GET', path, headers, localAddress: `127.0.0.${2 + (index % 250)}` },
    check: (res) => (c.mustRefuse && res.status < 300 ? `a forged or damaged token was accepted (${res.status})` : undefined),
  };
}

function wado(ctx: FuzzContext, rng: Rng, index: number): FuzzCase {
  const inst = ctx.stored.length ? rng.pick(ctx.stored) : { study: '1.2.3', series: '1.2.3.4', sop: '1.2.3.4.5', frames: 1 };
  const base = `/dicomweb/studies/${inst.study}/series/${inst.series}/instances/${inst.sop}`;
  const frameList = () => rng.pick(['1', String(inst.frames), `${inst.frames + 1}`, '0', '1,1,1', `1,${inst.frames}`, '99999999', '1,', '-1', 'a', `${Array.from({ length: 300 }, () => 1).join(',')}`]);
  const dicomAccept = () => rng.pick(['multipart/related; type="application/dicom"', 'multipart/related; type="application/dicom"; transfer-syntax=*',
    'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2',
    'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50', 'application/dicom', '*/*', 'multipart/related; type="application/octet-stream"',
    'multipart/related; type="application/octet-stream"; transfer-syntax=*', 'image/jpeg', 'text/html', ';;', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.3']);
  const imageAccept = () => rng.pick(['image/jpeg', 'image/png', 'image/*', '*/*', 'image/gif', 'image/png;q=0, image/jpeg', 'application/dicom', '']);
  const render = () => {
    const q: string[] = [];
    if (rng.chance(0.4)) q.push(`quality=${rng.pick(['0', '1', '100', '101', '999', 'abc', ''])}`);
    if (rng.chance(0.4)) q.push(`viewport=${rng.pick(['1,1', '64,64', '99999,99999', '0,0', '1,99999', '10', 'a,b', '512,512,0,0,10,10'])}`);
    return q.length ? `?${q.join('&')}` : '';
  };
  const kind = rng.weighted<string>([[3, 'instance'], [3, 'metadata'], [3, 'frames'], [3, 'rendered'], [1, 'frame-rendered'], [2, 'thumbnail'], [1, 'series'], [1, 'study'], [2, 'bulkdata'], [2, 'wado-uri']]);
  let path: string;
  let accept: string | undefined;
  switch (kind) {
    case 'instance': path = base; accept = dicomAccept(); break;
    case 'metadata': path = `${rng.pick([base, `/dicomweb/studies/${inst.study}/series/${inst.series}`, `/dicomweb/studies/${inst.study}`])}/metadata`; accept = rng.pick(['application/dicom+json', '*/*', 'application/dicom+xml']); break;
    case 'frames': path = `${base}/frames/${frameList()}`; accept = dicomAccept(); break;
    case 'rendered': path = `${base}/rendered${render()}`; accept = imageAccept(); break;
    case 'frame-rendered': path = `${base}/frames/${frameList()}/rendered${render()}`; accept = imageAccept(); break;
    case 'thumbnail': path = `${rng.pick([base, `/dicomweb/studies/${inst.study}/series/${inst.series}`, `/dicomweb/studies/${inst.study}`])}/thumbnail`; accept = imageAccept(); break;
    case 'series': path = `/dicomweb/studies/${inst.study}/series/${inst.series}`; accept = dicomAccept(); break;
    case 'study': path = `/dicomweb/studies/${inst.study}`; accept = dicomAccept(); break;
    case 'bulkdata': path = `${base}/bulkdata/${rng.pick(['7FE00010', '00091011', '00540220/0/00080100', '7FE00010/0', '..%2F..%2Fkeys', 'x'.repeat(300), 'FFFFFFFF', ''])}`; accept = rng.pick(['application/octet-stream', 'multipart/related; type="application/octet-stream"', '*/*']); break;
    default: {
      const q = [`requestType=${rng.chance(0.9) ? 'WADO' : 'wado'}`, `studyUID=${inst.study}`, `seriesUID=${inst.series}`, `objectUID=${inst.sop}`];
      if (rng.chance(0.6)) q.push(`contentType=${encodeURIComponent(rng.pick(['application/dicom', 'image/jpeg', 'image/png', 'image/gif', 'application/dicom,image/jpeg', '']))}`);
      if (rng.chance(0.3)) q.push(`transferSyntax=${rng.pick(['1.2.840.10008.1.2.1', '1.2.840.10008.1.2', '1.2.840.10008.1.2.4.50', 'x', '*'])}`);
      for (const p of ['rows', 'columns', 'frameNumber', 'imageQuality']) if (rng.chance(0.25)) q.push(`${p}=${rng.pick(['1', '64', '99999', '0', '-1', 'a', '100000', '3'])}`);
      if (rng.chance(0.05)) q.push(q[1]);
      path = `${rng.chance(0.5) ? '/wado' : '/dicomweb/wado'}?${q.join('&')}`;
    }
  }
  const headers: Record<string, string> = { ...bearer(ctx.tokens.read) };
  if (accept) headers.Accept = accept;
  return { category: 'wado', index, description: `${kind} ${path.replace(/\/dicomweb\/studies\/[^/]+\/series\/[^/]+\/instances\/[^/?]+/, '{instance}').slice(0, 120)} accept=${accept}`, request: { method: 'GET', path, headers } };
}
