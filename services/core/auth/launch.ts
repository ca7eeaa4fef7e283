/**
 * Viewer launch: an EPR (POST /api/launch) or a signed-in user (IHE IID) asks for the viewer on one
 * patient; Lucida answers with a one-time, short-lived launch code; the viewer exchanges the code
 * for a patient-scoped session token and a refresh cookie, and refreshes while the page is open.
 *
 * Why a code and not a token in the URL: the launch URL passes through the EPR, the browser's
 * history and possibly a screen share; a code that works once, for LAUNCH_TTL_SECONDS, and is kept
 * in the URL fragment (never sent to a server, proxy or Referer) leaves nothing worth stealing.
 * Secrets (codes, refresh values) are 32 random bytes; only their SHA-256 is stored.
 *
 * This module parses requests (pure functions) and runs the launch lifecycle over two ports: the
 * LaunchRepository and a session-token signer. HTTP (cookies, headers) stays in routes/launch.ts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { isLongStringIdentifier } from '../capture/dicom-text.js';
import { LucidaError } from '../errors.js';
import { isValidNhsNumber, NHS_NUMBER_ISSUER_OID, normalizeNhsNumber } from '../capture/nhs-number.js';
import { isValidUid } from '../dicom/uids.js';
import type { AccessScope } from './policy.js';
import { isUserId, type PatientRef, type Principal } from './principal.js';
import type { LaunchPatient, LaunchRecord, LaunchRepository } from './launch-port.js';
import type { SessionTokenRequest } from './tokens.js';

// ---------------------------------------------------------------------------------------------
// Secrets

const SECRET_BYTES = 32;
/** 32 bytes as unpadded base64url. */
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new random secret (launch code, refresh value) and the SHA-256 (hex) under which it is stored. */
export function newSecret(): { value: string; hash: string } {
  const value = randomBytes(SECRET_BYTES).toString('base64url');
  return { value, hash: hashSecret(value) };
}

export const hashSecret = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** Whether a presented value could be one of our secrets (anything else is refused without a lookup). */
export const isWellFormedSecret = (value: unknown): value is string => typeof value === 'string' && SECRET_SHAPE.test(value);

// ---------------------------------------------------------------------------------------------
// Parsing: POST /api/launch bodies and IHE IID query strings become typed values before any lookup.

/** Who the EPR launches the viewer for. */
export interface LaunchUser { id: string; name?: string }

export interface LaunchBody {
  patient?: LaunchPatient;
  studyUID?: string;
  user: LaunchUser;
  reason?: string;
}

/** Free text (names, reasons): no control or format characters, no surrounding spaces. */
const FREE_TEXT = /^[^\p{Cc}\p{Cf}\s](?:[^\p{Cc}\p{Cf}]*[^\p{Cc}\p{Cf}\s])?$/u;

const bad = (detail: string) => new LucidaError('BAD_REQUEST', detail);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyMembers(obj: Record<string, unknown>, allowed: string[], where: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length) throw bad(`${where} has unknown member(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${allowed.join(', ')}`);
}

/**
 * An issuer as the index stores NHS numbers: 'NHS' for the NHS number's issuer however it is named
 * (any case, or its ISO OID), otherwise as given.
 */
export function canonicalIssuer(issuer: string): string {
  return issuer.toUpperCase() === 'NHS' || issuer === NHS_NUMBER_ISSUER_OID ? 'NHS' : issuer;
}

/**
 * A patient named by a caller: an NHS number (issuer NHS: spaces and hyphens removed, modulus 11
 * checked) or another PatientID with its issuer. The issuer is required: a session scoped to a
 * PatientID alone would show every issuer's patient of that number.
 */
export function parsePatient(id: unknown, issuer: unknown, names: { id: string; issuer: string }): LaunchPatient {
  if (typeof issuer !== 'string' || !isLongStringIdentifier(issuer)) {
    throw bad(`${names.issuer} is required (NHS for an NHS number, else the assigning authority), 1 to 64 characters`);
  }
  const canonical = canonicalIssuer(issuer);
  if (typeof id !== 'string') throw bad(`${names.id} is required (text)`);
  if (canonical === 'NHS') {
    const nhs = normalizeNhsNumber(id);
    if (!isValidNhsNumber(nhs)) throw bad(`${names.id} is not a valid NHS number (ten digits with a modulus 11 check digit)`);
    return { id: nhs, issuer: 'NHS' };
  }
  if (!isLongStringIdentifier(id)) throw bad(`${names.id} must be text of 1 to 64 characters without backslashes or control characters`);
  return { id, issuer: canonical };
}

