/**
 * STOW-RS "metadata and bulk data" (PS3.18 §10.5.1, §8.6.1.2): multipart/related;
 * type="application/dicom+json". Parts: DICOM JSON metadata (one data set or an array) whose
 * PixelData (7FE0,0010) is a BulkDataURI, and the photographs themselves (image/jpeg, image/png,
 * image/heic, image/tiff), each identified by Content-Location (or Content-ID, referenced as `cid:`).
 *
 * Each data set becomes a one-file capture, converted by the same `convert-photo` job as the capture
 * API's, so both ways in give equivalent instances. The request waits for its conversions (up to
 * STOW_CONVERT_WAIT_SECONDS): a 200 still means every instance is durable and findable by QIDO.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Request } from 'express';
import { scopeOf } from '../middleware/auth.js';
import type { CaptureRecord, CaptureRepository, CaptureFileRecord } from '../../core/capture/capture-port.js';
import type { PatientDemographics } from '../../core/capture/types.js';
import {
  discardUploads, newCaptureId, receivePhoto, submitCapture, type UploadedPhoto,
} from '../../core/capture/capture-service.js';
import { parsePhotoDicomJson } from '../../core/capture/index.js';
import type { Config } from '../../core/config.js';
import type { DicomJson } from '../../core/dicom/json.types.js';
import { SOP_CLASS } from '../../core/dicom/index.js';
import { LucidaError, isLucidaError } from '../../core/errors.js';
import type { Metrics } from '../../core/metrics.js';
import { FailureReason, WarningReason, type IngestDeps, type IngestOutcome } from '../../core/ingest/ingest-instance.js';
import type { JobQueue } from '../../core/queue/jobs.js';
import { readAll } from '../../core/storage/object-store.js';
import { readJsonPart } from '../http/json-part.js';
import { limitBody } from '../http/limit-body.js';
import { partEssence, readMultipart } from '../multipart/related.js';
import { capturePath } from '../urls.js';

export interface StowPhotoDeps extends IngestDeps {
  captures: CaptureRepository;
  config: Config;
  /** Where the `convert-photo` jobs go (and, for ingest, the `derive` jobs). */
  queue: JobQueue;
  /** Counts what STOW-RS receives and answers. */
  metrics: Pick<Metrics, 'stowReceived' | 'stowInstance'>;
}

/** What the capture service needs: these deps and the pixel limit. */
type ServiceDeps = StowPhotoDeps & { maxPixels: number };

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/tiff']);
const METADATA_MAX_BYTES = 16 * 1024 * 1024;
const POLL_MS = 100;

interface Bulk extends UploadedPhoto { captureId: string; used: boolean }
interface Waiting {
  captureId: string; fileIndex: number; sopInstanceUID: string; seriesInstanceUID: string; studyInstanceUID: string; patientId: string;
}

/** Reads the request, queues one conversion per data set, waits for them; one outcome per data set or refused part. */
export async function storeMetadataAndBulkData(deps: StowPhotoDeps, req: Request, boundary: string, study?: string): Promise<IngestOutcome[]> {
  const { maxRequestBytes, maxParts } = deps.config.stow;
  const datasets: DicomJson[] = [];
  const bulk = new Map<string, Bulk>();
  const outcomes: (IngestOutcome | Waiting)[] = [];
  const serviceDeps: ServiceDeps = { ...deps, maxPixels: deps.config.photos.maxPixels };
  try {
    for await (const part of readMultipart(limitBody(req, maxRequestBytes), boundary, { maxPartBytes: deps.config.photos.maxFileBytes, maxParts })) {
      // A part refused here is not read: readMultipart discards it on the way to the next one.
      const type = partEssence(part, 'application/dicom+json');
      if (type === 'application/dicom+json' || type === 'application/json') {
        const { value } = await readJsonPart(part.body, METADATA_MAX_BYTES, 'a metadata part',
          () => new LucidaError('BAD_REQUEST', 'a metadata part is not valid JSON'));
        datasets.push(...asDatasets(value));
      } else if (type !== undefined && IMAGE_TYPES.has(type)) {
        const location = partLocation(part.headers);
        if (!location) {
          outcomes.push(failure(FailureReason.CannotUnderstand, `${type} part without Content-Location or Content-ID`));
        } else if (bulk.has(location)) {
          // A BulkDataURI names the first part at a location; a second one there is refused, unread.
          outcomes.push(failure(FailureReason.CannotUnderstand, 'two bulk data parts share this location'));
        } else {
          const captureId = newCaptureId();
          const upload = await receivePhoto(serviceDeps, captureId, { fileIndex: 0, fileName: location, contentType: type, bytes: await readAll(part.body) });
          deps.metrics.stowReceived(upload.sizeBytes);
          bulk.set(location, { ...upload, captureId, used: false });
        }
      } else {
        outcomes.push(failure(FailureReason.CannotUnderstand,
          type === undefined ? 'part with a malformed Content-Type' : `part of type ${type} is not DICOM JSON or a supported image`));
      }
    }
    if (datasets.length === 0 && outcomes.length === 0) throw new LucidaError('MALFORMED_MULTIPART', 'no DICOM JSON metadata part');
    for (const ds of datasets) {
      // One data set's trouble (the database going away) is that data set's failure; the others stand.
      outcomes.push(await submitDataset(serviceDeps, req, ds, bulk, study).catch((err) => {
        req.log.error({ err }, 'could not accept a photo data set');
        return failure(FailureReason.ProcessingFailure, 'the archive could not accept this data set; retry later');
      }));
    }
  } finally {
    await discardUploads(deps, [...bulk.values()].filter((b) => !b.used));
  }
  return waitForConversions(deps, outcomes);
}

