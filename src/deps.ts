import { keepAccountClientRegistered } from './account/client.js';
import type { AppDeps } from './app.js';
import type { Config } from './config.js';
import { createHydraAdmin } from './hydra/client.js';
import { createLogger } from './http/logging.js';
import { BoundedMemoryStore } from './http/session.js';
import { setHashingNice } from './users/argon2.js';
import { seedDemoUser } from './users/demo.js';
import { importUserFile } from './users/import.js';
import { openAccountStore } from './users/sql/store.js';

/** Builds the production collaborators from the config: the only place that does I/O before listen. */
export async function buildDeps(config: Config, logger = createLogger({ level: config.logLevel, pretty: !config.production && process.stdout.isTTY })): Promise<AppDeps> {
  // Before the stores exist: the file store hashes its dummy password as soon as it is built.
  setHashingNice(config.passwordChecks.nice);
  // Only when they are served (METRICS_TOKEN or METRICS_PORT): otherwise nothing is counted at all,
  // and prom-client is never loaded.
  const metrics = config.metrics.enabled ? (await import('./metrics.js')).createMetrics({ clientLabel: config.metrics.clientLabel, defaultMetrics: true }) : undefined;
  const hydra = createHydraAdmin({
    baseUrl: config.hydra.adminUrl,
    apiVersion: config.hydra.apiVersion,
    timeoutMs: config.hydra.timeoutMs,
    token: config.hydra.adminToken,
    onCall: metrics?.hydraCall,
  });
  // The user database (DATABASE_URL), opened and migrated before listen. Unlike Redis it is
  // required: unreachable, start-up stops with one line naming it (StoreUnavailableError).
  const accounts = await openAccountStore(config.database.target, {
    passwordPolicy: config.passwordPolicy,
    onIdleError: (error) => logger.warn({ database: config.database.description, error: error.message }, 'database connection lost; the next query reconnects'),
    onQuery: metrics?.databaseQuery,
  });
  const users = accounts;
  logger.info({ database: accounts.description, migrated: accounts.appliedMigrations }, 'user database ready');
  if (config.usersFile) {
    // The JSON user file is an import source now: its users not yet in the database are added,
    // and nobody already there is changed, so this is safe at every start.
    const result = await importUserFile(accounts, config.usersFile, { actor: 'system' });
    logger.info({ file: config.usersFile, added: result.created, kept: result.kept, skipped: result.skipped.length }, 'imported USERS_FILE');
    for (const skipped of result.skipped) logger.warn({ index: skipped.index, reason: skipped.reason }, 'USERS_FILE entry not imported');
  } else if (!config.production && (await accounts.list({ limit: 1 })).items.length === 0 && (await seedDemoUser(accounts))) {
    // Only into an empty database, and never in production: a real user database never gets it.
    logger.warn('development: the database was empty, so the demo user foo@bar.com / foobar was added to it');
  }
  // Mail is sent only when someone asks for a reset link; nothing connects now, and nodemailer is
  // loaded only when SMTP_URL is set.
  const mailer = config.mail ? (await import('./account/smtp.js')).smtpMailer({ url: config.mail.smtpUrl, from: config.mail.from }) : undefined;
  // The account area's own OAuth2 client at Hydra, created or updated (idempotently) before the
  // app serves. Hydra not up yet: a warning, and retries in the background.
  if (config.account?.registerClient) await keepAccountClientRegistered(hydra, config, logger);
  if (!config.redisUrl) {
    logger.info('sessions are per-process (set REDIS_URL to share them between instances)');
    return { config, hydra, users, accounts, factors: accounts.factors, mailer, logger, sessionStore: new BoundedMemoryStore(), metrics };
  }
  // Never blocks start-up for long: without Redis the app serves, answers 503 where it needs
  // Redis, reports not-ready, and recovers by itself when Redis comes. The Redis client and
  // connect-redis are loaded only here, with REDIS_URL set.
  const [{ createRedisConnection }, { redisSessionStore }] = await Promise.all([import('./redis.js'), import('./http/redis-session.js')]);
  const redis = createRedisConnection({ url: config.redisUrl, logger, onCommand: metrics?.redisCommand });
  if (!(await redis.waitUntilReady(5000))) logger.warn('redis is not reachable yet; retrying in the background');
  return { config, hydra, users, accounts, factors: accounts.factors, mailer, logger, sessionStore: redisSessionStore(redis), redis, metrics };
}
