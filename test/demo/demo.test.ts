// The demo relying party (/demo) through createApp, against the fake Hydra admin API plus a tiny
// fake of Hydra's *public* API (discovery, JWKS, token, userinfo) that this file serves itself.
// The real thing, through a real Hydra and scripts/demo.ts, is test/e2e/demo.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { BoundedMemoryStore } from '../../src/http/session.js';
import { buildTestApp, formFields, type TestApp } from '../support/test-app.js';

const CLIENT_ID = 'demo-client';
const CLIENT_SECRET = 'demo-client-secret-for-tests';
const M2M_ID = 'demo-m2m';
const M2M_SECRET = 'demo-m2m-secret-for-tests';

interface IssuedCode {
  nonce: string;
  codeChallenge: string;
  scope: string;
  redirectUri: string;
}

interface FakeOidc {
  /** Browser-facing issuer: http://localhost:PORT/ */
  publicUrl: string;
  /** The same server as the app reaches it: http://127.0.0.1:PORT/ */
  internalUrl: string;
  /** Host header and path of every request the server received. */
  requests: Array<{ host: string; method: string; path: string; authorization?: string; body: string }>;
  /** What the authorization endpoint would have done after login and consent: a code for these checks. */
  issueCode(code: IssuedCode): string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

function basic(header: string | undefined): [string, string] | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
  return [decodeURIComponent(id ?? ''), decodeURIComponent(secret ?? '')];
}

