/**
 * The audit trail's contract: one event per access to patient data (and per refused attempt),
 * appended to a hash-chained, append-only table. Routes never write events themselves: they note
 * what they touched on the request's AuditDraft, and the audit middleware appends one event when
 * the response is done (services/api/middleware/audit.ts).
 */

/** How the request ended, for the audit reader. */
export type AuditOutcome =
  /** Served (2xx/3xx). */
  | 'success'
  /** Refused: no or bad credentials (401), role not allowed (403), or another patient's data asked for by a patient-context token (answered 404). */
  | 'denied'
  /** Nothing matched (404) within what the caller may see. */
  | 'not-found'
  /** The request failed: the client's mistake (4xx) or the server's (5xx). */
  | 'failure';

export interface AuditEvent {
  at: Date;
  /** The policy action (policy.ts Action), or 'authenticate' for a request refused before one was known, 'launch-exchange', 'session-refresh'. */
  action: string;
  outcome: AuditOutcome;
  /** HTTP status sent. */
  status: number;
  subject?: string;
  roles?: string[];
  clientId?: string;
  onBehalfOf?: string;
  /** Client address as Express sees it (TRUST_PROXY decides whether X-Forwarded-For counts). */
  ip?: string;
  userAgent?: string;
  requestId?: string;
  method: string;
  /** The route pattern (e.g. /dicomweb/studies/:study), never the URL: the URL may hold identifiers the pattern already lists below. */
  route?: string;
  /** Patients whose data was returned, stored or asked for (PatientID; 'issuer|id' is not used: IDs only). */
  patientIds: string[];
  studyUIDs: string[];
  seriesUIDs: string[];
  sopInstanceUIDs: string[];
  /** Search parameters (QIDO-RS, audit search), as sent. */
  query?: Record<string, string | string[]>;
  /** Short machine-oriented note (e.g. 'out of patient context', the error code). Never patient data. */
  detail?: string;
}

/** What a route fills in while it works; the middleware turns it into an AuditEvent. */
export interface AuditDraft {
  action?: string;
  /** The route pattern that matched (/dicomweb/studies/:study), set by its guard. */
  route?: string;
  patientIds: Set<string>;
  studyUIDs: Set<string>;
  seriesUIDs: Set<string>;
  sopInstanceUIDs: Set<string>;
  query?: Record<string, string | string[]>;
  /** Set when a scoped lookup found nothing because the data is another patient's (answered 404, audited as denied). */
  deniedOutOfScope?: boolean;
  detail?: string;
  /** Set by routes that are not patient data (the health probes, through publicRoute without an audit action). */
  skip?: boolean;
}

export const newAuditDraft = (): AuditDraft => ({
  patientIds: new Set(), studyUIDs: new Set(), seriesUIDs: new Set(), sopInstanceUIDs: new Set(),
});

/** Notes one instance a request read, stored or refused on its draft (the middleware caps the lists). */
export function noteInstance(draft: AuditDraft, i: {
  patientId: string; studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string;
}): void {
  draft.patientIds.add(i.patientId);
  draft.studyUIDs.add(i.studyInstanceUID);
  draft.seriesUIDs.add(i.seriesInstanceUID);
  draft.sopInstanceUIDs.add(i.sopInstanceUID);
}

/** Most UIDs of each kind kept in one event (a whole-study retrieval lists its instances up to this). */
export const AUDIT_MAX_UIDS = 1000;

export interface StoredAuditEvent extends AuditEvent {
  id: string;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  patientId?: string;
  subject?: string;
  action?: string;
  outcome?: AuditOutcome;
  studyUID?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset: number;
}

export interface AuditVerifyReport {
  ok: boolean;
  checked: number;
  /** The first row whose hash or link does not hold, when not ok. */
  firstBadId?: string;
  problem?: string;
  /** The last row checked and its hash (when ok): record them elsewhere to detect later removal of the newest rows. */
  lastId?: string;
  lastHash?: string;
}

export interface AuditLog {
  /** Queues one event; never blocks the request. Written in batches, chained in append order. */
  append(event: AuditEvent): void;
  /** Resolves when everything appended so far is durable. */
  flush(): Promise<void>;
  search(q: AuditQuery): Promise<{ events: StoredAuditEvent[]; truncated: boolean }>;
  /** Recomputes the chain from the first row. */
  verify(): Promise<AuditVerifyReport>;
  /** Flushes and stops the writer. */
  close(): Promise<void>;
}
