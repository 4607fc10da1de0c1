import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { buildDeps } from './deps.js';
import { drainable } from './http/drain.js';
import { metricsListener } from './http/metrics.js';

/** A request's headers must arrive within this (or REQUEST_TIMEOUT, if shorter), else 408. */
const HEADERS_TIMEOUT_MS = 20_000;
/** How often Node looks for requests past those timeouts (its default, 30 s, would double them). */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;
/** The last log lines get this long to reach stdout; a dead reader (EPIPE) must not hold the exit. */
const LOG_FLUSH_MS = 1000;

/** Hands the last log lines to stdout, within LOG_FLUSH_MS whatever state stdout is in. */
function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, LOG_FLUSH_MS).unref();
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}

/** Entry point: config → collaborators → app → listen; SIGTERM/SIGINT drain and exit 0. */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`config error: ${problem}`);
      process.exit(1);
    }
    throw err;
  }
  const { config, warnings } = loaded;
  const deps = await buildDeps(config);
  const { logger } = deps;
  for (const warning of warnings) logger.warn(warning);

  // A client that drips its request is cut (408) instead of holding a connection for minutes.
  const server: Server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, config.requestTimeoutMs),
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    createApp(deps),
  );
  const drain = drainable(server);
  server.listen(config.port, config.host);
  server.on('listening', () => {
    logger.info({ port: config.port, baseUrl: config.baseUrl, hydra: config.hydra.adminUrl, apiVersion: config.hydra.apiVersion }, 'listening');
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal({ error: err.code }, err.code === 'EADDRINUSE' ? `port ${config.port} is already in use` : err.message);
    process.exit(1);
  });

  // METRICS_PORT: the Prometheus scrape on a listener of its own (METRICS_HOST, loopback by
  // default), so the app's port never serves it. It keeps answering while the app drains.
  const { metrics } = deps;
  const metricsPort = config.metrics.port;
  let metricsServer: Server | undefined;
  if (metrics && metricsPort !== undefined) {
    const listener = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, metricsListener(metrics, config.metrics.token));
    metricsServer = listener;
    listener.listen(metricsPort, config.metrics.host);
    listener.on('listening', () => logger.info({ port: metricsPort, host: config.metrics.host, token: config.metrics.token !== undefined }, 'metrics listening'));
    listener.on('error', (err: NodeJS.ErrnoException) => {
      logger.fatal({ error: err.code }, err.code === 'EADDRINUSE' ? `METRICS_PORT ${metricsPort} is already in use` : err.message);
      process.exit(1);
    });
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const deadline = setTimeout(() => {
      logger.warn('shutdown deadline reached: closing remaining connections');
      drain.closeAll();
    }, config.shutdownTimeoutMs);
    await drain.drain();
    clearTimeout(deadline);
    if (metricsServer) {
      const closed = new Promise((resolve) => metricsServer.close(resolve));
      metricsServer.closeAllConnections();
      await closed;
    }
    // Redis and the database last: in-flight requests may still have needed them.
    const closed = Promise.allSettled([deps.redis?.close(), deps.accounts?.close()]);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    logger.info('stopped');
    // pino flushes synchronously on exit; a log reader that went away then fails that write
    // (EPIPE). Flushing first, asynchronously and bounded, leaves nothing for it to fail on.
    await flushLogs(logger);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`fatal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
