/**
 * Authentication (bearer JWT -> req.principal) and authorisation (route action -> policy).
 * Patient scoping and audit slot in beside `authorize` (issue: security).
 */
import type { RequestHandler } from 'express';
import { LucidaError } from '../../core/errors.js';
import { authorize, type Action } from '../../core/auth/policy.js';
import type { TokenVerifier } from '../../core/auth/tokens.js';

export function authenticate(verifier: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i);
    if (!match) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="lucida"');
      throw new LucidaError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
    }
    try {
      req.principal = await verifier.verify(match[1]);
    } catch (err) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="lucida", error="invalid_token"');
      throw err;
    }
    next();
  };
}

/** Route guard: `router.get(path, allow('read'), handler)`. */
export function allow(action: Action): RequestHandler {
  return (req, _res, next) => {
    if (!req.principal) throw new LucidaError('UNAUTHENTICATED');
    authorize(req.principal, action);
    next();
  };
}
