/**
 * Accepting photographs: both ways in (capture API, STOW-RS JSON + bulk data) end here.
 *
 * 1. receivePhoto: each uploaded file is checked from its header (format, pixel count: decompression
 *    bombs never reach a decoder), hashed and stored unchanged as the original, for provenance.
 * 2. submitCapture: the study is resolved (new, or an existing one whose demographics the photos must
 *    carry), UIDs and numbers are assigned now, so a retried conversion writes the same instance, and
 *    the capture, its files, the consent record and the `convert-photo` jobs are written in ONE
 *    transaction. The worker (worker/convert-photo.ts) does the rest.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { assertPatientInScope, type AccessScope } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import type { DicomJson } from '../dicom/json.types.js';
import { TAG, firstPersonName, firstString, localDateTime, newUid } from '../dicom/index.js';
import { sha256Hex } from '../hash.js';
import { LucidaError, isLucidaError } from '../errors.js';
import { probePhoto } from '../photo/index.js';
import { JOBS, type JobQueue } from '../queue/jobs.js';
import { objectKeys, type ObjectStore } from '../storage/object-store.js';
import type {
  CaptureRepository, CaptureSource, NewCaptureFile, RecordedContext, StudyDetails,
} from './capture-port.js';
import type { CaptureContext, ImageContext, PatientDemographics } from './types.js';

export interface CaptureDeps {
  captures: CaptureRepository;
  store: ObjectStore;
  queue: JobQueue;
  log: Logger;
  maxPixels: number;
}

/** One uploaded file after the up-front checks (`uploadKey` absent when it was refused). */
export interface UploadedPhoto extends Pick<NewCaptureFile, 'fileIndex' | 'fileName' | 'contentType' | 'sizeBytes' | 'sha256' | 'uploadKey'> {
  /** Why the file was refused before queueing (not an image, too many pixels...). */
  rejected?: { code: string; reason: string };
}

/**
 * Checks one uploaded file from its header and keeps the original unchanged under the capture.
 * A file refused here is not stored; the capture's other files go on.
 */
export async function receivePhoto(deps: Pick<CaptureDeps, 'store' | 'maxPixels'>, captureId: string,
  file: { fileIndex: number; fileName: string; contentType?: string; bytes: Buffer }): Promise<UploadedPhoto> {
  const base = {
    fileIndex: file.fileIndex, fileName: file.fileName, contentType: file.contentType, sizeBytes: file.bytes.length,
    sha256: sha256Hex(file.bytes),
  };
  try {
    const probe = probePhoto(file.bytes);
    if (probe.width * probe.height > deps.maxPixels) {
      throw new LucidaError('IMAGE_TOO_LARGE',
        `${probe.width}×${probe.height} pixels is over the limit of ${Math.round(deps.maxPixels / 1e6)} megapixels`);
    }
  } catch (err) {
    if (!isLucidaError(err)) throw err;
    return { ...base, rejected: { code: err.code, reason: err.message } };
  }
  const uploadKey = objectKeys.upload(captureId, file.fileIndex);
  await deps.store.put(uploadKey, file.bytes);
  return { ...base, uploadKey };
}

/** A group of files sharing body site, laterality and view: one series. */
export interface CaptureGroup {
  image: ImageContext;
  files: UploadedPhoto[];
  /** UIDs and numbers chosen by the sender (STOW-RS); assigned here otherwise. */
  seriesInstanceUID?: string;
  seriesNumber?: number;
  sopInstanceUIDs?: (string | undefined)[];
  instanceNumbers?: (number | undefined)[];
}

export interface CaptureSubmission {
  id: string;
  source: CaptureSource;
  principal: Principal;
  idempotencyKey?: string;
  /** SHA-256 over the request's metadata and files: a reused Idempotency-Key must come with the same. */
  fingerprint?: string;
  /** Patient may be absent when the capture attaches to an existing study. */
  context: Omit<CaptureContext, 'patient'> & { patient?: PatientDemographics };
  /**
   * `existing`: a StudyInstanceUID must name a stored study (capture API);
   * `new-or-existing`: a StudyInstanceUID not yet stored starts a new study (STOW-RS).
   * Either way an accession number attaches to its study when there is one, else starts it.
   */
  studyMode: 'existing' | 'new-or-existing';
  groups: CaptureGroup[];
  /** The caller's access scope: a patient-context token may only capture for its own patient. */
  scope?: AccessScope;
}

