/**
 * The `convert-photo` job: one uploaded file of a capture → a VL Photographic Image through the
 * single ingest path. Idempotent: the file's UIDs were fixed when the capture was accepted and the
 * conversion is deterministic, so a retried or duplicated job either finds the file already done
 * (claimFile) or writes byte-identical bytes that ingestInstance recognises as the same instance.
 *
 * Failures are of two kinds. The input's fault (not an image, truncated, a study of another
 * patient): the file is marked failed with the reason and the job completes; retrying cannot help.
 * Anything else (store or database trouble): the job fails and pg-boss retries it with backoff; the
 * last attempt marks the file failed, and pg-boss moves the job to the dead-letter queue.
 */
import type { Logger } from 'pino';
import type { CaptureRepository } from '../core/capture/capture-port.js';
import { photoContextDataset } from '../core/capture/index.js';
import { isLucidaError } from '../core/errors.js';
import { FailureReason, ingestInstance, type IngestDeps } from '../core/ingest/ingest-instance.js';
import { convertPhoto } from '../core/photo/index.js';
import type { ConvertPhotoJob } from '../core/queue/jobs.js';
import { readObject } from '../core/storage/object-store.js';

export interface ConvertDeps {
  captures: CaptureRepository;
  ingest: IngestDeps;
  log: Logger;
  maxPixels: number;
}

/** Where this attempt stands among pg-boss's retries. */
export interface Attempt { retryCount: number; retryLimit: number }

const INPUT_ERRORS = new Set(['UNSUPPORTED_IMAGE', 'INVALID_IMAGE', 'IMAGE_TOO_LARGE', 'INVALID_METADATA']);
/** Store refusals that the same bytes will meet again (PS3.18 failure reasons). */
const PERMANENT_REFUSALS = new Set<number>([
  FailureReason.DuplicateSopInstance, FailureReason.DataSetDoesNotMatchSopClass, FailureReason.CannotUnderstand,
  FailureReason.SopClassNotSupported,
]);

export async function convertCaptureFile(deps: ConvertDeps, job: ConvertPhotoJob, attempt: Attempt): Promise<void> {
  const claimed = await deps.captures.claimFile(job.captureId, job.fileIndex);
  if (!claimed) return; // already stored or failed: a duplicated or late job
  const { capture, file } = claimed;
  const log = deps.log.child({ captureId: job.captureId, fileIndex: job.fileIndex, sopInstanceUID: file.sopInstanceUID });
  try {
    const original = await readObject(deps.ingest.store, file.uploadKey!);
    const { studyDetails } = capture.context;
    // The study's accession number is the stored study's when the capture attached to one.
    const context = { ...capture.context, study: { ...capture.context.study, accessionNumber: studyDetails.accessionNumber } };
    const dataset = photoContextDataset(context, file.image, {
      studyInstanceUID: capture.studyInstanceUID, seriesInstanceUID: file.seriesInstanceUID,
      sopInstanceUID: file.sopInstanceUID, seriesNumber: file.seriesNumber, instanceNumber: file.instanceNumber,
      studyDate: studyDetails.studyDate, studyTime: studyDetails.studyTime, studyId: studyDetails.studyId,
    });
    let converted;
    try {
      converted = await convertPhoto(original, { dataset, createdAt: capture.createdAt }, { maxPixels: deps.maxPixels });
    } catch (err) {
      if (isLucidaError(err) && INPUT_ERRORS.has(err.code)) {
        log.info({ code: err.code }, 'photo refused');
        await deps.captures.markFailed(job.captureId, job.fileIndex, err.message, 'input');
        return;
      }
      throw err;
    }
    const outcome = await ingestInstance(deps.ingest, converted.part10, {
      expectedStudyUID: capture.studyInstanceUID, ownsUid: true, storedBy: capture.createdBy,
    });
    if (outcome.status === 'stored') {
      await deps.captures.markStored(job.captureId, job.fileIndex, converted.encoding);
      log.info({ encoding: converted.encoding, duplicate: outcome.duplicate }, 'photo stored');
      return;
    }
    if (PERMANENT_REFUSALS.has(outcome.reason)) {
      log.warn({ reason: outcome.reason.toString(16) }, 'photo refused by the archive');
      await deps.captures.markFailed(job.captureId, job.fileIndex, `the archive refused the instance: ${outcome.comment}`, 'refused');
      return;
    }
    throw new Error(outcome.comment);
  } catch (err) {
    const tries = attempt.retryCount + 1;
    const message = (err as Error).message;
    log.error({ err, attempt: tries }, 'conversion attempt failed');
    if (attempt.retryCount >= attempt.retryLimit) {
      await deps.captures.markFailed(job.captureId, job.fileIndex, `conversion failed after ${tries} attempt(s): ${message}`, 'processing');
    } else {
      await deps.captures.markRetrying(job.captureId, job.fileIndex, `attempt ${tries} failed (${message}); retrying`);
    }
    throw err;
  }
}

/**
 * A job in the dead-letter queue ran out of attempts (or expired on its last one, e.g. the worker
 * died): its file must not stay "converting" for ever. A file its last attempt already marked failed
 * keeps that attempt's reason.
 */
export async function markDeadLettered(captures: CaptureRepository, job: ConvertPhotoJob): Promise<void> {
  await captures.markAbandoned(job.captureId, job.fileIndex, 'conversion gave up after all retries; see the worker log');
}
