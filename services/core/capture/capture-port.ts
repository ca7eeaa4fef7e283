/**
 * CaptureRepository port: captures, their files' conversion state (with the stored instance's QA
 * figures, read only: the derive job writes them through InstanceIndex) and consent records.
 * The Postgres adapter (index/postgres-captures.ts) is the only place with their SQL.
 */
import type { DicomJson } from '../dicom/json.types.js';
import type { SqlExecutor } from '../queue/jobs.js';
import type { CaptureContext, ConsentInput, ImageContext } from './types.js';

export type CaptureSource = 'capture-api' | 'stow-rs';
export type CaptureFileStatus = 'queued' | 'converting' | 'stored' | 'failed';

export interface NewCaptureFile {
  fileIndex: number;
  fileName: string;
  contentType?: string;
  sizeBytes: number;
  sha256: string;
  /** Object key of the original upload; absent when the file was refused before it was stored. */
  uploadKey?: string;
  image: ImageContext;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  seriesNumber: number;
  instanceNumber: number;
  status: 'queued' | 'failed';
  reason?: string;
}

/** Study-level values fixed when the capture is accepted (or taken from the existing study). */
export interface StudyDetails { studyDate: string; studyTime: string; studyId: string; accessionNumber: string }

/** The capture's context as recorded: the normalised context plus the study details. */
export type RecordedContext = CaptureContext & { studyDetails: StudyDetails };

export interface NewCapture {
  id: string;
  source: CaptureSource;
  createdBy: string;
  clientId?: string;
  idempotencyKey?: string;
  /** SHA-256 over the request's metadata and files (see Idempotency-Key). */
  fingerprint?: string;
  studyInstanceUID: string;
  /** The study's accession number (of the request), when it has one. */
  accessionNumber?: string;
  /**
   * What the study was resolved to, re-checked under a lock in the transaction: `newStudy` (no
   * capture for the accession number may have started another study since) and the first series
   * number this capture assigned (no other capture may have taken it since).
   */
  resolvedAs: { newStudy: boolean; firstNewSeriesNumber?: number };
  context: RecordedContext;
  files: NewCaptureFile[];
}

/**
 * Why a file failed: `input` the image itself (not an image, damaged, too large), `refused` the archive
 * would not store the instance (another patient's study, UID clash), `processing` retries ran out.
 */
export type FailureKind = 'input' | 'refused' | 'processing';

export interface CaptureFileRecord extends Omit<NewCaptureFile, 'status'> {
  status: CaptureFileStatus;
  failure?: FailureKind;
  attempts: number;
  encoding?: string;
  /** QA figures of the stored instance, once the derive job has run. */
  qa?: unknown;
  updatedAt: Date;
}

export interface CaptureRecord {
  id: string;
  source: CaptureSource;
  createdBy: string;
  studyInstanceUID: string;
  context: RecordedContext;
  createdAt: Date;
  files: CaptureFileRecord[];
}

/**
 * What an existing study looks like, to attach new photographs to it consistently: as indexed, or,
 * while its first photographs are still being converted, as its first capture recorded it.
 */
export interface ExistingStudy {
  studyInstanceUID: string;
  /** Patient-level and study-level DICOM JSON attributes as indexed (absent while not yet indexed). */
  indexed?: { patient: DicomJson; study: DicomJson };
  /** The first capture's context, for a study not indexed yet. */
  captured?: RecordedContext;
  /** Highest SeriesNumber in the study or assigned by its captures (0 when none). */
  maxSeriesNumber: number;
}

export type CreateCaptureResult =
  | { created: true }
  /** Same Idempotency-Key from the same caller: that capture. */
  | { created: false; existingCaptureId: string; conflict: 'idempotency-key' }
  /** A file's SOP Instance UID is already used by another capture (STOW-RS re-send). */
  | { created: false; existingCaptureId: string; conflict: 'sop-instance'; sopInstanceUID: string }
  /** Another capture changed the study (started it, or took the series numbers) meanwhile: resolve again. */
  | { created: false; conflict: 'study-changed' };

export interface ConsentRecord {
  studyInstanceUID: string;
  level: ConsentInput['level'];
  status: 'given' | 'withdrawn';
  consentedBy: string;
  consentedAt: Date;
  recordedBy: string;
  recordedAt: Date;
  captureId?: string;
}

export interface CaptureRepository {
  /**
   * In one transaction: the capture, its files, the consent record, and (through `enqueue`, given the
   * transaction) the conversion jobs, so a capture is never recorded without its jobs or vice versa.
   */
  createCapture(c: NewCapture, consent: { input: ConsentInput; recordedBy: string },
    enqueue: (tx: SqlExecutor, file: NewCaptureFile) => Promise<void>): Promise<CreateCaptureResult>;
  findCapture(id: string): Promise<CaptureRecord | undefined>;
  findCaptureByIdempotencyKey(createdBy: string, key: string): Promise<{ id: string; fingerprint?: string } | undefined>;
  /** The files of these captures (STOW-RS waits on its one-file captures with one query per poll). */
  filesOfCaptures(captureIds: string[]): Promise<{ captureId: string; file: CaptureFileRecord }[]>;
  /** An existing study by StudyInstanceUID or, when unique, accession number. */
  findStudy(by: { studyInstanceUID?: string; accessionNumber?: string }): Promise<ExistingStudy[]>;
  /**
   * Starts an attempt at converting a file: status → converting, attempts + 1. Undefined when the file
   * is already stored or failed (a duplicated or late job: nothing to do).
   */
  claimFile(captureId: string, fileIndex: number): Promise<{ capture: CaptureRecord; file: CaptureFileRecord } | undefined>;
  markStored(captureId: string, fileIndex: number, encoding: string): Promise<void>;
  markFailed(captureId: string, fileIndex: number, reason: string, kind: FailureKind): Promise<void>;
  /**
   * Marks a file failed only if it is still queued or converting: the dead-letter queue's last word,
   * which must not overwrite the reason its last attempt already recorded.
   */
  markAbandoned(captureId: string, fileIndex: number, reason: string): Promise<void>;
  /** A transient failure: back to queued, with why, until the queue retries it. */
  markRetrying(captureId: string, fileIndex: number, reason: string): Promise<void>;
  /** The consent recorded with this capture. */
  consentForCapture(captureId: string): Promise<ConsentRecord | undefined>;
}
