/**
 * ingestInstance: the ONE place that validates, stores and indexes a DICOM instance. STOW-RS and
 * the photo converter (services/worker/convert-photo.ts) call it; DIMSE C-STORE will too.
 *
 * Two-phase store (STYLE.md, after Microsoft's DICOM server):
 *   1. reserve the SOP Instance UID with a 'pending' index row (detects duplicates and races),
 *   2. write the object (atomic and fsynced by the store),
 *   3. in one statement upsert patient/study/series and mark the instance 'stored'.
 * Any failure undoes what was done, so a failure leaves neither an orphan object nor a half row.
 * A crash between 1 and 3 leaves a pending row, which names its object and its owner process:
 * reconciliation (services/worker/reconcile.ts) removes both once the owner is dead or the row is old.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { inPatientScope, type AccessScope } from '../auth/policy.js';
import { firstString, parsePart10, isStorageSopClass, TAG, type ParsedInstance } from '../dicom/index.js';
import { isLucidaError } from '../errors.js';
import { sha256Hex } from '../hash.js';
import type { InstanceIndex } from '../index/port.js';
import { JOBS, type JobQueue } from '../queue/jobs.js';
import { objectKeys, type ObjectStore } from '../storage/object-store.js';

/** PS3.18 Table 10.5.3-2 / PS3.4 B.2.3 status codes used in Store Instances responses. */
export const FailureReason = {
  ProcessingFailure: 0x0110,
  DuplicateSopInstance: 0x0111,
  SopClassNotSupported: 0x0122,
  /** PS3.7 C.4 "Refused: Not Authorized": a patient-context token storing another patient's instance. */
  NotAuthorized: 0x0124,
  OutOfResources: 0xa700,
  DataSetDoesNotMatchSopClass: 0xa900,
  CannotUnderstand: 0xc000,
} as const;

export const WarningReason = {
  CoercionOfDataElements: 0xb000,
  ElementsDiscarded: 0xb006,
  DataSetDoesNotMatchSopClass: 0xb007,
} as const;

export interface IngestDeps {
  index: InstanceIndex;
  store: ObjectStore;
  log: Logger;
  /** A pending row older than this is taken to be abandoned by a crashed request. */
  pendingTimeoutSeconds: number;
  /**
   * This process's id (process-liveness.ts), recorded as the owner of its pending rows: a pending row
   * whose owner process is dead is abandoned at once, without waiting for pendingTimeoutSeconds.
   */
  processId?: string;
  /** Where the `derive` job (thumbnail, rendering, QA) is sent after every newly stored image. */
  queue?: JobQueue;
}

export interface IngestOptions {
  /** Target study of STOW-RS `/studies/{uid}`: instances of other studies are refused (PS3.18 §10.5.1). */
  expectedStudyUID?: string;
  /**
   * The caller alone writes this SOP Instance UID (the photo converter: the archive assigned it), so a
   * pending row for it is a crashed earlier attempt of its own, taken over at once rather than after
   * PENDING_TIMEOUT_SECONDS.
   */
  ownsUid?: boolean;
  /** Token subject of the caller (STOW-RS) or of the capture's sender, recorded with the instance. */
  storedBy?: string;
  /** The caller's access scope: a patient-context token may only store instances of its own patient. */
  scope?: AccessScope;
}

export type IngestOutcome =
  | {
    status: 'stored';
    sopClassUID: string; sopInstanceUID: string; studyInstanceUID: string; seriesInstanceUID: string;
    /** PatientID of the instance ('' when absent), for the audit trail. */
    patientId: string;
    /** True when an identical instance was already stored: nothing was written. */
    duplicate: boolean;
    warnings: { reason: number; comment: string }[];
  }
  | {
    status: 'failed';
    sopClassUID?: string; sopInstanceUID?: string;
    /** The instance's PatientID, when the refusal is about whose it is (0x0124, for the audit trail). */
    patientId?: string;
    reason: number; comment: string;
  };

