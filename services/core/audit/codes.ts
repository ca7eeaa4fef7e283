/**
 * What kind of audit event each stored event is, in the terms of DICOM PS3.15 Annex A.5 (the DCM
 * codes of PS3.16) and IHE, shared by the two export formats (fhir.ts, dicom-audit.ts):
 *
 *  Lucida event                                   | EventID (DCM)                     | action | type codes
 *  -----------------------------------------------|-----------------------------------|--------|--------------------------
 *  QIDO-RS search (read on a search route)        | 110112 Query (A.5.3.10)           | E      |
 *  WADO-RS / WADO-URI / metadata / rendered ...   | 110103 DICOM Instances Accessed   | R      |
 *  STOW-RS, capture (POST)                        | 110104 DICOM Instances Transferred| C      |
 *  capture status, original upload (GET)          | 110103 DICOM Instances Accessed   | R      |
 *  viewer launch, IHE IID invoke                  | 110110 Patient Record             | R      |
 *  annotation saved / removed (POST / DELETE)     | 110110 Patient Record             | C / D  |
 *  launch exchange, session refresh, 401          | 110114 User Authentication        | E      | 110122 Login
 *  session end (DELETE /api/session)              | 110114 User Authentication        | E      | 110123 Logout
 *  refused (403, or another patient's data: 404)  | 110113 Security Alert             | E      | 110132 Use of Restricted Function
 *  too many requests (429: an address locked out  | 110113 Security Alert             | E      | 110132 Use of Restricted Function
 *   after repeated failed authentication, or a    |                                   |        |
 *   client over its rate limit)                   |                                   |        |
 *  GET /api/audit                                 | 110101 Audit Log Used (A.5.3.1)   | R      | ITI-81 Retrieve ATNA Audit Event
 *  audit-overflow (events lost)                   | 110113 Security Alert             | E      | 110133 Audit Recording Stopped
 *  anything else                                  | 110103 DICOM Instances Accessed   | by HTTP method (POST C, PUT/PATCH U, DELETE D, else R)
 *
 * Outcome (EventOutcomeIndicator): success 0; denied and not-found 4 (minor failure: refused or
 * nothing there); failure 4 for a client error (4xx) and 8 (serious failure) for a server error.
 */
import type { AuditEvent } from './types.js';

/** This system's name as audit source, observer and participant. */
export const AUDIT_SOURCE = 'Lucida';

export interface AuditCode {
  code: string;
  /** DICOM codeSystemName ('DCM', 'IHE Transactions'). */
  scheme: string;
  meaning: string;
}

const dcm = (code: string, meaning: string): AuditCode => ({ code, scheme: 'DCM', meaning });

export const CODES = {
  auditLogUsed: dcm('110101', 'Audit Log Used'),
  instancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  instancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  patientRecord: dcm('110110', 'Patient Record'),
  query: dcm('110112', 'Query'),
  securityAlert: dcm('110113', 'Security Alert'),
  userAuthentication: dcm('110114', 'User Authentication'),
  login: dcm('110122', 'Login'),
  logout: dcm('110123', 'Logout'),
  restrictedFunction: dcm('110132', 'Use of Restricted Function'),
  auditRecordingStopped: dcm('110133', 'Audit Recording Stopped'),
  application: dcm('110150', 'Application'),
  destinationRole: dcm('110152', 'Destination Role ID'),
  sourceRole: dcm('110153', 'Source Role ID'),
  studyInstanceUid: dcm('110180', 'Study Instance UID'),
  sopClassUid: dcm('110181', 'SOP Class UID'),
  retrieveAuditEvent: { code: 'ITI-81', scheme: 'IHE Transactions', meaning: 'Retrieve ATNA Audit Event' },
} as const satisfies Record<string, AuditCode>;

/**
 * QIDO-RS is the web form of the Study Root C-FIND (PS3.18 §10.6): its audit Query names that SOP
 * Class, as A.5.3.10 asks for the SOP Class of the query.
 */
export const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