/**
 * The body of POST /api/launch: `{ patient: { id, issuer? } }` and/or `{ studyUID }`, with
 * `user: { id, name? }` (required) and an optional `reason`. Unknown members are refused.
 */
export function parseLaunchBody(body: unknown): LaunchBody {
  if (!isObject(body)) throw bad('the body must be a JSON object');
  onlyMembers(body, ['patient', 'studyUID', 'user', 'reason'], 'the body');
  const out: Partial<LaunchBody> = {};
  if (body.patient !== undefined) {
    if (!isObject(body.patient)) throw bad('patient must be an object { "id": ..., "issuer": ... }');
    onlyMembers(body.patient, ['id', 'issuer'], 'patient');
    out.patient = parsePatient(body.patient.id, body.patient.issuer, { id: 'patient.id', issuer: 'patient.issuer' });
  }
  if (body.studyUID !== undefined) {
    if (!isValidUid(body.studyUID)) throw new LucidaError('INVALID_UID', 'studyUID is not a valid UID');
    out.studyUID = body.studyUID;
  }
  if (!out.patient && !out.studyUID) throw bad('name the patient ("patient": { "id", "issuer" }) or the study ("studyUID"), or both');
  if (!isObject(body.user)) throw bad('user is required: { "id": the end user\'s id, "name": their name }');
  onlyMembers(body.user, ['id', 'name'], 'user');
  if (typeof body.user.id !== 'string' || !isUserId(body.user.id)) {
    throw bad('user.id must be 1 to 128 letters, digits, spaces or ._@:|/\\- (not starting or ending with a space)');
  }
  out.user = { id: body.user.id };
  if (body.user.name !== undefined) {
    if (typeof body.user.name !== 'string' || body.user.name.length > 128 || !FREE_TEXT.test(body.user.name)) {
      throw bad('user.name must be text of 1 to 128 characters without control characters');
    }
    out.user.name = body.user.name;
  }
  if (body.reason !== undefined) {
    if (typeof body.reason !== 'string' || body.reason.length > 256 || !FREE_TEXT.test(body.reason)) {
      throw bad('reason must be text of 1 to 256 characters without control characters');
    }
    out.reason = body.reason;
  }
  return out as LaunchBody;
}

/** The body of POST /api/launch/exchange: `{ "code": "..." }`. The code's shape is the service's to judge. */
export function parseExchangeBody(body: unknown): { code: string } {
  if (!isObject(body)) throw bad('the body must be a JSON object { "code": ... }');
  onlyMembers(body, ['code'], 'the body');
  if (typeof body.code !== 'string') throw bad('code is required: the launch code from the viewer URL');
  return { code: body.code };
}

/**
 * An HL7 v2 CX patient identifier as IHE IID sends it (RAD-106): `id^^^authority`, the assigning
 * authority an HD `namespace&universalId&universalIdType`. The NHS number's authority, by name or by
 * its OID (`&2.16.840.1.113883.2.1.4.1&ISO`), becomes issuer NHS; otherwise the namespace, else the
 * universal id, is the issuer; the authority is required. HL7 escape sequences are not expected in PatientIDs and are refused
 * (a backslash is not allowed in a DICOM LO).
 */
export function parseCxPatientId(cx: string): LaunchPatient {
  const [id = '', , , authority = ''] = cx.split('^');
  const [namespace = '', universalId = ''] = authority.split('&');
  let issuer = '';
  if (universalId === NHS_NUMBER_ISSUER_OID) issuer = 'NHS';
  else if (namespace) issuer = namespace;
  else if (universalId) issuer = universalId;
  return parsePatient(id, issuer, { id: 'patientID', issuer: 'the assigning authority of patientID (id^^^authority)' });
}

/** Most studies one launch opens (IID studyUID or accessionNumber lists). */
export const MAX_LAUNCH_STUDIES = 100;

