/**
 * Capture API: photographs in from capture stations.
 *   POST /api/captures                         multipart/form-data: image files + one `metadata` JSON part
 *                                              (schemas/capture.schema.json) → 202 + status document
 *   GET  /api/captures/{id}                    status of each file: queued / converting / stored / failed
 *   GET  /api/captures/{id}/files/{n}/original the upload as received (admins only: provenance)
 * Files are read one at a time (each bounded by CAPTURE_MAX_FILE_MB), checked from their header and
 * stored as originals; the conversion itself is the worker's `convert-photo` job.
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a retried POST with the same key from
 * the same caller returns the capture the first one created, and stores nothing twice.
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { CaptureRecord, CaptureRepository } from '../../core/capture/capture-port.js';
import {
  discardUploads, newCaptureId, receivePhoto, submitCapture, type SubmitResult, type UploadedPhoto,
} from '../../core/capture/capture-service.js';
import { inPatientScope } from '../../core/auth/policy.js';
import { noteInstance } from '../../core/audit/types.js';
import { parseCaptureMetadata } from '../../core/capture/index.js';
import type { Config } from '../../core/config.js';
import { LucidaError, type ErrorCode } from '../../core/errors.js';
import type { Metrics } from '../../core/metrics.js';
import { sha256Hex } from '../../core/hash.js';
import type { JobQueue } from '../../core/queue/jobs.js';
import { readAll, type ObjectStore } from '../../core/storage/object-store.js';
import { parseFormDisposition } from '../http/content-disposition.js';
import { readJsonPart } from '../http/json-part.js';
import { limitBody } from '../http/limit-body.js';
import { parseMediaType } from '../http/media-type.js';
import { allow, scopeOf } from '../middleware/auth.js';
import { boundaryFromContentType, readMultipart } from '../multipart/related.js';
import type { PublicUrls } from '../urls.js';

export interface CaptureRouteDeps {
  captures: CaptureRepository;
  store: ObjectStore;
  queue: JobQueue;
  log: Logger;
  config: Config;
  urls: PublicUrls;
  /** Counts the files and bytes received. */
  metrics: Pick<Metrics, 'captureFile'>;
}

const METADATA_MAX_BYTES = 1024 * 1024;

