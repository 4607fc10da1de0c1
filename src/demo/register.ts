import { ConfigError, loadConfig } from '../config.js';
import { createHydraAdmin } from '../hydra/client.js';
import { registerDemoClients } from './clients.js';

/*
 * One-shot registration of the demo OAuth2 clients, for docker-compose.yml's `demo-clients`
 * service (`node dist/demo/register.js`). It reads the same environment as the app, waits for
 * Hydra's admin API to be ready, creates or replaces the clients, and exits: 0 when done, 1 with
 * one line saying why not.
 */

const WAIT_MS = Number(process.env.DEMO_REGISTER_WAIT_MS ?? 90_000);

async function main(): Promise<number> {
  let config;
  try {
    ({ config } = loadConfig(process.env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) console.error(`demo-clients: config error: ${problem}`);
    return 1;
  }
  if (config.demo === undefined) {
    console.log('demo-clients: the demo is off (no DEMO_CLIENT_ID, or production without DEMO_ENABLED=true); nothing to register');
    return 0;
  }
  const hydra = createHydraAdmin({
    baseUrl: config.hydra.adminUrl,
    apiVersion: config.hydra.apiVersion,
    timeoutMs: config.hydra.timeoutMs,
    token: config.hydra.adminToken,
  });
  const deadline = Date.now() + WAIT_MS;
  while (!(await hydra.isReady())) {
    if (Date.now() > deadline) {
      console.error(`demo-clients: Hydra's admin API at ${config.hydra.adminUrl} was not ready within ${WAIT_MS / 1000} s`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const results = await registerDemoClients(hydra, {
    appBaseUrl: config.baseUrl,
    clientId: config.demo.clientId,
    clientSecret: config.demo.clientSecret,
    m2m:
      config.demo.m2mClientId && config.demo.m2mClientSecret
        ? { clientId: config.demo.m2mClientId, clientSecret: config.demo.m2mClientSecret }
        : undefined,
  });
  for (const { clientId, created } of results) console.log(`demo-clients: ${created ? 'created' : 'updated'} ${clientId}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`demo-clients: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
