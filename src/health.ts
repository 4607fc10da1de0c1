import { Router } from 'express';
import type { HydraAdmin } from './hydra/client.js';
import type { RedisConnection } from './redis.js';
import type { AccountStore } from './users/accounts.js';

/**
 * Liveness says the process serves; readiness says it can do its job, which needs Hydra, the user
 * database and, when configured, Redis (sessions and sign-in limits answer 503 without it). Redis
 * is asked with a real PING and the database with `select 1`, each under its deadline: a
 * connected but hung one is not ready.
 */
export function healthRouter({ hydra, redis, accounts }: { hydra: HydraAdmin; redis?: RedisConnection; accounts?: AccountStore }): Router {
  const router = Router();
  router.get('/alive', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const [hydraReady, redisReady, databaseReady] = await Promise.all([hydra.isReady(), redis?.ping(), accounts?.ping()]);
    const ready = hydraReady && redisReady !== false && databaseReady !== false;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ok' : 'unavailable',
      hydra: hydraReady ? 'ok' : 'unreachable',
      ...(redis ? { redis: redisReady ? 'ok' : 'unreachable' } : {}),
      ...(accounts ? { database: databaseReady ? 'ok' : 'unreachable' } : {}),
    });
  });
  return router;
}