/** The data sets of a metadata part: one DICOM JSON data set or an array of them. */
function asDatasets(json: unknown): DicomJson[] {
  const list = Array.isArray(json) ? json : [json];
  if (!list.every((d) => d && typeof d === 'object' && !Array.isArray(d))) {
    throw new LucidaError('BAD_REQUEST', 'metadata must be a DICOM JSON data set or an array of them (PS3.18 F.2)');
  }
  return list as DicomJson[];
}

/** The URI by which the metadata refers to a bulk data part: Content-Location, or `cid:` + Content-ID. */
function partLocation(headers: Record<string, string>): string | undefined {
  if (headers['content-location']) return headers['content-location'];
  const id = headers['content-id']?.replace(/^<(.*)>$/, '$1');
  return id ? `cid:${id}` : undefined;
}

const failure = (reason: number, comment: string, ids: { sopInstanceUID?: string } = {}): IngestOutcome =>
  ({ status: 'failed', sopClassUID: SOP_CLASS.VLPhotographicImage, sopInstanceUID: ids.sopInstanceUID, reason, comment });

async function submitDataset(deps: ServiceDeps, req: Request, ds: DicomJson,
  bulk: Map<string, Bulk>, study?: string): Promise<IngestOutcome | Waiting> {
  let parsed;
  try {
    parsed = parsePhotoDicomJson(ds);
  } catch (err) {
    if (!isLucidaError(err)) throw err;
    const errors = (err.extra?.errors as { message: string }[] | undefined)?.map((e) => e.message).join('; ');
    return failure(FailureReason.DataSetDoesNotMatchSopClass, errors || err.message);
  }
  const ids = parsed.ids;
  if (study && ids.studyInstanceUID && ids.studyInstanceUID !== study) {
    return failure(FailureReason.DataSetDoesNotMatchSopClass, `StudyInstanceUID does not match the target study ${study}`, ids);
  }
  const file = bulk.get(parsed.pixelDataBulkDataURI);
  if (!file || file.used) return failure(FailureReason.CannotUnderstand, 'the PixelData BulkDataURI names no image part of this request', ids);
  file.used = true;
  if (file.rejected) return failure(FailureReason.CannotUnderstand, file.rejected.reason, ids);
  const consent = { ...parsed.context.consent, recordedBy: parsed.context.consent.recordedBy || req.principal!.subject };
  try {
    const result = await submitCapture(deps, {
      id: file.captureId, source: 'stow-rs', principal: req.principal!, studyMode: 'new-or-existing', scope: scopeOf(req),
      context: { ...parsed.context, consent, study: { ...parsed.context.study, studyInstanceUID: ids.studyInstanceUID ?? study } },
      groups: [{
        image: parsed.image, files: [file], seriesInstanceUID: ids.seriesInstanceUID, seriesNumber: ids.seriesNumber,
        sopInstanceUIDs: [ids.sopInstanceUID], instanceNumbers: [ids.instanceNumber],
      }],
    });
    if (!result.replayed) {
      const [f] = result.files;
      return {
        captureId: result.captureId, fileIndex: f.fileIndex, sopInstanceUID: f.sopInstanceUID, seriesInstanceUID: f.seriesInstanceUID,
        studyInstanceUID: result.studyInstanceUID, patientId: parsed.context.patient.patientId,
      };
    }
    // A re-send is the same instance only with the same image and the same clinical data.
    const earlier = (await deps.captures.findCapture(result.captureId))!;
    const f = earlier.files.find((x) => x.sopInstanceUID === ids.sopInstanceUID)!;
    if (f.sha256 !== file.sha256 || !sameClinicalData(earlier, f, parsed)) {
      return failure(FailureReason.DuplicateSopInstance, 'other image or data already sent under this SOP Instance UID', ids);
    }
    return {
      captureId: earlier.id, fileIndex: f.fileIndex, sopInstanceUID: f.sopInstanceUID, seriesInstanceUID: f.seriesInstanceUID,
      studyInstanceUID: earlier.studyInstanceUID, patientId: earlier.context.patient.patientId,
    };
  } catch (err) {
    if (!isLucidaError(err) || err.status >= 500) throw err;
    // submitCapture checks the patient against the caller's scope (capture-service): the PS3.18 answer is 0x0124.
    if (err.code === 'OUT_OF_PATIENT_CONTEXT') {
      return { ...failure(FailureReason.NotAuthorized, err.message, ids), patientId: parsed.context.patient.patientId };
    }
    return failure(FailureReason.DataSetDoesNotMatchSopClass, err.message, ids);
  }
}