export type EventActionCode = 'C' | 'R' | 'U' | 'D' | 'E';
export type EventOutcomeIndicator = '0' | '4' | '8' | '12';

export interface AuditEventKind {
  eventId: AuditCode;
  action: EventActionCode;
  eventTypes: AuditCode[];
  /** RoleIDCode of the requesting user or process, and of Lucida, where the message defines them. */
  requestorRole?: AuditCode;
  archiveRole?: AuditCode;
  /** The event is a search: its query is a participant object. */
  isQuery: boolean;
}

/** Search routes (QIDO-RS): the pattern ends in a resource collection, not in one resource. */
const QUERY_ROUTE = /\/(studies|series|instances)$/;

const LOGIN_ACTIONS = new Set(['authenticate', 'launch-exchange', 'session-refresh']);

export function classifyAuditEvent(e: AuditEvent): AuditEventKind {
  const kind = (eventId: AuditCode, action: EventActionCode, more: Partial<AuditEventKind> = {}): AuditEventKind =>
    ({ eventId, action, eventTypes: [], isQuery: false, ...more });
  if (e.action === 'audit-overflow') return kind(CODES.securityAlert, 'E', { eventTypes: [CODES.auditRecordingStopped] });
  // Before the login test: a lockout is recorded under action 'authenticate', but it is an alert, not a login attempt.
  if (e.status === 429 || e.action === 'rate-limit') return kind(CODES.securityAlert, 'E', { eventTypes: [CODES.restrictedFunction] });
  // Before the 401 test: ending a session without a valid cookie is still a logout (that failed).
  if (e.action === 'session-end') return kind(CODES.userAuthentication, 'E', { eventTypes: [CODES.logout] });
  if (e.status === 401 || LOGIN_ACTIONS.has(e.action)) return kind(CODES.userAuthentication, 'E', { eventTypes: [CODES.login] });
  if (e.outcome === 'denied') return kind(CODES.securityAlert, 'E', { eventTypes: [CODES.restrictedFunction] });
  switch (e.action) {
    case 'audit':
      return kind(CODES.auditLogUsed, 'R', { eventTypes: [CODES.retrieveAuditEvent], isQuery: true });
    case 'read':
      if (e.route && QUERY_ROUTE.test(e.route)) {
        return kind(CODES.query, 'E', { requestorRole: CODES.sourceRole, archiveRole: CODES.destinationRole, isQuery: true });
      }
      return kind(CODES.instancesAccessed, 'R');
    case 'store':
      return kind(CODES.instancesTransferred, 'C', { requestorRole: CODES.sourceRole, archiveRole: CODES.destinationRole });
    case 'capture':
      return e.method === 'POST'
        ? kind(CODES.instancesTransferred, 'C', { requestorRole: CODES.sourceRole, archiveRole: CODES.destinationRole })
        : kind(CODES.instancesAccessed, 'R');
    case 'launch':
    case 'invoke-image-display':
      return kind(CODES.patientRecord, 'R');
    case 'annotate':
      // A calibration or measurement is an entry in the patient's record about an image, kept as a
      // record linked to it: no DICOM instance is created or deleted, so not 110103/110104.
      return kind(CODES.patientRecord, actionOfMethod(e.method));
    default:
      return kind(CODES.instancesAccessed, actionOfMethod(e.method));
  }
}

function actionOfMethod(method: string): EventActionCode {
  switch (method) {
    case 'POST': return 'C';
    case 'PUT': case 'PATCH': return 'U';
    case 'DELETE': return 'D';
    default: return 'R';
  }
}

export function outcomeIndicator(e: AuditEvent): EventOutcomeIndicator {
  if (e.outcome === 'success') return '0';
  if (e.outcome === 'failure' && e.status >= 500) return '8';
  return '4';
}

/**
 * The query string of a search event (as sent: keys in the order stored, repeated keys repeated),
 * for ParticipantObjectQuery / entity.query, which carry it base64-encoded.
 */
export function queryString(e: AuditEvent): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(e.query ?? {})) for (const x of ([] as string[]).concat(v)) params.append(k, x);
  return params.toString();
}