export type SubmitResult =
  /** Recorded now, with the study it went to and its files' UIDs as assigned. */
  | { captureId: string; replayed: false; studyInstanceUID: string; files: NewCaptureFile[] }
  | { captureId: string; replayed: true; conflict: 'idempotency-key' | 'sop-instance' };

/** Records the capture and queues its conversions. @throws LucidaError INVALID_METADATA, NOT_FOUND. */
export async function submitCapture(deps: CaptureDeps, s: CaptureSubmission): Promise<SubmitResult> {
  const files = s.groups.flatMap((g) => g.files);
  try {
    // A concurrent capture of the same study or request may change what the study resolves to: the
    // transaction re-checks under a lock and says so, and the capture is resolved again.
    for (let attempt = 1; ; attempt++) {
      const { result, studyInstanceUID, files: recorded } = await tryCapture(deps, s);
      if (result.created) return { captureId: s.id, replayed: false, studyInstanceUID, files: recorded };
      if (result.conflict === 'study-changed') {
        if (attempt < 5) continue;
        throw new LucidaError('UNAVAILABLE', 'the study is being changed by other captures; retry');
      }
      await discardUploads(deps, files);
      return { captureId: result.existingCaptureId, replayed: true, conflict: result.conflict };
    }
  } catch (err) {
    await discardUploads(deps, files);
    throw err;
  }
}

async function tryCapture(deps: CaptureDeps, s: CaptureSubmission) {
  const { studyInstanceUID, patient, details, maxSeriesNumber, newStudy } = await resolveStudy(deps, s);
  // Checked on the resolved patient: a capture may name only a study or accession number.
  if (s.scope) assertPatientInScope(s.scope, { id: patient.patientId, issuer: patient.issuer });
  const context: RecordedContext = { ...s.context, patient, studyDetails: details };
  let nextSeries = maxSeriesNumber + 1;
  const capturedFiles: NewCaptureFile[] = [];
  for (const g of s.groups) {
    const seriesInstanceUID = g.seriesInstanceUID ?? newUid();
    const seriesNumber = g.seriesNumber ?? nextSeries++;
    g.files.forEach((f, i) => capturedFiles.push({
      fileIndex: f.fileIndex, fileName: f.fileName, contentType: f.contentType, sizeBytes: f.sizeBytes,
      sha256: f.sha256, uploadKey: f.uploadKey, image: g.image, seriesInstanceUID, seriesNumber,
      sopInstanceUID: g.sopInstanceUIDs?.[i] ?? newUid(), instanceNumber: g.instanceNumbers?.[i] ?? i + 1,
      status: f.rejected ? 'failed' : 'queued', reason: f.rejected?.reason,
    }));
  }
  capturedFiles.sort((a, b) => a.fileIndex - b.fileIndex);
  const assignsSeries = s.groups.some((g) => g.seriesNumber === undefined);
  const result = await deps.captures.createCapture({
    id: s.id, source: s.source, createdBy: s.principal.subject, clientId: s.principal.clientId,
    idempotencyKey: s.idempotencyKey, fingerprint: s.fingerprint, studyInstanceUID,
    accessionNumber: details.accessionNumber || undefined, context, files: capturedFiles,
    resolvedAs: { newStudy, firstNewSeriesNumber: assignsSeries ? maxSeriesNumber + 1 : undefined },
  }, { input: s.context.consent, recordedBy: s.principal.subject },
  (tx, f) => deps.queue.send(JOBS.convertPhoto, { captureId: s.id, fileIndex: f.fileIndex }, { tx }));
  if (result.created) {
    deps.log.info({ captureId: s.id, studyInstanceUID, files: capturedFiles.length,
      refused: capturedFiles.filter((f) => f.status === 'failed').length }, 'capture accepted');
  }
  return { result, studyInstanceUID, files: capturedFiles };
}

/** Removes stored originals of a capture that was not recorded (nothing refers to them). */
export async function discardUploads(deps: Pick<CaptureDeps, 'store' | 'log'>, files: UploadedPhoto[]): Promise<void> {
  for (const f of files) {
    if (f.uploadKey) await deps.store.delete(f.uploadKey).catch((err) => deps.log.warn({ err }, 'could not remove an unused upload'));
  }
}

