/**
 * Job names and payloads (the queue's interface contract). Payloads carry identifiers only, never
 * patient data: pg-boss keeps them in its own tables, outside the index's access rules.
 */

export const JOBS = {
  /** Turn one uploaded photograph of a capture into a VL Photographic Image and ingest it. */
  convertPhoto: 'convert-photo',
  /** After every ingest of an image: thumbnail, default rendering and QA figures. */
  derive: 'derive',
  /** Remove pending instance rows (and their objects) abandoned by crashed requests. */
  reconcilePending: 'reconcile-pending',
  /**
   * Remove an object a failed store left behind (a store delete that failed, a write whose outcome
   * is unknown): retried until the store answers; never an object the index names.
   */
  discardObject: 'discard-object',
} as const;

/** Jobs that exhausted their retries are copied here, for an administrator to inspect. */
export const DEAD_LETTER = {
  convertPhoto: 'convert-photo-dead',
  derive: 'derive-dead',
} as const;

export interface ConvertPhotoJob { captureId: string; fileIndex: number }
export interface DeriveJob { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }
export interface DiscardObjectJob { objectKey: string }

export interface JobPayloads {
  [JOBS.convertPhoto]: ConvertPhotoJob;
  [JOBS.derive]: DeriveJob;
  [JOBS.reconcilePending]: Record<string, never>;
  [JOBS.discardObject]: DiscardObjectJob;
}
export type JobName = keyof JobPayloads;

/** Runs SQL inside the caller's transaction, so a job is sent if and only if the transaction commits. */
export interface SqlExecutor { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> }

/** The queue port: what the API and the ingest path need to hand work to the workers. */
export interface JobQueue {
  /** `delaySeconds`: the job becomes runnable only then. */
  send<N extends JobName>(name: N, data: JobPayloads[N], opts?: { tx?: SqlExecutor; delaySeconds?: number }): Promise<void>;
}
