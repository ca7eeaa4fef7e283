/**
 * The one place errors become HTTP responses: application/problem+json (RFC 9457) with the
 * catalogue's stable `code`. Client mistakes keep their 4xx; anything unexpected is logged with the
 * request id and answered 500 without internals (no stack, no SQL).
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ERRORS, LucidaError, isLucidaError } from '../../core/errors.js';

export function sendProblem(res: import('express').Response, err: LucidaError, requestId?: string): void {
  if (res.headersSent) {
    // Too late for a status: cut the connection so the client sees a truncated body, not a "success".
    res.destroy(err);
    return;
  }
  res.status(err.status)
    .type('application/problem+json')
    .send(JSON.stringify({
      type: `urn:lucida:error:${err.code}`,
      title: ERRORS[err.code].title,
      status: err.status,
      code: err.code,
      detail: err.message,
      ...(requestId ? { requestId } : {}),
      ...(err.extra ?? {}),
    }));
}

/** Maps body-parser / HTTP errors that carry a status (e.g. express.json's 400/413) into the catalogue. */
function fromHttpError(err: { status?: number; statusCode?: number; type?: string; message?: string }): LucidaError | undefined {
  const status = err.status ?? err.statusCode;
  if (status === 413) return new LucidaError('PAYLOAD_TOO_LARGE', 'request body too large');
  if (status === 415) return new LucidaError('UNSUPPORTED_MEDIA_TYPE', 'unsupported request body encoding');
  if (status === 400 && err.type) return new LucidaError('BAD_REQUEST', 'the request body could not be parsed');
  return undefined;
}

/** The request stream failed because the client closed the connection: the client's doing, not ours. */
function clientWentAway(req: import('express').Request, err: { code?: string; message?: string }): LucidaError | undefined {
  if (req.complete || !(err?.code === 'ECONNRESET' || err?.message === 'aborted')) return undefined;
  return new LucidaError('CLIENT_DISCONNECTED', 'the connection closed before the request body was complete');
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const requestId = req.requestId;
  // Answering before the request body was read (e.g. 413 mid-STOW): the rest of the body would be
  // read as the next request on this connection, so the connection ends with this response.
  if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
  const known = isLucidaError(err) ? err : (clientWentAway(req, err) ?? fromHttpError(err));
  if (known) {
    if (known.status >= 500) req.log?.error({ err }, 'request failed');
    sendProblem(res, known, requestId);
    return;
  }
  req.log?.error({ err }, 'unexpected error');
  sendProblem(res, new LucidaError('INTERNAL', `unexpected error; quote request id ${requestId}`), requestId);
};

export const notFound: RequestHandler = (req, _res, next) => {
  next(new LucidaError('ROUTE_NOT_FOUND', `no endpoint ${req.method} ${req.path}`));
};