export function captureRoutes(deps: CaptureRouteDeps): Router {
  const router = Router();
  const serviceDeps = { ...deps, maxPixels: deps.config.photos.maxPixels };

  router.post('/api/captures', allow('capture'), async (req: Request, res: Response) => {
    const principal = req.principal!;
    const idempotencyKey = readIdempotencyKey(req);
    // A key seen before: read the request without storing anything, to check it is the same request.
    const earlier = idempotencyKey ? await deps.captures.findCaptureByIdempotencyKey(principal.subject, idempotencyKey) : undefined;
    const ct = parseMediaType(req.get('content-type') ?? '');
    if (ct.essence !== 'multipart/form-data') {
      throw new LucidaError('UNSUPPORTED_MEDIA_TYPE', 'the capture API takes multipart/form-data: image files and a "metadata" JSON part');
    }
    const boundary = boundaryFromContentType(ct);
    const { maxFileBytes, maxFiles } = deps.config.photos;
    const captureId = newCaptureId();
    const uploads: UploadedPhoto[] = [];
    const fileNames = new Set<string>();
    const fingerprint = createHash('sha256');
    let metadata: unknown;
    let result: SubmitResult;
    let digest: string;
    try {
      const parts = readMultipart(limitBody(req, (maxFiles + 1) * maxFileBytes), boundary, { maxPartBytes: maxFileBytes, maxParts: maxFiles + 1 });
      for await (const part of parts) {
        const { name, filename } = parseFormDisposition(part.headers['content-disposition']);
        if (filename !== undefined) {
          if (fileNames.has(filename)) throw new LucidaError('BAD_REQUEST', `two files are named "${filename}": file names must be unique in a capture`);
          fileNames.add(filename);
          let sha256: string;
          if (earlier) {
            // Only compared with the first request's fingerprint, never stored: hashed as it streams past.
            sha256 = await sha256Hex(part.body);
          } else {
            const upload = await receivePhoto(serviceDeps, captureId,
              { fileIndex: uploads.length, fileName: filename, contentType: part.contentType, bytes: await readAll(part.body) });
            uploads.push(upload);
            deps.metrics.captureFile(upload);
            sha256 = upload.sha256;
          }
          fingerprint.update(`file\0${filename}\0${sha256}\0`);
        } else if (name === 'metadata') {
          if (metadata !== undefined) throw new LucidaError('BAD_REQUEST', 'more than one "metadata" part');
          const { value, bytes } = await readJsonPart(part.body, METADATA_MAX_BYTES, 'the "metadata" part', () =>
            new LucidaError('INVALID_METADATA', 'the "metadata" part is not valid JSON', { errors: [{ path: '', message: 'not valid JSON' }] }));
          metadata = value;
          fingerprint.update(`metadata\0${sha256Hex(bytes)}\0`);
        } else {
          throw new LucidaError('BAD_REQUEST', `unexpected form field "${name}": send files and one "metadata" part`);
        }
      }
      digest = fingerprint.digest('hex');
      if (earlier) return await replay(deps, req, res, earlier, digest);
      if (metadata === undefined) throw new LucidaError('INVALID_METADATA', 'the "metadata" part is missing', { errors: [{ path: '', message: 'metadata part missing' }] });
      if (uploads.length === 0) throw new LucidaError('BAD_REQUEST', 'the capture has no image files');
      const parsed = parseCaptureMetadata(metadata, uploads.map((u) => u.fileName));
      // Named before anything can refuse it: a refused cross-patient capture is found by patient too.
      if (parsed.context.patient) req.audit.patientIds.add(parsed.context.patient.patientId);
      const accepted = uploads.filter((u) => !u.rejected);
      if (accepted.length === 0) {
        // Nothing to convert: refuse the request as a whole, with each file's reason.
        const first = uploads[0].rejected!;
        throw new LucidaError(first.code as ErrorCode, uploads.length === 1 ? first.reason : 'none of the files is a usable image', {
          files: uploads.map((u) => ({ fileName: u.fileName, code: u.rejected!.code, reason: u.rejected!.reason })),
        });
      }
      const byName = new Map(uploads.map((u) => [u.fileName, u]));
      result = await submitCapture(serviceDeps, {
        id: captureId, source: 'capture-api', principal, idempotencyKey, fingerprint: digest, scope: scopeOf(req),
        context: parsed.context, studyMode: 'existing',
        groups: parsed.groups.map((g) => ({ image: g.image, files: g.files.map((f) => byName.get(f)!) })),
      });
    } catch (err) {
      await discardUploads(deps, uploads);
      throw err;
    }
    // Recorded: whatever happens from here, the originals belong to the capture.
    if (result.replayed) {
      // The same key from a concurrent request that won the race.
      return replay(deps, req, res, (await deps.captures.findCaptureByIdempotencyKey(principal.subject, idempotencyKey!))!, digest);
    }
    await sendStatus(deps, req, res, result.captureId, 202, false);
  });

  router.get('/api/captures/:id', allow('capture'), async (req: Request, res: Response) => {
    await sendStatus(deps, req, res, req.params.id as string, 200, false, true);
  });

  router.get('/api/captures/:id/files/:index/original', allow('read-original'), async (req: Request, res: Response) => {
    const capture = await findCapture(deps.captures, req.params.id as string);
    noteCapture(req, capture);
    const file = capture.files.find((f) => String(f.fileIndex) === req.params.index);
    if (!file?.uploadKey) throw new LucidaError('NOT_FOUND', 'no original is kept for this file');
    req.log.info({ captureId: capture.id, fileIndex: file.fileIndex }, 'original upload retrieved');
    const stream = await deps.store.get(file.uploadKey);
    // As received, but never rendered in a browser on this origin: a download, type not sniffed.
    res.status(200).type(file.contentType ?? 'application/octet-stream')
      .setHeader('X-Content-Type-Options', 'nosniff')
      .setHeader('Content-Disposition', 'attachment')
      .setHeader('Content-Length', String(file.sizeBytes))
      .setHeader('Digest', `sha-256=${Buffer.from(file.sha256, 'hex').toString('base64')}`)
      .setHeader('Cache-Control', 'no-store');
    await pipeline(stream, res);
  });
  return router;
}

function readIdempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  // A structured-field string in the draft; accept the bare token form too.
  const value = key.trim().replace(/^"(.*)"$/, '$1');
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) throw new LucidaError('BAD_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  return value;
}

async function findCapture(captures: CaptureRepository, id: string): Promise<CaptureRecord> {
  const capture = await captures.findCapture(id);
  if (!capture) throw new LucidaError('NOT_FOUND', 'no such capture');
  return capture;
}

