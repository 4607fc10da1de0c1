import { Router } from 'express';
import type { HydraAdmin } from './hydra/client.js';
import type { RedisConnection } from './redis.js';

/**
 * Liveness says the process serves; readiness says it can do its job, which needs Hydra and,
 * when configured, Redis (sessions and sign-in limits answer 503 without it). Redis is asked
 * with a real PING under the round-trip deadline: a connected but hung Redis is not ready.
 */
export function healthRouter(hydra: HydraAdmin, redis?: RedisConnection): Router {
  const router = Router();
  router.get('/alive', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const [hydraReady, redisReady] = await Promise.all([hydra.isReady(), redis?.ping()]);
    const ready = hydraReady && redisReady !== false;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ok' : 'unavailable',
      hydra: hydraReady ? 'ok' : 'unreachable',
      ...(redis ? { redis: redisReady ? 'ok' : 'unreachable' } : {}),
    });
  });
  return router;
}
