/**
 * The HTTP endpoint of a worker-only process (`lucida worker`), which has no API to answer probes
 * and scrapes: /healthz (alive), /readyz (database and object store reachable) and /metrics (its job
 * outcomes, queue depth and process metrics), on PORT and HOST like the API. The same routes,
 * security headers, request ids and problem+json errors as the API's; everything else is a 404.
 * Nothing here touches patient data, so there is no authentication, audit or rate limit.
 */
import type http from 'node:http';
import express from 'express';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import type { Metrics } from '../core/metrics.js';
import { listenHttp } from '../api/http/listen.js';
import { errorHandler, notFound } from '../api/middleware/errors.js';
import { requestMetrics } from '../api/middleware/metrics.js';
import { requestContext } from '../api/middleware/request-context.js';
import { securityHeaders } from '../api/middleware/security.js';
import { healthRoutes } from '../api/routes/health.js';
import { metricsRoutes } from '../api/routes/metrics.js';

export interface OpsServer {
  url: string;
  server: http.Server;
  stop(): Promise<void>;
}

export async function startOpsServer(deps: {
  config: Config; log: Logger; metrics: Metrics; checkReady: () => Promise<void>;
}): Promise<OpsServer> {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestMetrics(deps.metrics));
  app.use(requestContext(deps.log));
  app.use(securityHeaders(deps.config));
  app.use(healthRoutes(deps.checkReady));
  app.use(metricsRoutes(deps.metrics));
  app.use(notFound);
  app.use(errorHandler);

  // The API's socket timeouts (api/http/listen.ts), with a whole-request deadline: nothing here takes long.
  const listening = await listenHttp(app, deps.config, { requestTimeoutMs: deps.config.requestTimeoutSeconds * 1000, drainMs: 0 });
  deps.log.info({ port: listening.port }, 'ops server listening (/healthz, /readyz, /metrics)');
  return {
    url: listening.url,
    server: listening.server,
    // Probes and scrapes are short: closing idle sockets, then any left, ends it at once.
    stop: () => listening.close(),
  };
}