/** The answer to a request whose Idempotency-Key was seen before: the same capture, if it is the same request. */
async function replay(deps: CaptureRouteDeps, req: Request, res: Response, earlier: { id: string; fingerprint?: string }, fingerprint: string) {
  if (earlier.fingerprint !== fingerprint) {
    throw new LucidaError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was sent before with other metadata or files; use a new key for a new capture');
  }
  // The same sender, but perhaps now with a token limited to another patient: checked like a read.
  await sendStatus(deps, req, res, earlier.id, 202, true, true);
}

/** Notes a capture's patient, study and instances on the request's audit draft. */
function noteCapture(req: Request, capture: CaptureRecord): void {
  const { patientId } = capture.context.patient;
  for (const f of capture.files) noteInstance(req.audit, { ...f, patientId, studyInstanceUID: capture.studyInstanceUID });
}

/**
 * The status document. With `checkViewer`, only the photographer who sent the capture (or an admin)
 * may see it, and a patient-context token only its patient's; anyone else is told there is no such
 * capture (audited as denied).
 */
async function sendStatus(deps: CaptureRouteDeps, req: Request, res: Response, id: string, status: number, replayed: boolean,
  checkViewer = false) {
  const capture = await findCapture(deps.captures, id);
  if (checkViewer) {
    const viewer = req.principal!;
    const patient = { id: capture.context.patient.patientId, issuer: capture.context.patient.issuer };
    const outOfContext = !inPatientScope(scopeOf(req), patient);
    if (outOfContext || (capture.createdBy !== viewer.subject && !viewer.roles.includes('admin'))) {
      // Another patient's capture asked for in patient context is a security event; another
      // photographer's capture is an ordinary not-found.
      if (outOfContext) {
        req.audit.deniedOutOfScope = true;
        req.audit.patientIds.add(patient.id);
      }
      throw new LucidaError('NOT_FOUND', 'no such capture');
    }
  }
  noteCapture(req, capture);
  const consent = await deps.captures.consentForCapture(capture.id);
  const location = deps.urls.capture(capture.id);
  if (replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(status).setHeader('Location', location).setHeader('Cache-Control', 'no-store')
    .json(captureStatusDocument(capture, location, deps.urls, consent));
}

/** Overall state of a capture, from its files'. */
function overallStatus(capture: CaptureRecord): 'processing' | 'stored' | 'partial' | 'failed' {
  const s = capture.files.map((f) => f.status);
  if (s.some((x) => x === 'queued' || x === 'converting')) return 'processing';
  if (s.every((x) => x === 'stored')) return 'stored';
  return s.some((x) => x === 'stored') ? 'partial' : 'failed';
}

/** The status document: no demographics, only what the photographer needs to act on. */
function captureStatusDocument(capture: CaptureRecord, self: string, urls: PublicUrls,
  consent?: { level: string; consentedBy: string; consentedAt: Date; recordedBy: string; recordedAt: Date }) {
  return {
    id: capture.id,
    status: overallStatus(capture),
    statusURL: self,
    source: capture.source,
    createdAt: capture.createdAt.toISOString(),
    studyInstanceUID: capture.studyInstanceUID,
    retrieveURL: urls.study(capture.studyInstanceUID),
    consent: consent && {
      level: consent.level, consentedBy: consent.consentedBy, consentedAt: consent.consentedAt.toISOString(),
      recordedBy: consent.recordedBy, recordedAt: consent.recordedAt.toISOString(),
    },
    files: capture.files.map((f) => {
      const instance = urls.instance(capture.studyInstanceUID, f.seriesInstanceUID, f.sopInstanceUID);
      return {
        index: f.fileIndex,
        fileName: f.fileName,
        sizeBytes: f.sizeBytes,
        sha256: f.sha256,
        status: f.status,
        ...(f.reason ? { reason: f.reason } : {}),
        attempts: f.attempts,
        studyInstanceUID: capture.studyInstanceUID,
        seriesInstanceUID: f.seriesInstanceUID,
        sopInstanceUID: f.sopInstanceUID,
        seriesNumber: f.seriesNumber,
        instanceNumber: f.instanceNumber,
        ...(f.status === 'stored' ? {
          encoding: f.encoding,
          retrieveURL: instance,
          renderedURL: `${instance}/rendered`,
          thumbnailURL: `${instance}/thumbnail`,
        } : {}),
        ...(f.qa ? { qa: f.qa } : {}),
      };
    }),
  };
}