export async function ingestInstance(deps: IngestDeps, bytes: Buffer, opts: IngestOptions = {}): Promise<IngestOutcome> {
  let parsed: ParsedInstance;
  try {
    parsed = parsePart10(bytes);
  } catch (err) {
    if (isLucidaError(err)) return { status: 'failed', reason: FailureReason.CannotUnderstand, comment: err.message };
    throw err;
  }
  const ids = { sopClassUID: parsed.sopClassUID, sopInstanceUID: parsed.sopInstanceUID };
  const fail = (reason: number, comment: string): IngestOutcome => ({ status: 'failed', ...ids, reason, comment });

  if (opts.expectedStudyUID && parsed.studyInstanceUID !== opts.expectedStudyUID) {
    return fail(FailureReason.DataSetDoesNotMatchSopClass,
      `StudyInstanceUID ${parsed.studyInstanceUID} does not match the target study ${opts.expectedStudyUID}`);
  }
  const patientId = firstString(parsed.metadata, TAG.PatientID) ?? '';
  if (opts.scope && !inPatientScope(opts.scope, { id: patientId, issuer: firstString(parsed.metadata, TAG.IssuerOfPatientID) ?? '' })) {
    return { ...fail(FailureReason.NotAuthorized, 'this token is limited to one patient; the instance is of another'), patientId };
  }
  const warnings: { reason: number; comment: string }[] = [];
  if (!isStorageSopClass(parsed.sopClassUID)) {
    warnings.push({
      reason: WarningReason.DataSetDoesNotMatchSopClass,
      comment: `SOP Class ${parsed.sopClassUID} is not a storage SOP class known to this archive; stored as received`,
    });
  }

  const sha256 = sha256Hex(bytes);
  const pending = {
    sopInstanceUID: parsed.sopInstanceUID,
    sopClassUID: parsed.sopClassUID,
    studyInstanceUID: parsed.studyInstanceUID,
    seriesInstanceUID: parsed.seriesInstanceUID,
    transferSyntaxUID: parsed.transferSyntaxUID,
    objectKey: objectKeys.instance(parsed.studyInstanceUID, parsed.seriesInstanceUID, parsed.sopInstanceUID, randomBytes(6).toString('hex')),
    sizeBytes: bytes.length,
    sha256,
    storedBy: opts.storedBy,
    owner: deps.processId,
  };
  const stored = (duplicate: boolean): IngestOutcome => ({
    status: 'stored', ...ids,
    studyInstanceUID: parsed.studyInstanceUID, seriesInstanceUID: parsed.seriesInstanceUID,
    patientId,
    duplicate, warnings,
  });

  // Phase 1: claim the UID.
  const reservation = await deps.index.reservePending(pending);
  if (!reservation.reserved) {
    const existing = reservation.existing;
    if (existing.status === 'stored') {
      if (existing.sha256 === sha256) return stored(true); // idempotent re-send
      return fail(FailureReason.DuplicateSopInstance,
        'a different object is already stored under this SOP Instance UID; instances are immutable');
    }
    const ageSeconds = (Date.now() - existing.receivedAt.getTime()) / 1000;
    // A dead owner (its process holds no liveness lock) is certain: a re-send right after a crash
    // succeeds at once. Our own process's rows are in-flight requests of ours, alive by definition.
    const ownerDead = existing.owner !== undefined && existing.owner.processId !== deps.processId && !existing.owner.alive;
    const abandoned = opts.ownsUid || ownerDead || ageSeconds >= deps.pendingTimeoutSeconds;
    if (!abandoned || !(await deps.index.replacePending(pending, existing.objectKey))) {
      return fail(FailureReason.ProcessingFailure, 'this SOP Instance is being stored by another request; retry later');
    }
    // Taken over from an abandoned attempt: its object (under its own key) is garbage now.
    await discard(deps, existing.objectKey, pending.sopInstanceUID);
  }

  // Phase 2: the object.
  try {
    await deps.store.put(pending.objectKey, bytes);
  } catch (err) {
    deps.log.error({ err, sopInstanceUID: pending.sopInstanceUID }, 'object store write failed');
    // A failed write may still land (S3: the store may finish a PUT whose answer was lost): the
    // object is removed now and looked for again later. Unless both are in hand, the pending row
    // stays, naming the object, for reconciliation.
    if (await discard(deps, pending.objectKey, pending.sopInstanceUID, { outcomeUnknown: true })) {
      await deps.index.deletePending(pending.sopInstanceUID, pending.objectKey).catch(() => {});
    }
    return fail(FailureReason.OutOfResources, 'the archive could not write the object');
  }

  // Phase 3: index it.
  try {
    const result = await deps.index.commitStored(pending.sopInstanceUID, pending.objectKey, parsed.metadata);
    if (result.committed) {
      if (parsed.metadata[TAG.PixelData]) await sendDerive(deps, parsed);
      return stored(false);
    }
    if (result.reason === 'not-pending') {
      // Another request took the row over: our object is garbage, their row is theirs.
      await discard(deps, pending.objectKey, pending.sopInstanceUID);
      return fail(FailureReason.ProcessingFailure, 'the pending store was taken over by another request; retry later');
    }
    await undo(deps, pending.sopInstanceUID, pending.objectKey);
    const comment = result.reason === 'patient-mismatch'
      ? 'the study is already stored under a different patient (PatientID/IssuerOfPatientID)'
      : 'the series is already stored under a different study';
    return fail(FailureReason.DataSetDoesNotMatchSopClass, comment);
  } catch (err) {
    deps.log.error({ err, sopInstanceUID: pending.sopInstanceUID }, 'index commit failed');
    await undo(deps, pending.sopInstanceUID, pending.objectKey);
    return fail(FailureReason.ProcessingFailure, 'the archive could not index the instance');
  }
}

