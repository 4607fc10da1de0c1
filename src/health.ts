import { Router } from 'express';
import type { HydraAdmin } from './hydra/client.js';

/** Liveness says the process serves; readiness says it can do its job, which needs Hydra. */
export function healthRouter(hydra: HydraAdmin): Router {
  const router = Router();
  router.get('/health/alive', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const hydraReady = await hydra.isReady();
    res.status(hydraReady ? 200 : 503).json({ status: hydraReady ? 'ok' : 'unavailable', hydra: hydraReady ? 'ok' : 'unreachable' });
  });
  return router;
}
