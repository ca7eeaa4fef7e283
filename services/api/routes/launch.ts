/**
 * Viewer launch, session and IHE IID endpoints (the lifecycle is core/auth/launch.ts):
 *   POST   /api/launch               EPR (role epr): one-time viewer URL for a patient and/or study → 201
 *   GET    /IHEInvokeImageDisplay     IHE IID (RAD-106) for a signed-in clinician/admin → 302 to a new launch URL
 *   POST   /api/launch/exchange       public: the one-time code → session token + refresh cookie
 *   POST   /api/session/refresh       public: the refresh cookie → a new session token (and cookie)
 *   DELETE /api/session               public: the refresh cookie → session ended, cookie cleared
 *
 * Where the secrets live, by design:
 * - The launch code travels in the URL fragment (`/viewer/#launch=<code>`), which browsers never
 *   send to a server, a proxy or in a Referer; the viewer reads it, posts it here once and removes
 *   it from the address bar.
 * - The session token is only ever in a JSON response body: never in a URL, never in a cookie. The
 *   viewer keeps it in memory (not localStorage or sessionStorage, which any script on the origin
 *   can read and which outlive the page) and sends it as `Authorization: Bearer`.
 * - The refresh value is an HttpOnly, SameSite=Strict cookie scoped to Path=/api/session, one per
 *   launch (named after it, so two viewer tabs on two patients never swap sessions). A refresh or
 *   end names its launch in the X-Lucida-Launch header and carries X-Requested-With: lucida-viewer
 *   (a cross-site form cannot set either; with SameSite=Strict this is CSRF defence in depth).
 *   Each refresh replaces the cookie; presenting a replaced one revokes the session.
 * Ending a session stops refreshes at once; a session token already issued stays valid until its
 * own expiry (SESSION_TOKEN_TTL_SECONDS).
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Config } from '../../core/config.js';
import { LucidaError } from '../../core/errors.js';
import type { InstanceIndex } from '../../core/index/port.js';
import type { LaunchRecord, LaunchRepository } from '../../core/auth/launch-port.js';
import {
  LaunchService, parseExchangeBody, parseIidQuery, parseLaunchBody, sessionClaims, sessionPrincipal, type SessionGrant,
} from '../../core/auth/launch.js';
import { signSessionToken, type SigningKey } from '../../core/auth/tokens.js';
import { readJsonBody } from '../http/json-body.js';
import { allow, publicRoute, scopeOf } from '../middleware/auth.js';
import { authFailureLimit } from '../middleware/security.js';
import { noteQuery } from '../middleware/audit.js';
import { isUuid } from '../../core/uuid.js';

export interface LaunchDeps {
  config: Config;
  index: InstanceIndex;
  launches: LaunchRepository;
  sessionKey: SigningKey;
}

/** Launch and exchange bodies are a few hundred bytes. */
const BODY_MAX_BYTES = 16 * 1024;
export const VIEWER_HEADER = { name: 'x-requested-with', value: 'lucida-viewer' } as const;
export const LAUNCH_HEADER = 'x-lucida-launch';
const SESSION_PATH = '/api/session';

function launchService(deps: LaunchDeps): LaunchService {
  return new LaunchService({
    launches: deps.launches,
    studyPatient: (uid, scope) => deps.index.studyPatient(uid, scope),
    signSession: (claims) => signSessionToken(deps.sessionKey, deps.config.auth.audience, claims),
    publicBaseUrl: deps.config.publicBaseUrl,
    session: deps.config.session,
  });
}

/** Routes that take no bearer token (exchange of a launch code, session refresh and end). Mounted before authentication. */
export function launchPublicRoutes(deps: LaunchDeps): Router {
  const router = Router();
  const service = launchService(deps);
  const cookies = sessionCookies(deps.config.publicBaseUrl.startsWith('https:'));
  // The code and the cookie are credentials: guessing them is limited per address like bad tokens.
  const guessing = authFailureLimit(deps.config);

  router.post('/api/launch/exchange', guessing, publicRoute('the one-time launch code is the credential', 'launch-exchange'),
    async (req: Request, res: Response) => {
      const { code } = parseExchangeBody(await readJsonBody(req, BODY_MAX_BYTES));
      const grant = await service.exchange(code);
      noteSession(req, grant.launch, grant);
      cookies.set(res, grant);
      sendSession(res, grant);
    });

  router.post(`${SESSION_PATH}/refresh`, guessing, publicRoute('the session cookie is the credential', 'session-refresh'),
    async (req: Request, res: Response) => {
      const launchId = sessionRequest(req);
      const value = cookies.read(req, launchId);
      const outcome = value ? await service.refresh(launchId, value) : { ok: false as const, reused: false };
      if (!outcome.ok) {
        cookies.clear(res, launchId);
        if (outcome.reused) req.audit.detail = `launch ${launchId}: a replaced refresh cookie was presented; session revoked`;
        throw sessionEnded();
      }
      noteSession(req, outcome.grant.launch, outcome.grant);
      cookies.set(res, outcome.grant);
      sendSession(res, outcome.grant);
    });

  router.delete(SESSION_PATH, guessing, publicRoute('the session cookie is the credential', 'session-end'), async (req: Request, res: Response) => {
    const launchId = sessionRequest(req);
    const value = cookies.read(req, launchId);
    const launch = value ? await service.end(launchId, value) : undefined;
    cookies.clear(res, launchId);
    if (!launch) throw sessionEnded();
    noteSession(req, launch);
    res.status(204).set(NO_STORE).end();
  });

  return router;
}