/** Hydra's public API, as little of it as openid-client needs, on 127.0.0.1 with a localhost issuer. */
async function startFakeOidc(onToken: (token: string, info: { sub: string; scope: string; client_id: string }) => void): Promise<FakeOidc> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, IssuedCode>();
  const refreshTokens = new Map<string, string>();
  const requests: FakeOidc['requests'] = [];
  let issuer = '';

  const idToken = (claims: Record<string, unknown>) =>
    new SignJWT({ ...claims, auth_time: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(CLIENT_ID)
      .setSubject('foo@bar.com')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);

  const issueTokens = async (scope: string, nonce?: string) => {
    const accessToken = `ory_at_${randomBytes(16).toString('hex')}`;
    const refreshToken = scope.split(' ').includes('offline_access') ? `ory_rt_${randomBytes(16).toString('hex')}` : undefined;
    if (refreshToken) refreshTokens.set(refreshToken, scope);
    onToken(accessToken, { sub: 'foo@bar.com', scope, client_id: CLIENT_ID });
    return {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: 3600,
      scope,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(scope.split(' ').includes('openid') ? { id_token: await idToken(nonce ? { nonce } : {}) } : {}),
    };
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req);
    requests.push({ host: req.headers.host ?? '', method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization, body });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}oauth2/auth`,
        token_endpoint: `${issuer}oauth2/token`,
        userinfo_endpoint: `${issuer}userinfo`,
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
    if (url.pathname === '/userinfo') {
      if (!req.headers.authorization?.startsWith('Bearer ory_at_')) return json(401, { error: 'invalid_token' });
      return json(200, { sub: 'foo@bar.com', email: 'foo@bar.com', email_verified: true });
    }
    if (url.pathname === '/oauth2/token' && req.method === 'POST') {
      const form = new URLSearchParams(body);
      const client = basic(req.headers.authorization);
      const grant = form.get('grant_type');
      if (grant === 'client_credentials') {
        if (client?.[0] !== M2M_ID || client[1] !== M2M_SECRET) return json(401, { error: 'invalid_client' });
        const token = `ory_at_${randomBytes(16).toString('hex')}`;
        onToken(token, { sub: M2M_ID, scope: form.get('scope') ?? '', client_id: M2M_ID });
        return json(200, { access_token: token, token_type: 'bearer', expires_in: 3599, scope: form.get('scope') ?? '' });
      }
      if (client?.[0] !== CLIENT_ID || client[1] !== CLIENT_SECRET) return json(401, { error: 'invalid_client' });
      if (grant === 'refresh_token') {
        const scope = refreshTokens.get(form.get('refresh_token') ?? '');
        if (scope === undefined) return json(400, { error: 'invalid_grant', error_description: 'The refresh token was already used.' });
        refreshTokens.delete(form.get('refresh_token')!);
        return json(200, await issueTokens(scope));
      }
      const issued = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (!issued || createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge || form.get('redirect_uri') !== issued.redirectUri) {
        return json(400, { error: 'invalid_grant', error_description: 'The authorization code is invalid, or the PKCE verifier does not match.' });
      }
      return json(200, await issueTokens(issued.scope, issued.nonce));
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  issuer = `http://localhost:${port}/`;
  return {
    publicUrl: issuer,
    internalUrl: `http://127.0.0.1:${port}/`,
    requests,
    issueCode(code) {
      const value = `ory_ac_${randomBytes(16).toString('hex')}`;
      codes.set(value, code);
      return value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function demoEnv(oidc: Pick<FakeOidc, 'publicUrl' | 'internalUrl'>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    BASE_URL: 'http://localhost:3000',
    HYDRA_PUBLIC_URL: oidc.publicUrl,
    HYDRA_PUBLIC_INTERNAL_URL: oidc.internalUrl,
    DEMO_CLIENT_ID: CLIENT_ID,
    DEMO_CLIENT_SECRET: CLIENT_SECRET,
    DEMO_M2M_CLIENT_ID: M2M_ID,
    DEMO_M2M_CLIENT_SECRET: M2M_SECRET,
    ...extra,
  };
}

/** EJS escapes quotes; the pages' JSON reads better unescaped in assertions. */
function text(html: string): string {
  return html.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

let app: TestApp | undefined;
let oidc: FakeOidc | undefined;
afterEach(async () => {
  await app?.close();
  await oidc?.close();
  app = undefined;
  oidc = undefined;
});

/** The app with the demo on, a fake public Hydra, and a logger whose every line is kept. */
async function demoApp(extra: Record<string, string> = {}) {
  const logs: string[] = [];
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  let tokenSink: (token: string, info: { sub: string; scope: string; client_id: string }) => void = () => {};
  oidc = await startFakeOidc((token, info) => tokenSink(token, info));
  app = await buildTestApp({ env: demoEnv(oidc, extra), deps: { logger } });
  const hydra = app.hydra;
  tokenSink = (token, info) => hydra.addToken(token, { active: true, token_type: 'Bearer', token_use: 'access_token', ...info });
  return { app, oidc, logs };
}

/** Posts the start form and returns the agent, the authorization URL and its parameters. */
async function start(t: TestApp, fields: Record<string, string | string[]> = {}) {
  const agent = request.agent(t.app);
  const page = await agent.get('/demo');
  const { csrf } = formFields(page.text);
  const res = await agent
    .post('/demo/start')
    .type('form')
    .send({ _csrf: csrf, scope: ['openid', 'offline_access', 'email', 'profile'], prompt: '', audience: '', max_age: '', ...fields });
  return { agent, csrf, res, location: res.headers.location ? new URL(res.headers.location) : undefined };
}

describe('/demo is off unless configured', () => {
  it('answers 404 without DEMO_CLIENT_ID', async () => {
    app = await buildTestApp();
    expect((await request(app.app).get('/demo')).status).toBe(404);
    expect((await request(app.app).get('/demo/callback?error=access_denied')).status).toBe(404);
  });

  it('answers 404 in production unless DEMO_ENABLED=true', async () => {
    const production = { NODE_ENV: 'production', USERS_FILE: 'users.example.json', MFA_ENCRYPTION_KEY: 'k'.repeat(32) };
    const urls = { publicUrl: 'http://localhost:4444/', internalUrl: 'http://localhost:4444/' };
    app = await buildTestApp({ env: demoEnv(urls, production) });
    expect((await request(app.app).get('/demo')).status).toBe(404);
    await app.close();
    app = await buildTestApp({ env: demoEnv(urls, { ...production, DEMO_ENABLED: 'true' }) });
    expect((await request(app.app).get('/demo')).status).toBe(200);
  });
});

describe('the start page', () => {
  it('renders the options with a CSRF token bound to the session, which holds nothing else yet', async () => {
    const { app } = await demoApp();
    const res = await request(app.app).get('/demo');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(formFields(res.text).csrf).not.toBe('');
    for (const scope of ['openid', 'offline_access', 'email', 'profile']) expect(res.text).toContain(`id="scope-${scope}" name="scope" value="${scope}" checked`);
    expect(res.text).toContain('<option value="none"');
    expect(res.text).toContain('id="audience"');
    expect(res.text).toContain('id="max_age"');
    expect(res.text).toContain('id="client-credentials"');
    expect(res.text).toContain('http://localhost:3000/demo/callback');
    // CSRF in session mode (src/http/csrf.ts): the secret is the only thing the visit stored.
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    expect(cookies.some((c) => c.startsWith('hlc_session='))).toBe(true);
    expect(cookies.some((c) => c.startsWith('hlc_csrf='))).toBe(false);
    const store = app.deps.sessionStore as BoundedMemoryStore;
    expect(store.size).toBe(1);
    const sid = decodeURIComponent(cookies.find((c) => c.startsWith('hlc_session='))!.split(/[=;]/)[1]!).slice(2).split('.')[0]!;
    const stored = await new Promise<object | null | undefined>((resolve) => store.get(sid, (_err, data) => resolve(data)));
    expect(Object.keys(stored ?? {}).sort()).toEqual(['cookie', 'csrfSecret']);
    // The forms end at Hydra after a redirect, so form-action names its public origin.
    expect(res.headers['content-security-policy']).toContain(`form-action 'self' ${new URL(oidc!.publicUrl).origin}`);
  });

  it('refuses a start without the CSRF token', async () => {
    const { app } = await demoApp();
    const res = await request(app.app).post('/demo/start').type('form').send({ scope: 'openid' });
    expect(res.status).toBe(403);
    expect(oidc!.requests).toEqual([]);
  });

  it('re-renders with a message when no scope is chosen', async () => {
    const { app } = await demoApp();
    const { res } = await start(app, { scope: [] });
    expect(res.status).toBe(400);
    expect(res.text).toContain('Choose at least one scope.');
  });

  it('says so on the page when Hydra cannot be reached, with no stack', async () => {
    const closed = await startFakeOidc(() => {});
    await closed.close();
    app = await buildTestApp({ env: demoEnv(closed) });
    const { res } = await start(app);
    expect(res.status).toBe(502);
    expect(res.text).toContain('Discovery: Hydra could not be reached');
    expect(res.text).not.toMatch(/at \S+ \(|node_modules/);
  });
});

describe('authorization code + PKCE', () => {
  it('sends the browser to the public authorization endpoint, having discovered over the internal URL', async () => {
    const { app } = await demoApp();
    const { res, location } = await start(app, { prompt: 'login', audience: 'https://api.example.com', max_age: '60' });
    expect(res.status).toBe(303);
    expect(`${location!.origin}${location!.pathname}`).toBe(`${oidc!.publicUrl}oauth2/auth`);
    const q = location!.searchParams;
    expect(Object.fromEntries(q)).toMatchObject({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: 'http://localhost:3000/demo/callback',
      scope: 'openid offline_access email profile',
      code_challenge_method: 'S256',
      prompt: 'login',
      audience: 'https://api.example.com',
      max_age: '60',
    });
    expect(q.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(q.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(q.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    // Discovery went to 127.0.0.1 although the issuer says localhost.
    expect(oidc!.requests.map((r) => `${r.host} ${r.path}`)).toEqual([`${new URL(oidc!.internalUrl).host} /.well-known/openid-configuration`]);
  });

  it('shows ?error=access_denied at the callback, in words', async () => {
    const { app } = await demoApp();
    const { agent, location } = await start(app);
    const state = location!.searchParams.get('state')!;
    const res = await agent.get(`/demo/callback?error=access_denied&error_description=The+resource+owner+denied+the+request&state=${state}`);
    expect(res.status).toBe(400);
    const page = text(res.text);
    expect(page).toContain('Sign-in did not complete');
    expect(page).toContain('access_denied');
    expect(page).toContain('The resource owner denied the request');
    expect(page).toContain('The person (or our consent screen) said no');
    expect(page).not.toContain('does not match a sign-in started in this browser');
  });

  it('shows an error sent to a browser that started nothing, and says it is not ours', async () => {
    const { app } = await demoApp();
    const res = await request(app.app).get('/demo/callback?error=login_required&state=whatever');
    expect(res.status).toBe(400);
    expect(text(res.text)).toContain('login_required');
    expect(text(res.text)).toContain('does not match a sign-in started in this browser');
  });

  it('discards a callback whose state does not match, and the flow is then spent', async () => {
    const { app } = await demoApp();
    const { agent, location } = await start(app);
    const state = location!.searchParams.get('state')!;
    const code = oidc!.issueCode({ nonce: location!.searchParams.get('nonce')!, codeChallenge: location!.searchParams.get('code_challenge')!, scope: 'openid', redirectUri: 'http://localhost:3000/demo/callback' });
    const wrong = await agent.get(`/demo/callback?code=${code}&state=not-${state}`);
    expect(wrong.status).toBe(400);
    expect(text(wrong.text)).toContain('State mismatch');
    // Nothing was sent to the token endpoint, and the right state no longer helps.
    expect(oidc!.requests.filter((r) => r.path === '/oauth2/token')).toEqual([]);
    const replay = await agent.get(`/demo/callback?code=${code}&state=${state}`);
    expect(replay.status).toBe(400);
    expect(text(replay.text)).toContain('No sign-in in progress');
  });

  it('exchanges the code and shows the token response, the decoded ID token, userinfo and introspection; logs no token', async () => {
    const { app, logs } = await demoApp();
    const { agent, location } = await start(app);
    const q = location!.searchParams;
    const code = oidc!.issueCode({ nonce: q.get('nonce')!, codeChallenge: q.get('code_challenge')!, scope: 'openid offline_access email profile', redirectUri: q.get('redirect_uri')! });
    const res = await agent.get(`/demo/callback?code=${code}&scope=openid+offline_access+email+profile&state=${q.get('state')}`);
    expect(res.status, text(res.text)).toBe(200);
    const page = text(res.text);
    expect(page).toContain('Signed in');
    expect(page).toContain('"kid": "test-key"');
    expect(page).toContain('"sub": "foo@bar.com"');
    expect(page).toContain(`"nonce": "${q.get('nonce')}"`);
    expect(page).toContain('"email_verified": true');
    expect(page).toMatch(/Introspection of the access token[\s\S]*"active": true/);
    expect(page).toContain(`POST ${oidc!.internalUrl}oauth2/token`);
    expect(page).not.toContain('alert-error');
    expect(page).toContain('id="refresh"');
    expect(page).toContain('id="logout"');

    // Every back-channel call went to the internal host, with the client's secret on the token call.
    const internalHost = new URL(oidc!.internalUrl).host;
    expect(oidc!.requests.every((r) => r.host === internalHost)).toBe(true);
    const tokenCall = oidc!.requests.find((r) => r.path === '/oauth2/token')!;
    // client_secret_basic, form-encoded as RFC 6749 §2.3.1 asks (openid-client escapes even '-').
    expect(basic(tokenCall.authorization)).toEqual([CLIENT_ID, CLIENT_SECRET]);
    expect(new URLSearchParams(tokenCall.body).get('grant_type')).toBe('authorization_code');
    expect(oidc!.requests.map((r) => r.path)).toContain('/.well-known/jwks.json');
    expect(app.hydra.calls.some((c) => c.path === '/admin/oauth2/introspect')).toBe(true);

    // Tokens are on the page for the person, never in the log.
    const accessToken = /"access_token": "([^"]+)"/.exec(page)![1]!;
    const refreshToken = /"refresh_token": "([^"]+)"/.exec(page)![1]!;
    const idToken = /"id_token": "([^"]+)"/.exec(page)![1]!;
    const logged = logs.join('\n');
    expect(logged).toContain('/demo/callback');
    for (const secret of [accessToken, refreshToken, idToken, code, CLIENT_SECRET]) expect(logged).not.toContain(secret);

    // Refresh: a new access token, the previous refresh token spent.
    const csrf = formFields(res.text).csrf;
    const refreshed = await agent.post('/demo/refresh').type('form').send({ _csrf: csrf });
    expect(refreshed.status, text(refreshed.text)).toBe(200);
    const refreshedPage = text(refreshed.text);
    expect(refreshedPage).toContain('Tokens refreshed');
    expect(refreshedPage).toMatch(/Introspection of the new access token[\s\S]*"active": true/);
    expect(refreshedPage).toMatch(/Introspection of the previous refresh token[\s\S]*"active": false/);
    expect(refreshedPage).not.toContain(`"access_token": "${accessToken}"`);

    // RP-initiated logout: to Hydra's end-session endpoint with the ID token as the hint.
    const out = await agent.post('/demo/logout').type('form').send({ _csrf: csrf });
    expect(out.status).toBe(303);
    const endSession = new URL(out.headers.location!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(`${oidc!.publicUrl}oauth2/sessions/logout`);
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe('http://localhost:3000/demo/logged-out');
    const forged = await agent.get('/demo/logged-out?state=forged');
    expect(forged.status).toBe(400);
    expect((await agent.get('/demo')).text).toContain('id="logout"');
    const back = await agent.get(`/demo/logged-out?state=${endSession.searchParams.get('state')}`);
    expect(back.status).toBe(200);
    expect(back.text).toContain('Logged out');
    expect((await agent.get('/demo')).text).not.toContain('id="logout"');
  });

  it('says why when the code exchange fails (a spent code)', async () => {
    const { app } = await demoApp();
    const { agent, location } = await start(app);
    const res = await agent.get(`/demo/callback?code=ory_ac_unknown&state=${location!.searchParams.get('state')}`);
    expect(res.status).toBe(502);
    const page = text(res.text);
    expect(page).toContain('invalid_grant');
    expect(page).toContain('The code or refresh token is no longer valid');
    expect(page).not.toMatch(/at \S+ \(|node_modules/);
  });
});

describe('refresh and logout need tokens first', () => {
  it('explains instead of failing', async () => {
    const { app } = await demoApp();
    const agent = request.agent(app.app);
    const { csrf } = formFields((await agent.get('/demo')).text);
    const refresh = await agent.post('/demo/refresh').type('form').send({ _csrf: csrf });
    expect(refresh.status).toBe(400);
    expect(refresh.text).toContain('Sign in with the offline_access scope first');
    const logout = await agent.post('/demo/logout').type('form').send({ _csrf: csrf });
    expect(logout.status).toBe(400);
    expect(logout.text).toContain('RP-initiated logout sends the ID token as id_token_hint');
  });
});

describe('client credentials', () => {
  it('gets a token for the machine-to-machine client and introspects it', async () => {
    const { app } = await demoApp();
    const agent = request.agent(app.app);
    const { csrf } = formFields((await agent.get('/demo')).text);
    const res = await agent.post('/demo/client-credentials').type('form').send({ _csrf: csrf, scope: 'demo.read' });
    expect(res.status, text(res.text)).toBe(200);
    const page = text(res.text);
    expect(page).toContain('grant_type=client_credentials, scope=demo.read');
    expect(page).toMatch(/Introspection of the machine-to-machine access token[\s\S]*"active": true[\s\S]*"sub": "demo-m2m"/);
    const call = oidc!.requests.find((r) => r.path === '/oauth2/token')!;
    expect(basic(call.authorization)).toEqual([M2M_ID, M2M_SECRET]);
  });
});

describe('under a base path', () => {
  it('mounts at BASE_URL/demo and registers the redirect URI there', async () => {
    const { app } = await demoApp({ BASE_URL: 'http://localhost:3000/auth' });
    const page = await request(app.app).get('/auth/demo');
    expect(page.status).toBe(200);
    expect(page.text).toContain('action="/auth/demo/start"');
    expect(page.text).toContain('http://localhost:3000/auth/demo/callback');
    expect((await request(app.app).get('/demo')).status).toBe(404);
    const agent = request.agent(app.app);
    const fresh = await agent.get('/auth/demo');
    const res = await agent.post('/auth/demo/start').type('form').send({ _csrf: formFields(fresh.text).csrf, scope: 'openid' });
    expect(res.status).toBe(303);
    expect(new URL(res.headers.location!).searchParams.get('redirect_uri')).toBe('http://localhost:3000/auth/demo/callback');
  });
});