async function resolveStudy(deps: CaptureDeps, s: CaptureSubmission): Promise<{
  studyInstanceUID: string; patient: PatientDemographics; details: StudyDetails; maxSeriesNumber: number; newStudy: boolean;
}> {
  const { studyInstanceUID, accessionNumber } = s.context.study;
  // A StudyInstanceUID names one study; an accession number (the photography request) may not have
  // a study yet: the first capture for it starts one.
  const found = studyInstanceUID ? await deps.captures.findStudy({ studyInstanceUID })
    : accessionNumber ? await deps.captures.findStudy({ accessionNumber }) : [];
  if (found.length > 1) {
    throw invalid('/study/accessionNumber', 'more than one study has this accession number: give the StudyInstanceUID');
  }
  const existing = found[0];
  if (!existing) {
    if (studyInstanceUID && s.studyMode === 'existing') throw new LucidaError('NOT_FOUND', 'the study to attach to is not in the archive');
    if (!s.context.patient) {
      if (accessionNumber) throw new LucidaError('NOT_FOUND', 'no study has this accession number yet: send the patient to start one');
      throw invalid('/patient', 'patient is required for a new study');
    }
    const now = localDateTime(new Date());
    return {
      studyInstanceUID: studyInstanceUID ?? newUid(),
      patient: s.context.patient,
      details: { studyDate: now.date, studyTime: now.time, studyId: studyIdFor(s.id), accessionNumber: accessionNumber ?? '' },
      maxSeriesNumber: 0,
      newStudy: true,
    };
  }
  // Indexed: as stored. Still converting: as its first capture recorded it.
  const stored = existing.indexed ? patientFromDicomJson(existing.indexed.patient) : existing.captured!.patient;
  const study = existing.indexed?.study;
  const details: StudyDetails = study ? {
    studyDate: firstString(study, TAG.StudyDate) ?? '', studyTime: firstString(study, TAG.StudyTime) ?? '',
    studyId: firstString(study, TAG.StudyID) ?? '', accessionNumber: firstString(study, TAG.AccessionNumber) ?? '',
  } : existing.captured!.studyDetails;
  const given = s.context.patient;
  if (given && (given.patientId !== stored.patientId || given.issuer !== stored.issuer)) {
    throw invalid('/patient', 'the patient does not match the patient of the study to attach to');
  }
  return {
    studyInstanceUID: existing.studyInstanceUID,
    // The stored study's demographics win: a study has one patient (PS3.3 C.7.1.1).
    patient: given ? { ...stored, otherIds: given.otherIds.length ? given.otherIds : stored.otherIds } : stored,
    details,
    maxSeriesNumber: existing.maxSeriesNumber,
    newStudy: false,
  };
}

const invalid = (path: string, message: string) => new LucidaError('INVALID_METADATA', message, { errors: [{ path, message }] });

/** Demographics of an indexed patient (the patient level's DICOM JSON attributes). */
function patientFromDicomJson(ds: DicomJson): PatientDemographics {
  const text = (json: DicomJson, tag: string) => firstString(json, tag) ?? '';
  const issuer = text(ds, TAG.IssuerOfPatientID);
  const patientId = text(ds, TAG.PatientID);
  const sex = text(ds, TAG.PatientSex);
  const name = firstPersonName(ds, TAG.PatientName);
  const others = (ds[TAG.OtherPatientIDsSequence]?.Value ?? []) as DicomJson[];
  return {
    patientId, issuer,
    nhsNumber: issuer === 'NHS' ? patientId : undefined,
    otherIds: others.map((o) => ({ id: text(o, TAG.PatientID), issuer: text(o, TAG.IssuerOfPatientID) })).filter((o) => o.id),
    name: (typeof name === 'string' ? name : name?.Alphabetic) ?? '',
    birthDate: text(ds, TAG.PatientBirthDate),
    sex: sex === 'M' || sex === 'F' || sex === 'O' ? sex : '',
  };
}

/** StudyID (SH, ≤ 16): derived from the capture id, so it is unique enough to quote on the phone. */
const studyIdFor = (captureId: string) => `PH${captureId.replace(/-/g, '').slice(0, 10).toUpperCase()}`;

export const newCaptureId = () => randomUUID();
