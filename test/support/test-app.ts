import { pino } from 'pino';
import request from 'supertest';
import type { Express } from 'express';
import { createApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createHydraAdmin } from '../../src/hydra/client.js';
import { BoundedMemoryStore } from '../../src/http/session.js';
import { demoUserStore } from '../../src/users/demo.js';
import type { UserStore } from '../../src/users/store.js';
import type { Metrics } from '../../src/metrics.js';
import { startFakeHydra, type FakeHydra, type FakeHydraOptions } from './fake-hydra.js';

export const TEST_SESSION_SECRET = 'test-session-secret-0123456789abcdef';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijkl';

let demoUsers: Promise<UserStore> | undefined;

export interface TestApp {
  app: Express;
  deps: AppDeps;
  hydra: FakeHydra;
  close(): Promise<void>;
}

/**
 * The app as production builds it, through the same createApp(deps) seam, against a fake Hydra
 * that is a real HTTP server. `env` overrides configuration exactly as environment variables would.
 */
export async function buildTestApp(
  options: {
    env?: Record<string, string | undefined>;
    hydra?: FakeHydraOptions;
    users?: UserStore;
    deps?: Partial<AppDeps>;
    /** Wired in as production wires it (deps.ts): AppDeps.metrics, and the Hydra client's onCall. */
    metrics?: Metrics;
  } = {},
): Promise<TestApp> {
  const hydra = await startFakeHydra(options.hydra);
  const { config } = loadConfig({
    NODE_ENV: 'test',
    HYDRA_ADMIN_URL: hydra.url,
    HYDRA_API_VERSION: hydra.apiVersion,
    SESSION_SECRET: TEST_SESSION_SECRET,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const deps: AppDeps = {
    config,
    hydra: createHydraAdmin({
      baseUrl: config.hydra.adminUrl,
      apiVersion: config.hydra.apiVersion,
      timeoutMs: config.hydra.timeoutMs,
      token: config.hydra.adminToken,
      onCall: options.metrics?.hydraCall,
    }),
    users: options.users ?? (await (demoUsers ??= demoUserStore())),
    logger: pino({ level: 'silent' }),
    sessionStore: new BoundedMemoryStore(),
    metrics: options.metrics,
    ...options.deps,
  };
  return { app: createApp(deps), deps, hydra, close: () => hydra.close() };
}

/** The hidden form fields of a rendered page. */
export function formFields(html: string): { csrf: string; challenge: string } {
  const csrf = /name="_csrf" value="([^"]*)"/.exec(html)?.[1];
  const challenge = /name="challenge" value="([^"]*)"/.exec(html)?.[1];
  if (csrf === undefined) throw new Error('page has no CSRF field');
  return { csrf, challenge: challenge ?? '' };
}

/** A cookie-keeping agent that has loaded `path` and returns its CSRF token. */
export async function agentWithForm(app: Express, path: string) {
  const agent = request.agent(app);
  const page = await agent.get(path);
  if (page.status !== 200) throw new Error(`GET ${path} answered ${page.status}`);
  return { agent, page, ...formFields(page.text) };
}
