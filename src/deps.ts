import type { AppDeps } from './app.js';
import type { Config } from './config.js';
import { createHydraAdmin } from './hydra/client.js';
import { createLogger } from './http/logging.js';
import { BoundedMemoryStore, redisSessionStore } from './http/session.js';
import { createRedisConnection } from './redis.js';
import { demoUserStore } from './users/demo.js';
import { loadUserFile } from './users/file-store.js';

/** Builds the production collaborators from the config: the only place that does I/O before listen. */
export async function buildDeps(config: Config, logger = createLogger({ level: config.logLevel, pretty: !config.production && process.stdout.isTTY })): Promise<AppDeps> {
  const hydra = createHydraAdmin({
    baseUrl: config.hydra.adminUrl,
    apiVersion: config.hydra.apiVersion,
    timeoutMs: config.hydra.timeoutMs,
    token: config.hydra.adminToken,
  });
  let users;
  if (config.usersFile) {
    users = await loadUserFile(config.usersFile);
  } else {
    logger.warn('USERS_FILE is not set: only the demo user foo@bar.com / foobar can sign in');
    users = await demoUserStore();
  }
  if (!config.redisUrl) {
    logger.info('sessions are per-process (set REDIS_URL to share them between instances)');
    return { config, hydra, users, logger, sessionStore: new BoundedMemoryStore() };
  }
  // Never blocks start-up for long: without Redis the app serves, answers 503 where it needs
  // Redis, reports not-ready, and recovers by itself when Redis comes.
  const redis = createRedisConnection({ url: config.redisUrl, logger });
  if (!(await redis.waitUntilReady(5000))) logger.warn('redis is not reachable yet; retrying in the background');
  return { config, hydra, users, logger, sessionStore: redisSessionStore(redis), redis };
}
