/** Liveness (/healthz: the process answers) and readiness (/readyz: database and store reachable). */
import { Router } from 'express';
import { LucidaError } from '../../core/errors.js';
import { publicRoute } from '../middleware/auth.js';

export function healthRoutes(checkReady: () => Promise<void>): Router {
  const router = Router();
  router.get('/healthz', publicRoute('liveness probe'), (_req, res) => { res.json({ status: 'ok' }); });
  router.get('/readyz', publicRoute('readiness probe'), async (req, res) => {
    try {
      await checkReady();
    } catch (err) {
      req.log.warn({ err }, 'not ready');
      throw new LucidaError('UNAVAILABLE', 'database or object store unreachable');
    }
    res.json({ status: 'ready' });
  });
  return router;
}