export type IidRequest =
  | { requestType: 'PATIENT'; patient: LaunchPatient }
  | { requestType: 'STUDY'; studyUIDs: string[]; patient?: LaunchPatient }
  | { requestType: 'STUDY'; accessionNumbers: string[]; patient?: LaunchPatient };

const IID_BOOLEAN = /^(true|false)$/;
const VIEWER_TYPE = /^[A-Za-z0-9_.-]{1,64}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * The query of `GET /IHEInvokeImageDisplay` (IHE RAD TF-2 §4.106, Invoke Image Display):
 *   requestType=PATIENT&patientID=<CX>
 *   requestType=STUDY&studyUID=<uid>[,<uid>...]  or  requestType=STUDY&accessionNumber=<n>[,<n>...]
 * Display parameters are checked when given and otherwise do not change what is shown: viewerType
 * (IHE_BIR or a vendor name: there is one viewer), diagnosticQuality and keyImagesOnly (true|false:
 * photographs are stored as captured, and every image is shown), and the PATIENT filters
 * (patientName, patientBirthDate, lowerDateTime, upperDateTime, mostRecentResults,
 * modalitiesInStudy: the viewer lists all of the patient's studies, newest first). Parameters the
 * profile does not define are ignored.
 */
export function parseIidQuery(query: Record<string, unknown>): IidRequest {
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new LucidaError('INVALID_QUERY', `${name} is given more than once`);
    return v;
  };
  const list = (name: string): string[] | undefined => {
    const v = one(name);
    if (v === undefined) return undefined;
    const items = [...new Set(v.split(',').map((s) => s.trim()))];
    if (items.some((s) => s === '')) throw new LucidaError('INVALID_QUERY', `${name} has an empty item`);
    if (items.length > MAX_LAUNCH_STUDIES) throw new LucidaError('INVALID_QUERY', `${name} lists more than ${MAX_LAUNCH_STUDIES} studies`);
    return items;
  };
  for (const name of ['diagnosticQuality', 'keyImagesOnly']) {
    const v = one(name);
    if (v !== undefined && !IID_BOOLEAN.test(v)) throw new LucidaError('INVALID_QUERY', `${name} must be true or false`);
  }
  const viewerType = one('viewerType');
  if (viewerType !== undefined && !VIEWER_TYPE.test(viewerType)) throw new LucidaError('INVALID_QUERY', 'viewerType must be IHE_BIR or a viewer name');
  const mostRecent = one('mostRecentResults');
  if (mostRecent !== undefined && !/^[1-9]\d{0,5}$/.test(mostRecent)) throw new LucidaError('INVALID_QUERY', 'mostRecentResults must be a positive whole number');
  for (const name of ['lowerDateTime', 'upperDateTime']) {
    const v = one(name);
    if (v !== undefined && !ISO_DATE_TIME.test(v)) throw new LucidaError('INVALID_QUERY', `${name} must be an ISO 8601 date and time`);
  }
  for (const name of ['patientName', 'patientBirthDate', 'modalitiesInStudy']) one(name);

  const requestType = one('requestType');
  const cx = one('patientID');
  const patient = cx === undefined ? undefined : parseIid(() => parseCxPatientId(cx));
  if (requestType === 'PATIENT') {
    if (!patient) throw new LucidaError('INVALID_QUERY', 'requestType=PATIENT needs patientID (HL7 CX: id^^^issuer)');
    return { requestType, patient };
  }
  if (requestType === 'STUDY') {
    const studyUIDs = list('studyUID');
    const accessionNumbers = list('accessionNumber');
    if (studyUIDs && accessionNumbers) throw new LucidaError('INVALID_QUERY', 'give studyUID or accessionNumber, not both');
    if (studyUIDs) {
      const invalid = studyUIDs.find((u) => !isValidUid(u));
      if (invalid !== undefined) throw new LucidaError('INVALID_UID', 'studyUID lists a value that is not a valid UID');
      return { requestType, studyUIDs, ...(patient ? { patient } : {}) };
    }
    if (accessionNumbers) {
      if (accessionNumbers.some((a) => !isLongStringIdentifier(a))) throw new LucidaError('INVALID_QUERY', 'accessionNumber values must be 1 to 64 characters');
      return { requestType, accessionNumbers, ...(patient ? { patient } : {}) };
    }
    throw new LucidaError('INVALID_QUERY', 'requestType=STUDY needs studyUID or accessionNumber');
  }
  throw new LucidaError('INVALID_QUERY', requestType === undefined
    ? 'requestType is required (PATIENT or STUDY)'
    : 'requestType must be PATIENT or STUDY');
}

