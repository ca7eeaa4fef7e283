/**
 * The one place errors become HTTP responses: application/problem+json (RFC 9457) with the
 * catalogue's stable `code`. Client mistakes keep their 4xx; an unreachable database is 503
 * UNAVAILABLE; anything unexpected is logged with the request id and answered 500 without internals.
 * The message of an error that is not a LucidaError (it may hold SQL, paths or a stack) never
 * reaches a response, nor does the detail of an INTERNAL one.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ERRORS, LucidaError, isLucidaError } from '../../core/errors.js';
import { QUERY_TIMEOUT_MESSAGE } from '../../core/index/database.js';

function sendProblem(res: import('express').Response, err: LucidaError, requestId?: string): void {
  if (res.headersSent) {
    // Too late for a status: cut the connection so the client sees a truncated body, not a "success".
    res.destroy(err);
    return;
  }
  res.locals.problemCode = err.code; // the audit event's detail (middleware/audit.ts)
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

/**
 * Errors raised by Express itself with a 4xx status (no body parser is mounted; e.g. the router's
 * URIError, status 400, for a malformed percent-escape in the path): the client's mistake, not ours.
 */
function fromHttpError(err: { status?: unknown; statusCode?: unknown } | null | undefined): LucidaError | undefined {
  const status = typeof err?.status === 'number' ? err.status : err?.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return new LucidaError('PAYLOAD_TOO_LARGE', 'request body too large');
  // The message is not echoed: it may quote the raw request.
  return new LucidaError('BAD_REQUEST', err instanceof URIError ? 'the URL has a malformed percent-encoded sequence' : 'the request could not be understood');
}

/**
 * The client closed the connection, the client's doing, not ours: mid-request (the request stream
 * failed), or under a response being streamed to it (closed, not destroyed by a failing source: then
 * it would carry that error). A client that has every byte of a Content-Length body may close at
 * once, before the source stream has even signalled its end to the pipeline.
 */
function clientWentAway(req: import('express').Request, res: import('express').Response,
  err: { code?: string; message?: string }): LucidaError | undefined {
  if (!req.complete && (err?.code === 'ECONNRESET' || err?.message === 'aborted')) {
    return new LucidaError('CLIENT_DISCONNECTED', 'the connection closed before the request body was complete');
  }
  if (err?.code === 'ERR_STREAM_PREMATURE_CLOSE' && res.headersSent && !res.writableFinished && !res.errored) {
    return new LucidaError('CLIENT_DISCONNECTED', 'the connection closed before the response was complete');
  }
  return undefined;
}

/** SQLSTATEs of a database that cannot serve now: class 08 (connection), shutdown and start-up (57P0x), too many connections. */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;
/**
 * node-postgres reports a lost, unobtainable or unanswering connection as a plain Error with one of
 * these messages and no code (pg/lib/client.js, pg-pool): the library's fixed wording, not a client's.
 * QUERY_TIMEOUT_MESSAGE is the pool's query_timeout passing (a database host that vanished).
 */
const PG_CONNECTION_MESSAGES = new Set([
  'Connection terminated', 'Connection terminated unexpectedly', 'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect', 'Client has encountered a connection error and is not queryable',
  'Cannot use a pool after calling end on the pool', QUERY_TIMEOUT_MESSAGE,
]);

/**
 * The database (or another service connected to) is unreachable: stopped, restarting, network cut,
 * no connection free in time. 503, so that clients retry, rather than 500. Looks through `cause`
 * chains (wrapped errors). The error's own message (it may name a socket path, a host or SQL) is
 * logged, never sent.
 */
function serviceUnavailable(err: unknown): LucidaError | undefined {
  for (let e = err as { code?: unknown; syscall?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && typeof e === 'object' && depth < 5; e = e.cause as typeof e, depth++) {
    const sqlState = typeof e.code === 'string' && UNAVAILABLE_SQLSTATE.test(e.code);
    // A socket that could not connect (ECONNREFUSED, ENOENT for a Unix socket, ETIMEDOUT): the
    // database, or a remote service such as the IdP's JWKS; the object store is a local filesystem.
    const refused = e.syscall === 'connect';
    if (sqlState || refused || (typeof e.message === 'string' && PG_CONNECTION_MESSAGES.has(e.message))) {
      return new LucidaError('UNAVAILABLE', 'a service the archive depends on is unreachable; retry shortly');
    }
  }
  return undefined;
}

/** The one answer to anything unexpected: no message, stack or SQL of ours, just the id to quote. */
const internal = (requestId: string) => new LucidaError('INTERNAL', `unexpected error; quote request id ${requestId}`);

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const requestId = req.requestId;
  // Answering before the request body was read (e.g. 413 mid-STOW): the rest of the body would be
  // read as the next request on this connection, so the connection ends with this response.
  if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
  const known = isLucidaError(err) ? err : (clientWentAway(req, res, err) ?? fromHttpError(err) ?? serviceUnavailable(err));
  if (known) {
    if (known.status >= 500) req.log?.error({ err }, 'request failed');
    // An INTERNAL LucidaError's detail was written for the log (it may quote a library's message).
    sendProblem(res, known.code === 'INTERNAL' ? internal(requestId) : known, requestId);
    return;
  }
  req.log?.error({ err }, 'unexpected error');
  sendProblem(res, internal(requestId), requestId);
};

export const notFound: RequestHandler = (req, _res, next) => {
  next(new LucidaError('ROUTE_NOT_FOUND', `no endpoint ${req.method} ${req.path}`));
};