/** Patient, image context and series of an earlier capture of this SOP Instance vs. a re-send's. */
function sameClinicalData(capture: CaptureRecord, file: CaptureFileRecord, parsed: ReturnType<typeof parsePhotoDicomJson>): boolean {
  const p = (x: PatientDemographics) => [x.patientId, x.issuer, x.name, x.birthDate, x.sex];
  // As JSON, both sides alike: the stored one went through jsonb (no undefined members, keys reordered).
  const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
  return isDeepStrictEqual(p(capture.context.patient), p(parsed.context.patient))
    && isDeepStrictEqual(plain(file.image), plain(parsed.image))
    && (parsed.ids.seriesInstanceUID === undefined || parsed.ids.seriesInstanceUID === file.seriesInstanceUID);
}

/** Polls the capture files until each is stored or failed, or the wait runs out. */
async function waitForConversions(deps: StowPhotoDeps, items: (IngestOutcome | Waiting)[]): Promise<IngestOutcome[]> {
  const deadline = Date.now() + deps.config.photos.stowWaitSeconds * 1000;
  const done = new Map<Waiting, IngestOutcome>();
  for (;;) {
    const waiting = items.filter((w) => !('status' in w) && !done.has(w)) as Waiting[];
    // One query per poll for all of them, each read by its own capture and file (not by SOP UID,
    // which a failed earlier capture may share).
    const files = await deps.captures.filesOfCaptures(waiting.map((w) => w.captureId));
    for (const w of waiting) {
      const found = files.find((x) => x.captureId === w.captureId && x.file.fileIndex === w.fileIndex);
      const outcome = found && settled(w, found.file);
      if (outcome) done.set(w, outcome);
    }
    const open = waiting.filter((w) => !done.has(w));
    if (open.length === 0 || Date.now() > deadline) {
      return items.map((w) => ('status' in w ? w : done.get(w) ?? failure(FailureReason.ProcessingFailure,
        // ErrorComment is 64 characters: the status URL's path is what the sender needs.
        `pending: ${capturePath(w.captureId)}`, w)));
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function settled(w: Waiting, f: CaptureFileRecord): IngestOutcome | undefined {
  if (f.status === 'stored') {
    const warnings = f.encoding === 'reencoded'
      ? [{ reason: WarningReason.CoercionOfDataElements, comment: 'image decoded and re-encoded as baseline JPEG (orientation, progressive or HEIC)' }]
      : [];
    return {
      status: 'stored', sopClassUID: SOP_CLASS.VLPhotographicImage, sopInstanceUID: w.sopInstanceUID,
      studyInstanceUID: w.studyInstanceUID, seriesInstanceUID: w.seriesInstanceUID, patientId: w.patientId, duplicate: false, warnings,
    };
  }
  if (f.status === 'failed') {
    const reason = f.failure === 'processing' ? FailureReason.ProcessingFailure
      : f.failure === 'refused' ? FailureReason.DataSetDoesNotMatchSopClass : FailureReason.CannotUnderstand;
    return failure(reason, f.reason ?? 'conversion failed', w);
  }
  return undefined;
}