/** Body validation errors (BAD_REQUEST) re-raised as query errors for IID. */
function parseIid<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof LucidaError && err.code === 'BAD_REQUEST') throw new LucidaError('INVALID_QUERY', err.message);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/** What a session token says (signed by the session key; the verifier turns it into a 'session' principal). */
export type SessionClaims = SessionTokenRequest;

export type SessionSigner = (claims: SessionClaims) => Promise<{ token: string; expiresAt: Date }>;

export interface LaunchServiceDeps {
  launches: LaunchRepository;
  /** The index's study lookup (InstanceIndex.studyPatient), limited to the caller's scope. */
  studyPatient(studyUID: string, scope: AccessScope): Promise<(PatientRef & { visible: boolean }) | undefined>;
  signSession: SessionSigner;
  publicBaseUrl: string;
  session: { launchTtlSeconds: number; tokenTtlSeconds: number; maxSeconds: number };
}

/** What a launch opens: one patient, and the studies to show first (all of that patient's). */
export interface LaunchTarget { patient: LaunchPatient; studyUIDs: string[] }

export interface CreatedLaunch { launchId: string; url: string; expiresAt: Date }

/** A session token and the refresh value that renews it (set as an HttpOnly cookie by the route). */
export interface SessionGrant {
  accessToken: string;
  expiresAt: Date;
  expiresIn: number;
  refresh: { value: string; maxAgeSeconds: number };
  launch: LaunchRecord;
  /** Who the token speaks for, for the request's audit event. */
  principal: Principal;
}

export type RefreshOutcome = { ok: true; grant: SessionGrant } | { ok: false; reused: boolean };

const notFound = () => new LucidaError('NOT_FOUND', 'no such study');
const invalidLaunch = () => new LucidaError('INVALID_LAUNCH');

export class LaunchService {
  constructor(private readonly deps: LaunchServiceDeps) {}

  /**
   * The patient and studies a launch opens. Each study must exist with stored instances the caller
   * may see (else 404, the same answer whether it is missing or hidden), all of one patient, and of
   * the patient named, when one is.
   */
  async resolveTarget(req: { patient?: LaunchPatient; studyUIDs?: string[]; accessionNumbers?: string[] },
    scope: AccessScope): Promise<LaunchTarget> {
    const found: { studyUID: string; patient: LaunchPatient }[] = [];
    for (const uid of req.studyUIDs ?? []) {
      const p = await this.deps.studyPatient(uid, scope);
      if (!p || !p.visible) throw notFound();
      found.push({ studyUID: uid, patient: { id: p.id, issuer: p.issuer ?? '' } });
    }
    if (req.accessionNumbers) {
      const studies = await this.deps.launches.studiesByAccession(req.accessionNumbers, scope);
      if (studies.length === 0) throw new LucidaError('NOT_FOUND', 'no study with that accession number');
      if (studies.length > MAX_LAUNCH_STUDIES) throw new LucidaError('INVALID_QUERY', `the accession numbers name more than ${MAX_LAUNCH_STUDIES} studies`);
      for (const s of studies) found.push({ studyUID: s.studyUID, patient: { id: s.patient.id, issuer: s.patient.issuer ?? '' } });
    }
    if (found.length === 0) {
      if (!req.patient) throw bad('name a patient or a study');
      return { patient: req.patient, studyUIDs: [] };
    }
    const patient = found[0].patient;
    if (found.some((f) => !samePatient(f.patient, patient))) {
      throw bad('the studies belong to more than one patient: a viewer session shows one patient');
    }
    if (req.patient && !samePatient(req.patient, patient)) throw new LucidaError('NOT_FOUND', 'no such study for this patient');
    return { patient, studyUIDs: found.map((f) => f.studyUID) };
  }