/**
 * The instance is durable whatever happens here: a lost derive job only means the first /thumbnail
 * request renders on demand, so a queue failure is logged, not reported to the sender.
 */
async function sendDerive(deps: IngestDeps, p: ParsedInstance): Promise<void> {
  if (!deps.queue) return;
  const job = { studyInstanceUID: p.studyInstanceUID, seriesInstanceUID: p.seriesInstanceUID, sopInstanceUID: p.sopInstanceUID };
  await deps.queue.send(JOBS.derive, job)
    .catch((err) => deps.log.warn({ err, sopInstanceUID: p.sopInstanceUID }, 'could not queue the derive job'));
}

async function undo(deps: IngestDeps, sopInstanceUID: string, objectKey: string): Promise<void> {
  // Object first: a pending row without an object is harmless; an object without a row is an orphan.
  // So the row goes only once the object is gone or its removal is queued; else reconciliation has both.
  if (!(await discard(deps, objectKey, sopInstanceUID))) return;
  await deps.index.deletePending(sopInstanceUID, objectKey).catch((err) => deps.log.error({ err, sopInstanceUID }, 'undo: delete row failed'));
}

/** How long after a write whose outcome is unknown its key is looked at again. */
const UNKNOWN_WRITE_RECHECK_SECONDS = 300;

/**
 * Removes an object no index row will name (an abandoned attempt's; ours after a failure). When the
 * store cannot delete it now, or the write may still land (`outcomeUnknown`), a discard-object job
 * removes it later (services/worker/discard-object.ts, retried through a store outage). True when the
 * object is gone or its removal is queued: only then may a row that names it go.
 */
async function discard(deps: IngestDeps, objectKey: string, sopInstanceUID: string, opts: { outcomeUnknown?: boolean } = {}): Promise<boolean> {
  let deleted = false;
  try {
    await deps.store.delete(objectKey);
    deleted = true;
  } catch (err) {
    deps.log.warn({ err, sopInstanceUID }, 'could not delete an object no row names; queuing its removal');
  }
  if (deleted && !opts.outcomeUnknown) return true;
  if (!deps.queue) return deleted && !opts.outcomeUnknown;
  try {
    await deps.queue.send(JOBS.discardObject, { objectKey }, { delaySeconds: opts.outcomeUnknown ? UNKNOWN_WRITE_RECHECK_SECONDS : 30 });
    return true;
  } catch (err) {
    deps.log.error({ err, sopInstanceUID }, 'could not queue the removal of an object no row names');
    return false;
  }
}
