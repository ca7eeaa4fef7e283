/**
 * Authentication (bearer JWT -> req.principal) and the route guards. Every route carries exactly
 * one guard: `allow(action)` (policy.ts decides, and sets the request's AccessScope) or
 * `publicRoute(reason)` for the few endpoints that take no bearer token. The route-table test
 * (test/integration/access.test.ts) walks the app and fails for a route without one.
 */
import type { Request, RequestHandler } from 'express';
import { LucidaError } from '../../core/errors.js';
import { decide, type Action } from '../../core/auth/policy.js';
import { isUserId } from '../../core/auth/principal.js';
import type { TokenVerifier } from '../../core/auth/tokens.js';

/** Header in which a system client (role epr) names the end user it acts for, when its token cannot. */
export const ON_BEHALF_OF_HEADER = 'x-on-behalf-of';

export function authenticate(verifier: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i);
    if (!match) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="lucida"');
      throw new LucidaError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
    }
    try {
      req.principal = { ...(await verifier.verify(match[1])) };
    } catch (err) {
      // Only a bad token is the client's problem; an unreachable IdP (503) is not (RFC 6750 §3.1).
      if ((err as { code?: string }).code === 'INVALID_TOKEN') res.setHeader('WWW-Authenticate', 'Bearer realm="lucida", error="invalid_token"');
      throw err;
    }
    const onBehalfOf = req.get(ON_BEHALF_OF_HEADER);
    // Only a system client's word counts.
    if (onBehalfOf && !req.principal.onBehalfOf && req.principal.roles.includes('epr') && isUserId(onBehalfOf)) {
      req.principal.onBehalfOf = onBehalfOf;
    }
    next();
  };
}

/** What the route-table test reads from a guard. */
export interface RouteGuard extends RequestHandler {
  readonly guard: { action: Action } | { public: string };
}

/** Route guard: `router.get(path, allow('read'), handler)`. Sets req.scope for the handler. */
export function allow(action: Action): RouteGuard {
  const handler: RequestHandler = (req, _res, next) => {
    req.audit.action = action;
    req.audit.route = routeOf(req);
    if (!req.principal) throw new LucidaError('UNAUTHENTICATED');
    req.scope = decide(req.principal, action);
    next();
  };
  return Object.assign(handler, { guard: { action } });
}

/**
 * Guard of an endpoint that takes no bearer token, with the reason (health probes; the launch
 * exchange, whose one-time code is the credential; the session refresh, whose cookie is).
 */
export function publicRoute(reason: string, auditAction?: string): RouteGuard {
  const handler: RequestHandler = (req, _res, next) => {
    req.audit.route = routeOf(req);
    if (auditAction) req.audit.action = auditAction;
    else req.audit.skip = true;
    next();
  };
  return Object.assign(handler, { guard: { public: reason } });
}

/**
 * The pattern of the route a guard belongs to, with its router's mount (known here, while the route
 * runs: Express resets req.baseUrl once an error has left the router).
 */
function routeOf(req: Request): string | undefined {
  const path: unknown = req.route?.path;
  return typeof path === 'string' ? req.baseUrl + path : undefined;
}

/** The request's scope (set by `allow`); a route without a guard is a programming error. */
export function scopeOf(req: Request): NonNullable<Request['scope']> {
  if (!req.scope) throw new Error(`no access scope on ${req.method} ${req.route?.path}: the route has no allow() guard`);
  return req.scope;
}
