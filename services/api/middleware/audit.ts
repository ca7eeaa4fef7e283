/**
 * The audit trail's one writer on the HTTP side: when a response ends ('close', so also when the
 * client went away), one event is appended from what the request was (principal, address, user
 * agent, request id, method, route pattern, status) and what the route noted on req.audit (action,
 * patients, studies, series, instances, query). AuditLog.append only queues, so nothing here waits.
 *
 * Which requests: those a guard marked with an action (`allow()` or a public route's audit action)
 * that did not opt out, and every refusal (401, 403, and 429: an address locked out after repeated
 * failed authentication, or a client over its rate limit) whether or not a route was reached. Never
 * recorded: the Authorization header or any other header but User-Agent, and the URL itself (its
 * path may hold identifiers the route already lists; its query string is the route's to note).
 */
import type { Request, RequestHandler, Response } from 'express';
import { AUDIT_MAX_UIDS, type AuditEvent, type AuditLog, type AuditOutcome } from '../../core/audit/types.js';

/** Status recorded when the client closed the connection before any response (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

export function auditTrail(audit: AuditLog): RequestHandler {
  return (req, res, next) => {
    res.once('close', () => {
      const event = auditEventOf(req, res, new Date());
      if (event) audit.append(event);
    });
    next();
  };
}

/** The event for a finished request, or undefined when it is not audited. */
export function auditEventOf(req: Request, res: Response, at: Date): AuditEvent | undefined {
  const draft = req.audit;
  if (!draft) return undefined;
  const answered = res.headersSent;
  const status = answered ? res.statusCode : CLIENT_CLOSED_STATUS;
  const refused = status === 401 || status === 403 || status === 429;
  if (!refused && (!draft.action || draft.skip)) return undefined;

  const complete = res.writableFinished;
  const details = [
    draft.detail,
    status === 404 && draft.deniedOutOfScope ? 'out of patient context' : undefined,
    typeof res.locals?.problemCode === 'string' ? res.locals.problemCode : undefined,
    complete ? undefined : answered ? 'connection closed before the server finished the response' : 'client closed the connection before a response',
  ].filter(Boolean);
  const principal = req.principal;
  return {
    at,
    // Refused before a route ran: by authentication (401, or the failed-authentication lockout
    // 429), or, once authenticated, by the per-client rate limit (429).
    action: draft.action ?? (status === 429 && principal ? 'rate-limit' : 'authenticate'),
    // Once the head has gone, the outcome is the status's: a body cut short still disclosed what it
    // carried, and a client commonly closes the moment it has every byte a Content-Length promised,
    // before the server's own end() of a streamed file (so "unfinished" is no proof of "not seen").
    outcome: answered ? auditOutcome(status, draft.deniedOutOfScope === true) : 'failure',
    status,
    subject: principal?.subject,
    roles: principal?.roles ? [...principal.roles] : [],
    clientId: principal?.clientId,
    onBehalfOf: principal?.onBehalfOf,
    ip: req.ip,
    userAgent: req.get('user-agent'),
    requestId: req.requestId,
    method: req.method,
    route: routePattern(req),
    patientIds: capped(draft.patientIds),
    studyUIDs: capped(draft.studyUIDs),
    seriesUIDs: capped(draft.seriesUIDs),
    sopInstanceUIDs: capped(draft.sopInstanceUIDs),
    query: draft.query,
    detail: details.length ? details.join('; ') : undefined,
  };
}

/**
 * success for 2xx/3xx; denied for 401/403/429 and for a 404 that hid another patient's data; not-found
 * for other 404s; failure for every other 4xx/5xx.
 */
export function auditOutcome(status: number, deniedOutOfScope: boolean): AuditOutcome {
  if (status >= 200 && status < 400) return 'success';
  if (status === 401 || status === 403 || status === 429) return 'denied';
  if (status === 404) return deniedOutOfScope ? 'denied' : 'not-found';
  return 'failure';
}

function capped(values: Iterable<string> | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    if (out.length >= AUDIT_MAX_UIDS) break;
    out.push(v);
  }
  return out;
}

/**
 * The route pattern its guard recorded (e.g. /dicomweb/studies/:study/metadata), never the URL. A
 * request refused before any route (e.g. a 401 from the /dicomweb authentication) is recorded by its
 * mount: /dicomweb/*.
 */
export function routePattern(req: Request): string | undefined {
  if (req.audit?.route) return req.audit.route;
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
  const first = /^\/([A-Za-z][A-Za-z0-9-]*)(?:\/|$)/.exec(path);
  return first ? `/${first[1]}/*` : undefined;
}

/**
 * The request's query parameters as sent (a repeated parameter keeps all its values), noted on its
 * audit draft: searches are audited with what was asked. Returned for the route to parse.
 */
export function noteQuery(req: Request): URLSearchParams {
  const url = req.originalUrl;
  const params = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const record: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    record[key] = values.length === 1 ? values[0] : values;
  }
  req.audit.query = record;
  return params;
}