/** Routes behind bearer authentication (POST /api/launch, GET /IHEInvokeImageDisplay). */
export function launchRoutes(deps: LaunchDeps, authenticated: RequestHandler[]): Router {
  const router = Router();
  const service = launchService(deps);

  router.post('/api/launch', ...authenticated, allow('launch'), async (req: Request, res: Response) => {
    const body = parseLaunchBody(await readJsonBody(req, BODY_MAX_BYTES));
    const principal = req.principal!;
    if (principal.onBehalfOf && principal.onBehalfOf !== body.user.id) {
      throw new LucidaError('BAD_REQUEST', 'user.id is not the user this request is made on behalf of (X-On-Behalf-Of)');
    }
    // The EPR acts for this end user: the audit event says so.
    principal.onBehalfOf = body.user.id;
    if (body.patient) req.audit.patientIds.add(body.patient.id);
    if (body.studyUID) req.audit.studyUIDs.add(body.studyUID);
    const target = await service.resolveTarget({ patient: body.patient, studyUIDs: body.studyUID ? [body.studyUID] : undefined }, scopeOf(req));
    req.audit.patientIds.add(target.patient.id);
    const launch = await service.createLaunch({
      target, user: body.user, via: 'epr', launchedBy: principal.subject, clientId: principal.clientId ?? principal.subject, reason: body.reason,
    });
    req.audit.detail = `launch ${launch.launchId}`;
    res.status(201).set(NO_STORE).json({ launchId: launch.launchId, url: launch.url, expiresAt: launch.expiresAt.toISOString() });
  });

  router.get('/IHEInvokeImageDisplay', ...authenticated, allow('invoke-image-display'), async (req: Request, res: Response) => {
    noteQuery(req);
    const iid = parseIidQuery(req.query);
    if (iid.patient) req.audit.patientIds.add(iid.patient.id);
    const studyUIDs = 'studyUIDs' in iid ? iid.studyUIDs : undefined;
    for (const uid of studyUIDs ?? []) req.audit.studyUIDs.add(uid);
    const target = await service.resolveTarget({
      patient: iid.patient, studyUIDs, accessionNumbers: 'accessionNumbers' in iid ? iid.accessionNumbers : undefined,
    }, scopeOf(req));
    req.audit.patientIds.add(target.patient.id);
    for (const uid of target.studyUIDs) req.audit.studyUIDs.add(uid);
    const principal = req.principal!;
    const launch = await service.createLaunch({
      target, user: { id: principal.subject }, via: 'iid', launchedBy: principal.subject, clientId: principal.clientId,
    });
    req.audit.detail = `launch ${launch.launchId}`;
    // No body: the URL carries the one-time code, kept out of anything but the Location header.
    res.status(302).set(NO_STORE).location(launch.url).end();
  });

  return router;
}

/** Token responses and launch URLs must not be stored by the browser or any cache (RFC 6749 §5.1). */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** Checks the refresh/end request's CSRF header and returns the launch it names. */
function sessionRequest(req: Request): string {
  if (req.get(VIEWER_HEADER.name) !== VIEWER_HEADER.value) {
    throw new LucidaError('FORBIDDEN', `session requests come from the viewer: send ${VIEWER_HEADER.name}: ${VIEWER_HEADER.value}`);
  }
  const launchId = req.get(LAUNCH_HEADER);
  if (!launchId || !isUuid(launchId)) throw sessionEnded();
  return launchId;
}

const sessionEnded = () => new LucidaError('INVALID_TOKEN', 'the viewer session has ended or its cookie is not valid: launch the viewer again');

/**
 * Who and what a session request concerns, for its audit event and access log: the session's own
 * principal (the end user, the EPR as client), as its token names it.
 */
function noteSession(req: Request, launch: LaunchRecord, grant?: SessionGrant): void {
  req.principal = grant?.principal ?? sessionPrincipal(sessionClaims(launch, 0));
  req.audit.patientIds.add(launch.patient.id);
  for (const uid of launch.studyUIDs) req.audit.studyUIDs.add(uid);
  req.audit.detail = `launch ${launch.id}`;
}

function sendSession(res: Response, grant: SessionGrant): void {
  const { launch } = grant;
  res.status(200).set(NO_STORE).json({
    accessToken: grant.accessToken,
    tokenType: 'Bearer',
    expiresIn: grant.expiresIn,
    expiresAt: grant.expiresAt.toISOString(),
    sessionExpiresAt: launch.sessionExpiresAt.toISOString(),
    launchId: launch.id,
    patient: launch.patient.issuer ? { id: launch.patient.id, issuer: launch.patient.issuer } : { id: launch.patient.id },
    ...(launch.studyUIDs.length ? { studyUID: launch.studyUIDs[0], studyUIDs: launch.studyUIDs } : {}),
    user: launch.user,
  });
}

/**
 * The refresh cookie of each launch. `__Secure-` (RFC 6265bis §4.1.3.1) when served over https:
 * then no plain-http response can set or overwrite it.
 */
function sessionCookies(secure: boolean) {
  const name = (launchId: string) => `${secure ? '__Secure-' : ''}lucida-session-${launchId.toLowerCase()}`;
  const attributes = `Path=${SESSION_PATH}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return {
    set(res: Response, grant: SessionGrant): void {
      res.append('Set-Cookie', `${name(grant.launch.id)}=${grant.refresh.value}; Max-Age=${grant.refresh.maxAgeSeconds}; ${attributes}`);
    },
    clear(res: Response, launchId: string): void {
      res.append('Set-Cookie', `${name(launchId)}=; Max-Age=0; ${attributes}`);
    },
    read(req: Request, launchId: string): string | undefined {
      const wanted = name(launchId);
      for (const pair of (req.get('cookie') ?? '').split(';')) {
        const i = pair.indexOf('=');
        if (i > 0 && pair.slice(0, i).trim() === wanted) return pair.slice(i + 1).trim() || undefined;
      }
      return undefined;
    },
  };
}

