/**
 * HTTP hardening: security headers (helmet), the CORS allow-list, and the two rate limits.
 *
 * - Headers: the API answers JSON, DICOM and images, never pages, so its Content-Security-Policy is
 *   `default-src 'none'`. Frame ancestors follow CORS_ORIGINS: the viewer (served under /viewer/ by a
 *   later issue, which brings its own page CSP) is embedded in the EPR. HSTS is sent for a year; it
 *   only means something over TLS, which terminates at the reverse proxy (README, "TLS").
 * - CORS: only origins in CORS_ORIGINS get Access-Control-Allow-Origin. A request from any other
 *   origin is processed like any request but carries no CORS headers, so the browser withholds the
 *   answer from the page (the viewer's own same-origin requests carry an Origin header too, and must
 *   work); a preflight from another origin is refused with 403. No credentials: API calls carry a
 *   bearer token, and the viewer's refresh cookie is same-origin.
 * - A body on GET, HEAD, OPTIONS or DELETE is refused before any route (size limit 0), so that no
 *   endpoint, public ones included, can be held open by a slowly sent body.
 * - Rate limits live in this process's memory: with N API processes a client gets N x the limit.
 */
import type { Request, RequestHandler } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import { MemoryStore, ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Config } from '../../core/config.js';
import type { Principal } from '../../core/auth/principal.js';
import { LucidaError } from '../../core/errors.js';

/** Request headers a browser client may send: bearer token, bodies, content negotiation, our own headers. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Accept', 'Idempotency-Key', 'X-Request-Id', 'X-On-Behalf-Of'];
/** Response headers a DICOMweb client reads besides the CORS-safelisted ones (STOW-RS's Location, QIDO-RS's Warning, ...). */
const EXPOSED_HEADERS = ['Content-Location', 'Location', 'Warning', 'X-Request-Id', 'Retry-After', 'RateLimit', 'RateLimit-Policy'];
const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];
const YEAR_SECONDS = 365 * 24 * 3600;

const isPreflight = (req: Request) => req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined;

/** First in the chain: security headers (helmet), the CORS allow-list, and no body where none is taken. */
export function securityHeaders(config: Config): RequestHandler {
  const origins = config.http.corsOrigins;
  const headers = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'self'", ...origins],
      },
    },
    // X-Frame-Options can only say DENY or SAMEORIGIN: with EPR origins to allow it would forbid
    // what frame-ancestors permits (browsers that know CSP ignore it then; older ones would not).
    xFrameOptions: origins.length ? false : { action: 'sameorigin' },
    strictTransportSecurity: { maxAge: YEAR_SECONDS, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
    // Only no-cors loads (an <img> on another site) are affected: CORS clients are let through by
    // the allow-list below, and the viewer is same-origin.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    xContentTypeOptions: true,
  });
  const allowList = cors({
    origin: origins, // reflected only when it is one of these; Vary: Origin either way
    methods: ALLOWED_METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
  const allowed = new Set(origins);
  return (req, res, next) => {
    headers(req, res, (err?: unknown) => {
      if (err) return next(err);
      res.vary('Origin'); // the answer differs by Origin: a shared cache must not mix them up
      const then = (e?: unknown) => next(e ?? unwantedBody(req));
      const origin = req.get('origin');
      if (origin !== undefined && allowed.has(origin)) return allowList(req, res, then);
      if (origin !== undefined && isPreflight(req)) {
        return next(new LucidaError('FORBIDDEN', 'this origin may not call the API from a browser (CORS_ORIGINS)'));
      }
      then(); // same origin, not a browser, or an origin the browser will not show the answer to
    });
  };
}

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

/**
 * A body on a method that takes none is refused (413, the connection then closes) before any
 * route: Node would otherwise read and discard it after the answer, keeping the connection open
 * for as long as the client dribbles it, on public endpoints too.
 */
function unwantedBody(req: Request): LucidaError | undefined {
  if (!BODYLESS_METHODS.has(req.method)) return undefined;
  if (Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined) {
    return new LucidaError('PAYLOAD_TOO_LARGE', `${req.method} takes no request body`);
  }
  return undefined;
}

/** Failed authentications (401) per client address per minute before that address is refused. */
export const AUTH_FAILURES_PER_MINUTE = 30; // generous for a user mistyping; tiny for a token guesser
const MINUTE_MS = 60_000;

/**
 * Before authentication: limits failed-authentication attempts per client address (brute force,
 * token guessing). Only 401 answers count, and they are counted when they are sent: counting every
 * request up front and giving back the successful ones (express-rate-limit's skipSuccessfulRequests)
 * would refuse valid requests from a busy address (an EPR server, a proxy) while they are in flight.
 * The address is req.ip: with TRUST_PROXY it comes from X-Forwarded-For, without it the socket's.
 */
export function authFailureLimit(_config: Config): RequestHandler {
  const store = new MemoryStore();
  store.init({ windowMs: MINUTE_MS } as Parameters<MemoryStore['init']>[0]);
  return async (req, res, next) => {
    if (!req.ip) return next(); // the socket is already gone
    const key = ipKeyGenerator(req.ip); // IPv6: per /56, as one host's addresses share it
    const seen = await store.get(key);
    if (seen && seen.totalHits >= AUTH_FAILURES_PER_MINUTE) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(((seen.resetTime?.getTime() ?? Date.now()) - Date.now()) / 1000))));
      return next(new LucidaError('TOO_MANY_REQUESTS', 'too many failed authentications from this address; wait before retrying'));
    }
    res.once('finish', () => {
      if (res.statusCode === 401) void store.increment(key);
    });
    next();
  };
}

/**
 * Whose allowance a request uses: the OAuth2 client and the token subject together. A system
 * client's client-credentials tokens all have one subject (its service account), so it is counted
 * as one; the users of one browser app (one `azp`) and of the viewer (one EPR client id) are each
 * counted on their own, so one busy user or script cannot use up everyone's allowance.
 */
function clientKey(p: Principal): string {
  return `${p.kind}:${p.clientId ?? ''}:${p.subject}`;
}

/**
 * After authentication: requests per minute per client and user (clientKey),
 * RATE_LIMIT_PER_MINUTE; 0 turns it off. Answers 429 with Retry-After and the IETF RateLimit
 * headers (draft-8), which are sent on every response so that clients can pace themselves.
 */
export function clientRateLimit(config: Config): RequestHandler {
  const limit = config.http.rateLimitPerMinute;
  if (limit === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: MINUTE_MS,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: 'client',
    // Reached only after authenticate(): a request without a principal has been answered already.
    skip: (req) => !req.principal,
    keyGenerator: (req) => clientKey(req.principal!),
    handler: (_req, _res, next) => next(new LucidaError('TOO_MANY_REQUESTS', `more than ${limit} requests in a minute from this client`)),
  });
}
