/**
 * InstanceIndex port: what ingest, QIDO-RS and WADO-RS need from the index.
 * The Postgres adapter (postgres-index.ts) is the only place that writes SQL for these.
 */
import type { DicomJson } from '../dicom/json.types.js';
import type { AccessScope } from '../auth/policy.js';
import type { PatientRef } from '../auth/principal.js';
import type { QidoQuery } from '../qido/query.js';

/** What the ingest path knows about an instance before its object is stored. */
export interface PendingInstance {
  sopInstanceUID: string;
  sopClassUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  transferSyntaxUID: string;
  objectKey: string;
  sizeBytes: number;
  sha256: string;
  /** Token subject of whoever stored it (STOW-RS caller, or the capture's sender): a photographer reads their own of today. */
  storedBy?: string;
  /** Id of the process storing it (process-liveness.ts): while it is pending, a dead owner means abandoned. */
  owner?: string;
}

export interface ExistingInstance {
  status: 'pending' | 'stored';
  sha256: string;
  objectKey: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopClassUID: string;
  receivedAt: Date;
  /** A pending row's owner process, and whether it is alive (holds its liveness lock). */
  owner?: { processId: string; alive: boolean };
}

export type ReserveResult = { reserved: true } | { reserved: false; existing: ExistingInstance };

export type CommitResult =
  | { committed: true }
  /** The study (or series) already belongs to a different patient (or study): refused, PS3.18 0xA900. */
  | { committed: false; reason: 'patient-mismatch' | 'study-mismatch' | 'not-pending' };

/** One stored instance, as WADO needs it to find and describe the object. */
export interface StoredInstance {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  objectKey: string;
  sizeBytes: number;
  sha256: string;
  numberOfFrames: number | null;
  /** True when the instance has Pixel Data (it can be rendered). */
  hasPixelData: boolean;
  /** False when the derive job found its pixel data damaged: it cannot be decoded or transcoded. */
  decodable: boolean;
  /** The study's patient (PatientID, IssuerOfPatientID; '' when absent), for the audit trail. */
  patientId: string;
  issuer: string;
  /**
   * Full DICOM JSON without bulk data (BulkDataURI values are relative element paths); only
   * loaded when asked for (`withMetadata`), since most retrievals do not need it.
   */
  metadata?: DicomJson;
}

/**
 * Which stored instances: those of a study (optionally of one series, or one instance, in it), or one
 * instance named by its SOP Instance UID alone (unique in the index).
 */
export type InstanceFilter =
  | { studyInstanceUID: string; seriesInstanceUID?: string; sopInstanceUID?: string }
  | { studyInstanceUID?: undefined; seriesInstanceUID?: undefined; sopInstanceUID: string };

export interface QidoResult {
  matches: DicomJson[];
  truncated: boolean;
  warnings: string[];
  /** The patients and studies of the matches, whatever attributes the response returns (audit trail). */
  patientIds: string[];
  studyUIDs: string[];
}

export interface InstanceIndex {
  /** Phase 1 of the two-phase store: claim the SOP Instance UID with a pending row. */
  reservePending(p: PendingInstance): Promise<ReserveResult>;
  /**
   * Takes over a pending row left by a failed or crashed request (same UID), pointing it at a new
   * object. Only the attempt whose object is `previousObjectKey` is taken over.
   */
  replacePending(p: PendingInstance, previousObjectKey: string): Promise<boolean>;
  /**
   * Phase 3: in ONE statement, upsert patient, study, series from `metadata` (latest attributes win)
   * and mark the pending instance stored. Durable on return.
   * `objectKey` names the store attempt: a pending row that another request has taken over since
   * (it points at another object) is not this caller's to commit, undo or replace.
   */
  commitStored(sopInstanceUID: string, objectKey: string, metadata: DicomJson): Promise<CommitResult>;
  /** Undo phase 1 (the caller removes the object). */
  deletePending(sopInstanceUID: string, objectKey: string): Promise<void>;
  /**
   * Stored instances matching the filter, ordered by series number, instance number; only those
   * inside `scope` (policy.ts): the rest are not found.
   */
  findInstances(filter: InstanceFilter, opts?: { withMetadata?: boolean; scope?: AccessScope }): Promise<StoredInstance[]>;
  /**
   * QIDO-RS search (PS3.18 §10.6): runs entirely in SQL, limited to `scope`. `retrieveBase` is the
   * absolute /dicomweb URL.
   */
  search(query: QidoQuery, retrieveBase: string, scope?: AccessScope): Promise<QidoResult>;
  /**
   * The patient of a study with stored instances (or of the one holding a stored instance, named by
   * its SOP Instance UID), and whether `scope` lets the caller see it (that instance); undefined when
   * there is no such study or instance.
   */
  studyPatient(of: string | { sopInstanceUID: string }, scope?: AccessScope): Promise<(PatientRef & { visible: boolean }) | undefined>;
  /** Records an instance's image-quality figures (the derive job's QA: sharpness, clipping, resolution). */
  setQa(sopInstanceUID: string, qa: unknown): Promise<void>;
}
