import type { HydraAdmin } from '../hydra/client.js';
import { HydraError } from '../hydra/errors.js';
import type { OAuth2Client } from '../hydra/types.js';

/**
 * The two OAuth2 clients the demo relying party uses, and their idempotent registration. Shared by
 * `npm run demo` (scripts/demo.ts) and the one-shot `demo-clients` service of docker-compose.yml
 * (src/demo/register.ts), so both register exactly the same clients.
 */

/** Development-only credentials: they are printed in the README and must never reach production. */
export const DEMO_DEFAULTS = {
  clientId: 'demo-client',
  clientSecret: 'demo-client-secret-change-me',
  m2mClientId: 'demo-m2m',
  m2mClientSecret: 'demo-m2m-secret-change-me',
} as const;

/** Scopes the demo client may ask for; the start page offers each one. */
export const DEMO_SCOPES = ['openid', 'offline_access', 'email', 'profile'] as const;
/** An audience the demo client may request, so the audience option has something that works. */
export const DEMO_AUDIENCE = 'https://api.example.com';
/** Scope the machine-to-machine client may request. */
export const DEMO_M2M_SCOPE = 'demo.read';

export interface DemoClientsOptions {
  /** The app's public base URL (BASE_URL): redirect URIs hang off it. */
  appBaseUrl: string;
  clientId: string;
  /** Without a secret the client is public (token_endpoint_auth_method none) and relies on PKCE. */
  clientSecret?: string;
  /** The client-credentials client; omitted: not registered. */
  m2m?: { clientId: string; clientSecret: string };
}

export function demoClients(options: DemoClientsOptions): OAuth2Client[] {
  const base = options.appBaseUrl.replace(/\/+$/, '');
  const clients: OAuth2Client[] = [
    {
      client_id: options.clientId,
      ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
      client_name: 'Demo application',
      client_uri: `${base}/demo`,
      redirect_uris: [`${base}/demo/callback`],
      post_logout_redirect_uris: [`${base}/demo/logged-out`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: DEMO_SCOPES.join(' '),
      audience: [DEMO_AUDIENCE],
      token_endpoint_auth_method: options.clientSecret ? 'client_secret_basic' : 'none',
    },
  ];
  if (options.m2m) {
    clients.push({
      client_id: options.m2m.clientId,
      client_secret: options.m2m.clientSecret,
      client_name: 'Demo service (machine to machine)',
      grant_types: ['client_credentials'],
      scope: DEMO_M2M_SCOPE,
      audience: [DEMO_AUDIENCE],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  }
  return clients;
}

/**
 * Creates or replaces each client under its fixed id: PUT when it exists (the whole client is
 * replaced, secret included), POST otherwise. Running it twice leaves the same two clients.
 * Choosing the client_id on POST needs Hydra v1.11 or v2.2+ (v2.0–v2.1 refuse it).
 */
export async function registerDemoClients(hydra: HydraAdmin, options: DemoClientsOptions): Promise<Array<{ clientId: string; created: boolean }>> {
  const results: Array<{ clientId: string; created: boolean }> = [];
  for (const wanted of demoClients(options)) {
    const id = wanted.client_id!;
    let exists = true;
    try {
      await hydra.getOAuth2Client(id);
    } catch (err) {
      if (!(err instanceof HydraError && err.status === 404)) throw err;
      exists = false;
    }
    if (exists) await hydra.updateOAuth2Client(id, wanted);
    else await hydra.createOAuth2Client(wanted);
    results.push({ clientId: id, created: !exists });
  }
  return results;
}