  /** Records a launch and answers with its one-time URL (the code in the fragment). */
  async createLaunch(l: {
    target: LaunchTarget; user: LaunchUser; via: 'epr' | 'iid'; launchedBy: string; clientId?: string; reason?: string;
  }): Promise<CreatedLaunch> {
    const code = newSecret();
    const launchId = randomUUID();
    const { expiresAt } = await this.deps.launches.create({
      id: launchId, codeHash: code.hash, via: l.via, patient: l.target.patient, studyUIDs: l.target.studyUIDs, user: l.user,
      clientId: l.clientId, launchedBy: l.launchedBy, reason: l.reason,
      codeTtlSeconds: this.deps.session.launchTtlSeconds, sessionMaxSeconds: this.deps.session.maxSeconds,
    });
    return { launchId, url: viewerLaunchUrl(this.deps.publicBaseUrl, code.value), expiresAt };
  }

  /** Redeems a launch code, once: a session token and its first refresh value. */
  async exchange(code: unknown): Promise<SessionGrant> {
    if (!isWellFormedSecret(code)) throw invalidLaunch();
    const refresh = newSecret();
    const launch = await this.deps.launches.redeem(hashSecret(code), refresh.hash);
    if (!launch) throw invalidLaunch();
    const grant = await this.grant(launch, refresh.value);
    if (!grant) throw invalidLaunch();
    return grant;
  }

  /** A new session token (and a new refresh value: the presented one is spent) while the session lives. */
  async refresh(launchId: string, refreshValue: string): Promise<RefreshOutcome> {
    if (!isWellFormedSecret(refreshValue)) return { ok: false, reused: false };
    const next = newSecret();
    const r = await this.deps.launches.refresh(launchId, hashSecret(refreshValue), next.hash);
    if (!r.ok) return r;
    const grant = await this.grant(r.launch, next.value);
    return grant ? { ok: true, grant } : { ok: false, reused: false };
  }

  /** Ends the session; the launch when there was one to end. */
  async end(launchId: string, refreshValue: string): Promise<LaunchRecord | undefined> {
    if (!isWellFormedSecret(refreshValue)) return undefined;
    const r = await this.deps.launches.end(launchId, hashSecret(refreshValue));
    return r.launch;
  }

  private async grant(launch: LaunchRecord, refreshValue: string): Promise<SessionGrant | undefined> {
    const remaining = Math.floor((launch.sessionExpiresAt.getTime() - launch.now.getTime()) / 1000);
    if (remaining < 1) return undefined;
    const ttlSeconds = Math.min(this.deps.session.tokenTtlSeconds, remaining);
    const claims = sessionClaims(launch, ttlSeconds);
    const { token, expiresAt } = await this.deps.signSession(claims);
    return {
      accessToken: token, expiresAt, expiresIn: ttlSeconds,
      refresh: { value: refreshValue, maxAgeSeconds: remaining },
      launch,
      principal: sessionPrincipal(claims),
    };
  }
}

/**
 * The session token of a launch. Its subject is the end user; the EPR that launched it is its
 * client. The user acts in person in the viewer, so there is no on-behalf-of.
 */
export function sessionClaims(launch: LaunchRecord, ttlSeconds: number): SessionClaims {
  return {
    subject: launch.user.id,
    patient: { id: launch.patient.id, issuer: launch.patient.issuer },
    ...(launch.clientId ? { clientId: launch.clientId } : {}),
    launchId: launch.id,
    ttlSeconds,
  };
}

/** The principal a session token stands for (what the verifier will make of it): a clinician in one patient's context. */
export function sessionPrincipal(c: SessionClaims): Principal {
  return {
    subject: c.subject, roles: ['clinician'], patient: c.patient, kind: 'session', launchId: c.launchId,
    ...(c.clientId ? { clientId: c.clientId } : {}),
  };
}

/** The viewer URL of a launch code: in the fragment, which browsers never send to servers, proxies or in a Referer. */
export function viewerLaunchUrl(publicBaseUrl: string, code: string): string {
  return `${publicBaseUrl}/viewer/#launch=${code}`;
}

const samePatient = (a: LaunchPatient, b: LaunchPatient): boolean => a.id === b.id && a.issuer === b.issuer;
