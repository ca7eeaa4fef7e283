/**
 * Request metrics: every response counted and timed (lucida_http_requests_total and
 * lucida_http_request_duration_seconds) by method, route PATTERN and status. The pattern is the one
 * the route's guard noted on req.audit.route (/dicomweb/studies/:study), never the path: paths hold
 * UIDs, which would make one time series per study. A request that reached no route (a 404, or one
 * refused by authentication before routing) is `unmatched`.
 */
import type { RequestHandler } from 'express';
import type { Metrics } from '../../core/metrics.js';
import { CLIENT_CLOSED_STATUS } from './audit.js';

export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // 'close' is emitted once for every response, finished or not ('finish' only for finished ones).
    res.once('close', () => {
      const status = res.headersSent ? res.statusCode : CLIENT_CLOSED_STATUS;
      metrics.httpRequest(req.method, req.audit?.route ?? 'unmatched', status, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
