/**
 * buildApp(deps): the Express application without listen(). Only entry points (cli.ts, tests)
 * construct adapters and pass them in. The route table is here, in one place.
 */
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import type { TokenVerifier } from '../core/auth/tokens.js';
import type { InstanceIndex } from '../core/index/port.js';
import type { CaptureRepository } from '../core/capture/capture-port.js';
import type { JobQueue } from '../core/queue/jobs.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import type { AuditLog } from '../core/audit/types.js';
import type { SigningKey } from '../core/auth/tokens.js';
import type { PostgresLaunchRepository } from '../core/index/postgres-launches.js';
import type { AnnotationRepository } from '../core/annotations/types.js';
import type { TimelineSource } from '../core/timeline/types.js';
import type { Metrics } from '../core/metrics.js';
import { authenticate } from './middleware/auth.js';
import { auditTrail } from './middleware/audit.js';
import { requestMetrics } from './middleware/metrics.js';
import { authFailureLimit, clientRateLimit, securityHeaders } from './middleware/security.js';
import { auditRoutes } from './routes/audit.js';
import { annotationRoutes } from './routes/annotations.js';
import { timelineRoutes } from './routes/timeline.js';
import { launchPublicRoutes, launchRoutes } from './routes/launch.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { requestContext } from './middleware/request-context.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { viewerRoutes } from './routes/viewer.js';
import { captureRoutes } from './routes/captures.js';
import { stowRoutes } from './routes/stow.js';
import { qidoRoutes } from './routes/qido.js';
import { retrieveRoutes } from './routes/retrieve.js';
import { metadataRoutes } from './routes/metadata.js';
import { frameRoutes } from './routes/frames.js';
import { renderedRoutes } from './routes/rendered.js';
import { wadoUriRoutes } from './routes/wado-uri.js';
import { publicUrls } from './urls.js';

export interface AppDeps {
  config: Config;
  index: InstanceIndex;
  store: ObjectStore;
  verifier: TokenVerifier;
  captures: CaptureRepository;
  queue: JobQueue;
  log: Logger;
  audit: AuditLog;
  launches: PostgresLaunchRepository;
  /** The viewer's patient timeline and its annotations (calibrations, measurements). */
  timeline: TimelineSource;
  annotations: AnnotationRepository;
  /** Signs viewer session tokens (the verifier trusts its public half). */
  sessionKey: SigningKey;
  /** This process's id (process-liveness.ts): the owner of the pending rows its STOW requests write. */
  processId?: string;
  checkReady: () => Promise<void>;
  /** This runtime's metrics: recorded by the routes, served at /metrics. */
  metrics: Metrics;
}

export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const urls = publicUrls(deps.config.publicBaseUrl);
  const ingestDeps = {
    index: deps.index, store: deps.store, log: deps.log, queue: deps.queue, pendingTimeoutSeconds: deps.config.pendingTimeoutSeconds,
    processId: deps.processId,
  };
  const captureDeps = { captures: deps.captures, store: deps.store, queue: deps.queue, log: deps.log, config: deps.config, urls, metrics: deps.metrics };

  app.set('trust proxy', deps.config.http.trustProxy);
  // First: every request is counted and timed, whatever answers it.
  app.use(requestMetrics(deps.metrics));
  app.use(requestContext(deps.log));
  app.use(securityHeaders(deps.config));
  app.use(healthRoutes(deps.checkReady));
  app.use(metricsRoutes(deps.metrics));
  app.use(viewerRoutes(deps.config));
  // One audit event per request that touches (or is refused) patient data, appended when it ends.
  app.use(auditTrail(deps.audit));

  // Bearer authentication, then the per-client rate limit; failed attempts are limited per address first.
  const authenticated = [authFailureLimit(deps.config), authenticate(deps.verifier), clientRateLimit(deps.config)];
  const launchDeps = { config: deps.config, index: deps.index, launches: deps.launches, sessionKey: deps.sessionKey };
  app.use(launchPublicRoutes(launchDeps));

  const dicomweb = express.Router();
  dicomweb.use(authenticated);
  dicomweb.use(stowRoutes({ ...ingestDeps, config: deps.config, urls, captures: deps.captures, metrics: deps.metrics }));
  dicomweb.use(qidoRoutes({ index: deps.index, config: deps.config, urls }));
  dicomweb.use(metadataRoutes({ index: deps.index, store: deps.store, urls }));
  dicomweb.use(frameRoutes({ index: deps.index, store: deps.store }));
  dicomweb.use(renderedRoutes({ index: deps.index, store: deps.store }));
  dicomweb.use(retrieveRoutes({ index: deps.index, store: deps.store }));
  dicomweb.use(wadoUriRoutes({ index: deps.index, store: deps.store }));
  app.use('/dicomweb', dicomweb);
  // WADO-URI is also commonly configured at the server root.
  app.use('/wado', authenticated);
  app.use(wadoUriRoutes({ index: deps.index, store: deps.store }));

  app.use(launchRoutes(launchDeps, authenticated));
  app.use('/api', authenticated);
  app.use(captureRoutes(captureDeps));
  app.use(auditRoutes({ audit: deps.audit }));
  app.use(timelineRoutes({ timeline: deps.timeline }));
  app.use(annotationRoutes({ index: deps.index, annotations: deps.annotations, publicBaseUrl: deps.config.publicBaseUrl }));

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
