/**
 * GET /metrics: this process's metrics in the Prometheus text format (version 0.0.4), for scraping.
 * Public like the health probes: it holds counts, route patterns and queue names, never a UID or
 * patient data (test/integration/metrics.test.ts checks). Keep it off the public ingress all the same.
 */
import { Router } from 'express';
import type { Metrics } from '../../core/metrics.js';
import { publicRoute } from '../middleware/auth.js';

export function metricsRoutes(metrics: Metrics): Router {
  // Exactly /metrics: Express matches paths case-insensitively and with an optional trailing slash
  // by default, so /METRICS or /metrics/ would answer too and slip past a proxy that blocks the
  // exact path. Anything else falls through to the 404 problem.
  const router = Router({ caseSensitive: true, strict: true });
  router.get('/metrics', publicRoute('prometheus scrape: no patient data'), async (_req, res) => {
    const body = await metrics.scrape();
    // As bytes: Express would rewrite a string's Content-Type (its parameters reordered).
    res.status(200).setHeader('Content-Type', metrics.contentType).setHeader('Cache-Control', 'no-store').send(Buffer.from(body));
  });
  return router;
}
