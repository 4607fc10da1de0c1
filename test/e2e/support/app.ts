import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from '../../../src/app.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { buildDeps } from '../../../src/deps.js';
import type { HydraRelease } from '../../../scripts/hydra-process.js';
import { startHydra, type HydraInstance } from './hydra.js';
import { OAuthDriver } from './oauth.js';

/**
 * The app under test, in-process, next to a real Hydra. Order matters: the app's port must be
 * known before Hydra starts (Hydra's URLS_LOGIN etc. point at it), and Hydra's admin URL must be
 * known before the app is built. So: bind a bare HTTP server, start Hydra, build the app, attach.
 */

/** Enables the /admin router; 32+ characters as the config demands. */
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdefghijklmnopqrstuv';
export const SESSION_SECRET = 'e2e-session-secret-0123456789abcdefghijklmnopqr';

export interface AppUnderTest {
  /** http://127.0.0.1:PORT (no trailing slash) */
  baseUrl: string;
  server: Server;
  config: Config;
  deps: AppDeps;
}

export interface Stack {
  app: AppUnderTest;
  hydra: HydraInstance;
  /** A fresh user agent (empty cookie jar) for the app and Hydra. */
  driver(): OAuthDriver;
  /** Calls our /admin JSON API with the bearer token; parses JSON bodies. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
  /**
   * Rebuilds the app with `appEnv` on top of the stack's own environment and swaps it in on the
   * same port (Hydra's login/consent URLs stay right; `{}` restores the original). New sessions.
   */
  useAppEnv(appEnv: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Calls the /admin JSON API of the app at `baseUrl` with the bearer token; parses JSON bodies. */
export async function adminRequest(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface StackOptions {
  /** Which Hydra (default v2.3.0); the app gets its HYDRA_API_VERSION. */
  hydra?: HydraRelease & { bin?: string };
  appEnv?: Record<string, string>;
  hydraEnv?: Record<string, string>;
  /** The host in the app's BASE_URL (it listens on 127.0.0.1 either way): `localhost` for WebAuthn, whose RP ID cannot be an IP address. */
  appHost?: string;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // Until the app is attached, a request would get a 503 instead of hanging.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler !== undefined) handler(req, res);
    else res.writeHead(503).end('app not attached yet');
  });
  const port = await listen(server);
  const baseUrl = `http://${options.appHost ?? '127.0.0.1'}:${port}`;

  let hydra: HydraInstance | undefined;
  try {
    hydra = await startHydra({ appBaseUrl: baseUrl, env: options.hydraEnv, release: options.hydra, bin: options.hydra?.bin });
    const baseEnv = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      BASE_URL: baseUrl,
      HYDRA_ADMIN_URL: hydra.adminUrl,
      HYDRA_API_VERSION: hydra.release.apiVersion,
      // Hydra's public URL as the browser sees it (the issuer), as a deployment would set it.
      HYDRA_PUBLIC_URL: hydra.publicUrl,
      // Short, so "Hydra is down" is answered quickly even if a connect hangs instead of failing.
      HYDRA_TIMEOUT_MS: '5000',
      SESSION_SECRET,
      ADMIN_TOKEN,
      // A user database of its own, seeded with the demo user: never ./data/accounts.db.
      DATABASE_URL: 'sqlite::memory:',
      LOG_LEVEL: process.env.E2E_APP_LOG_LEVEL ?? 'error',
      ...options.appEnv,
    };
    const { config } = loadConfig(baseEnv);
    const deps = await buildDeps(config);
    handler = createApp(deps);
    const app: AppUnderTest = { baseUrl, server, config, deps };
    const h = hydra;
    return {
      app,
      hydra: h,
      useAppEnv: async (appEnv) => {
        const { config: next } = loadConfig({ ...baseEnv, ...appEnv });
        const nextDeps = await buildDeps(next);
        const previous = app.deps;
        handler = createApp(nextDeps);
        app.config = next;
        app.deps = nextDeps;
        await previous.redis?.close();
      },
      driver: () => new OAuthDriver({ hydraPublicUrl: h.publicUrl, appBaseUrl: baseUrl }),
      admin: (method, path, body) => adminRequest(baseUrl, method, path, body),
      stop: async () => {
        await closeServer(server);
        await app.deps.redis?.close();
        await h.stop();
      },
    };
  } catch (error) {
    await closeServer(server);
    await hydra?.stop();
    throw error;
  }
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
