// Shared by the /account integration tests: the app through buildTestApp (fake Hydra admin API)
// with the real SQL account store on a temporary SQLite file, and a small fake of Hydra's public
// OpenID Connect API (discovery, JWKS, token) that plays the authorization server's part of the
// sign-in. The real thing, a real Hydra and Chromium, is test/e2e/account.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import request from 'supertest';
import { expect } from 'vitest';
import type { AppDeps } from '../../src/app.js';
import type { AuditContext } from '../../src/users/accounts.js';
import { openAccountStore, type SqlAccountStore } from '../../src/users/sql/store.js';
import { buildTestApp, formFields, type TestApp } from '../support/test-app.js';
import type { FakeHydraOptions } from '../support/fake-hydra.js';

export const BASE_URL = 'http://localhost:3000';
export const PASSWORD = 'correct horse battery staple';
export const test: AuditContext = { actor: 'test' };

interface IssuedCode {
  subject: string;
  nonce: string;
  codeChallenge: string;
  redirectUri: string;
  clientId: string;
  /** The ID token's auth_time (epoch seconds): when the person signed in at Hydra. Default now. */
  authTime?: number;
}

export interface FakeOidc {
  /** The issuer as the browser sees it: http://localhost:PORT/ */
  publicUrl: string;
  /** The same server as the app reaches it: http://127.0.0.1:PORT/ */
  internalUrl: string;
  /** Every token request: client authentication and form. */
  tokenRequests: Array<{ clientId?: string; secret?: string; form: URLSearchParams }>;
  /** What Hydra's authorization endpoint would hand back after login and consent. */
  issueCode(code: IssuedCode): string;
  /** The client allowed at the token endpoint (id and secret, checked with client_secret_basic). */
  allowClient(id: string, secret: string): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startFakeOidc(): Promise<FakeOidc> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'account-test', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, IssuedCode>();
  const tokenRequests: FakeOidc['tokenRequests'] = [];
  const clients = new Map<string, string>();
  let issuer = '';

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req);
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}oauth2/auth`,
        token_endpoint: `${issuer}oauth2/token`,
        jwks_uri: `${issuer}.well-known/jwks.json`,
        end_session_endpoint: `${issuer}oauth2/sessions/logout`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/.well-known/jwks.json') return json(200, { keys: [jwk] });
    if (url.pathname === '/oauth2/token' && req.method === 'POST') {
      const form = new URLSearchParams(body);
      const auth = req.headers.authorization;
      const [id, secret] = auth?.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part))
        : [];
      tokenRequests.push({ clientId: id, secret, form });
      if (id === undefined || clients.get(id) !== secret) return json(401, { error: 'invalid_client' });
      const issued = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (
        !issued ||
        issued.clientId !== id ||
        createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge ||
        form.get('redirect_uri') !== issued.redirectUri
      ) {
        return json(400, { error: 'invalid_grant', error_description: 'The authorization code is invalid, or the PKCE verifier does not match.' });
      }
      const idToken = await new SignJWT({ nonce: issued.nonce, sid: randomBytes(8).toString('hex'), auth_time: issued.authTime ?? Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg: 'RS256', kid: 'account-test', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(id)
        .setSubject(issued.subject)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
      return json(200, { access_token: `ory_at_${randomBytes(16).toString('hex')}`, token_type: 'bearer', expires_in: 3600, scope: 'openid', id_token: idToken });
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  issuer = `http://localhost:${port}/`;
  return {
    publicUrl: issuer,
    internalUrl: `http://127.0.0.1:${port}/`,
    tokenRequests,
    issueCode(code) {
      const value = `ory_ac_${randomBytes(16).toString('hex')}`;
      codes.set(value, code);
      return value;
    },
    allowClient: (id, secret) => clients.set(id, secret),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface AccountApp extends TestApp {
  store: SqlAccountStore;
  oidc?: FakeOidc;
  /** Moves the store's clock (token expiry). */
  advanceClock(ms: number): void;
}

/**
 * The app with the account area: a fresh SQLite file, the fake Hydra admin API and, unless
 * `oidc: false`, the fake public API as HYDRA_PUBLIC_URL (with HYDRA_PUBLIC_INTERNAL_URL).
 */
export async function accountApp(
  options: { env?: Record<string, string>; oidc?: boolean; deps?: Partial<AppDeps>; hydra?: FakeHydraOptions; /** deps.factors: the store's second factors (test/mfa). */ factors?: boolean } = {},
): Promise<AccountApp> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hlc-account-'));
  let offset = 0;
  const store = await openAccountStore({ dialect: 'sqlite', file: path.join(dir, 'accounts.db') }, { now: () => Date.now() + offset });
  const oidc = options.oidc === false ? undefined : await startFakeOidc();
  const app = await buildTestApp({
    env: {
      BASE_URL,
      ...(oidc ? { HYDRA_PUBLIC_URL: oidc.publicUrl, HYDRA_PUBLIC_INTERNAL_URL: oidc.internalUrl } : {}),
      ...options.env,
    },
    users: store,
    deps: { accounts: store, ...(options.factors ? { factors: store.factors } : {}), ...options.deps },
    hydra: options.hydra,
  });
  const account = app.deps.config.account;
  if (oidc && account) oidc.allowClient(account.clientId, account.clientSecret);
  return {
    ...app,
    store,
    oidc,
    advanceClock: (ms) => {
      offset += ms;
    },
    close: async () => {
      await app.close();
      await oidc?.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type Agent = ReturnType<typeof request.agent>;

/**
 * Signs `subject` in to /account the way a browser would: GET /account (303 to Hydra's
 * authorization endpoint), then back at the callback with a code the fake issued for exactly
 * the PKCE challenge, nonce and redirect URI the app sent. Returns the agent, on its profile page.
 * `authTime` (epoch seconds) is when Hydra says the person signed in: an old one is a remembered session.
 */
export async function signIn(
  t: AccountApp,
  subject: string,
  agent: Agent = request.agent(t.app),
  path = '/account',
  authTime?: number,
): Promise<{ agent: Agent; authorize: URL; back: request.Response }> {
  const start = await agent.get(path);
  expect(start.status, start.text).toBe(303);
  const authorize = new URL(start.headers.location!);
  const q = authorize.searchParams;
  const code = t.oidc!.issueCode({
    subject,
    nonce: q.get('nonce')!,
    codeChallenge: q.get('code_challenge')!,
    redirectUri: q.get('redirect_uri')!,
    clientId: q.get('client_id')!,
    ...(authTime === undefined ? {} : { authTime }),
  });
  const back = await agent.get(`/account/callback?code=${code}&state=${encodeURIComponent(q.get('state')!)}`);
  expect(back.status, back.text).toBe(303);
  return { agent, authorize, back };
}

/** GETs a page and returns its CSRF token (every page has the nav's sign-out form). */
export async function csrfOf(agent: Agent, path: string): Promise<string> {
  const page = await agent.get(path);
  expect(page.status, page.text).toBe(200);
  return formFields(page.text).csrf;
}

/** The value of a cookie in a response's Set-Cookie headers. */
export function setCookie(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const headers = (res.headers['set-cookie'] as string[] | undefined) ?? [];
  return headers.find((h) => h.startsWith(`${name}=`));
}
