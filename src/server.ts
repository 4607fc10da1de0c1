import type { Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { buildDeps } from './deps.js';

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

  const app = createApp(deps);
  const server: Server = app.listen(config.port, config.host);
  server.on('listening', () => {
    logger.info({ port: config.port, baseUrl: config.baseUrl, hydra: config.hydra.adminUrl, apiVersion: config.hydra.apiVersion }, 'listening');
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal({ error: err.code }, err.code === 'EADDRINUSE' ? `port ${config.port} is already in use` : err.message);
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    // Idle keep-alive sockets would hold close() open; busy ones finish their request first.
    server.close(async () => {
      // Redis last: in-flight requests may still have needed it for their session or counters.
      await Promise.race([deps.redis?.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]).catch(() => {});
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      logger.warn('shutdown deadline reached: closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`fatal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
