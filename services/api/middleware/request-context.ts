/**
 * Request id and access log. The log line carries method, route path, status, duration, bytes and
 * the request id, never the query string or body: QIDO queries hold names and patient IDs.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import { newAuditDraft } from '../../core/audit/types.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      requestId: string;
      log: Logger;
      principal?: import('../../core/auth/principal.js').Principal;
      /** Set by `allow(action)`: the data this request may touch (policy.ts). */
      scope?: import('../../core/auth/policy.js').AccessScope;
      /** What the request touched, for its audit event (middleware/audit.ts). */
      audit: import('../../core/audit/types.js').AuditDraft;
    }
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(log: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.log = log.child({ requestId: req.requestId });
    req.audit = newAuditDraft();
    res.setHeader('X-Request-Id', req.requestId);
    const started = process.hrtime.bigint();
    const path = req.originalUrl.split('?')[0]; // the query string may hold patient identifiers
    // 'close' rather than 'finish': a request whose client went away is accounted for too.
    res.on('close', () => {
      req.log.info({
        method: req.method,
        path,
        ...(res.writableFinished ? { status: res.statusCode } : { aborted: true }),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        bytes: Number(res.getHeader('content-length')) || undefined,
        sub: req.principal?.subject,
      }, 'request');
    });
    next();
  };
}
