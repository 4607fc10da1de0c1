// The signed-in account area (/account) through createApp: the real SQL store on a temporary
// SQLite file, the fake Hydra admin API (test/support/fake-hydra.ts) and a fake of Hydra's
// public OIDC API (./support.ts) for openid-client. Sign-in against a real Hydra, with Chromium,
// is test/e2e/account.test.ts.
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { accountClient, keepAccountClientRegistered, registerAccountClient } from '../../src/account/client.js';
import { connectedApplications } from '../../src/account/pages.js';
import { loadConfig } from '../../src/config.js';
import { createHydraAdmin } from '../../src/hydra/client.js';
import type { BoundedMemoryStore } from '../../src/http/session.js';
import { startFakeHydra, type FakeHydra } from '../support/fake-hydra.js';
import { formFields } from '../support/test-app.js';
import { accountApp, BASE_URL, csrfOf, PASSWORD, setCookie, signIn, test as by, type AccountApp } from './support.js';

let t: AccountApp | undefined;
let extraHydra: FakeHydra | undefined;
afterEach(async () => {
  await t?.close();
  await extraHydra?.close();
  t = undefined;
  extraHydra = undefined;
});

const NEW_PASSWORD = 'a brand new passphrase for tests';

async function withUser(app: AccountApp, email = 'alice@example.com') {
  return app.store.create({ email, password: PASSWORD, profile: { name: 'Alice Example', given_name: 'Alice' } }, by);
}

describe('configuration', () => {
  const env = { HYDRA_ADMIN_URL: 'http://127.0.0.1:4445' };

  it('is on when HYDRA_PUBLIC_URL is set, with the client id account and a secret derived from SESSION_SECRET', () => {
    const a = loadConfig({ ...env, HYDRA_PUBLIC_URL: 'http://localhost:4444/', SESSION_SECRET: 'x'.repeat(32) }).config;
    const b = loadConfig({ ...env, HYDRA_PUBLIC_URL: 'http://localhost:4444/', SESSION_SECRET: 'x'.repeat(32) }).config;
    const c = loadConfig({ ...env, HYDRA_PUBLIC_URL: 'http://localhost:4444/', SESSION_SECRET: 'y'.repeat(32) }).config;
    expect(a.account).toMatchObject({ clientId: 'account', registerClient: true });
    expect(a.account!.clientSecret).toBe(b.account!.clientSecret);
    expect(a.account!.clientSecret).not.toBe(c.account!.clientSecret);
    expect(a.account!.clientSecret).not.toContain('x'.repeat(8));
  });

  it('is off without HYDRA_PUBLIC_URL, or with ACCOUNT_ENABLED=false', () => {
    expect(loadConfig(env).config.account).toBeUndefined();
    expect(loadConfig({ ...env, HYDRA_PUBLIC_URL: 'http://localhost:4444/', ACCOUNT_ENABLED: 'false' }).config.account).toBeUndefined();
  });

  it('names each problem: ACCOUNT_ENABLED without Hydra, no registration without a secret, SMTP without MAIL_FROM, a bad SMTP_URL', () => {
    expect(() => loadConfig({ ...env, ACCOUNT_ENABLED: 'true' })).toThrow(/HYDRA_PUBLIC_URL is required when ACCOUNT_ENABLED=true/);
    expect(() => loadConfig({ ...env, HYDRA_PUBLIC_URL: 'http://h/', ACCOUNT_CLIENT_REGISTER: 'false' })).toThrow(/ACCOUNT_CLIENT_SECRET is required/);
    expect(() => loadConfig({ ...env, SMTP_URL: 'smtp://127.0.0.1:25' })).toThrow(/MAIL_FROM is required/);
    expect(() => loadConfig({ ...env, SMTP_URL: 'http://mail', MAIL_FROM: 'a@b.c' })).toThrow(/SMTP_URL must be an smtp/);
    const config = loadConfig({ ...env, HYDRA_PUBLIC_URL: 'http://h/', ACCOUNT_CLIENT_REGISTER: 'false', ACCOUNT_CLIENT_SECRET: 's3cret-s3cret', ACCOUNT_CLIENT_ID: 'me' }).config;
    expect(config.account).toEqual({ clientId: 'me', clientSecret: 's3cret-s3cret', registerClient: false, reauthAfter: 900 });
  });
});

describe('client registration (start-up, through the admin API)', () => {
  for (const apiVersion of ['v2', 'v1'] as const) {
    it(`creates the first-party client, then updates it in place (idempotent) [${apiVersion}]`, async () => {
      extraHydra = await startFakeHydra({ apiVersion });
      const { config } = loadConfig({ HYDRA_ADMIN_URL: extraHydra.url, HYDRA_API_VERSION: apiVersion, HYDRA_PUBLIC_URL: 'http://localhost:4444/', BASE_URL: 'https://login.example.com/auth', SESSION_SECRET: 'z'.repeat(32) });
      const hydra = createHydraAdmin({ baseUrl: extraHydra.url, apiVersion, timeoutMs: 2000 });
      expect(await registerAccountClient(hydra, config)).toBe('created');
      expect(await registerAccountClient(hydra, config)).toBe('updated');
      expect(extraHydra.state.clients.size).toBe(1);
      const stored = extraHydra.state.clients.get('account')!;
      expect(stored).toMatchObject({
        client_secret: config.account!.clientSecret,
        redirect_uris: ['https://login.example.com/auth/account/callback'],
        post_logout_redirect_uris: ['https://login.example.com/auth/account/signed-out'],
        grant_types: ['authorization_code'],
        scope: 'openid',
        token_endpoint_auth_method: 'client_secret_basic',
      });
      // skip_consent is a v2 field: v1 would refuse the body, so the client drops it there.
      const bodies = extraHydra.calls.filter((c) => c.method === 'POST' || c.method === 'PUT').map((c) => c.body as Record<string, unknown>);
      for (const body of bodies) expect('skip_consent' in body).toBe(apiVersion === 'v2');
      expect(accountClient(config).skip_consent).toBe(true);
    });
  }

  it('does not stop start-up when Hydra is away: one warning, retries in the background', async () => {
    const { config } = loadConfig({ HYDRA_ADMIN_URL: 'http://127.0.0.1:9', HYDRA_PUBLIC_URL: 'http://localhost:4444/', HYDRA_TIMEOUT_MS: '500' });
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const hydra = createHydraAdmin({ baseUrl: config.hydra.adminUrl, apiVersion: 'v2', timeoutMs: 500 });
    await expect(keepAccountClientRegistered(hydra, config, logger)).resolves.toBeUndefined();
    expect(lines.join('')).toContain('retrying in the background');
  });
});

describe('signing in through Hydra', () => {
  it('sends an anonymous visitor to Hydra with PKCE, state and nonce, and stores nothing server-side', async () => {
    t = await accountApp();
    const res = await request(t.app).get('/account/applications');
    expect(res.status).toBe(303);
    const url = new URL(res.headers.location!);
    expect(url.origin + url.pathname).toBe(`${t.oidc!.publicUrl}oauth2/auth`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: 'account',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${BASE_URL}/account/callback`,
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('nonce')).toBeTruthy();
    // The sign-in in flight is an encrypted cookie: no session, nothing in the store.
    const flow = setCookie(res, 'hlc_account_signin')!;
    expect(flow).toMatch(/HttpOnly/i);
    expect(flow).toMatch(/SameSite=Lax/i);
    expect(flow).toMatch(/Path=\/account/);
    expect(flow).not.toContain(url.searchParams.get('state')!);
    expect(setCookie(res, 'hlc_account')).toBeUndefined();
    expect((t.deps.sessionStore as BoundedMemoryStore).size).toBe(0);
  });

  it('lands on the page it started from, with a new session id (a planted one is not kept)', async () => {
    t = await accountApp();
    await withUser(t);
    const agent = request.agent(t.app);
    // A session id someone planted: signing in must not adopt it.
    agent.jar.setCookie('hlc_account=s%3Aplanted.sig; Path=/', 'localhost');
    const start = await agent.get('/account/applications');
    const q = new URL(start.headers.location!).searchParams;
    const code = t.oidc!.issueCode({ subject: (await t.store.getByEmail('alice@example.com'))!.subject, nonce: q.get('nonce')!, codeChallenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')!, clientId: 'account' });
    const back = await agent.get(`/account/callback?code=${code}&state=${q.get('state')}`);
    expect(back.status).toBe(303);
    expect(back.headers.location).toBe('/account/applications');
    const session = setCookie(back, 'hlc_account')!;
    expect(session).not.toContain('planted');
    // Its own cookie: an admin or demo session (hlc_session) in the same browser is not touched.
    expect(setCookie(back, 'hlc_session')).toBeUndefined();
    expect(session).toMatch(/HttpOnly/i);
    // The flow cookie is single use: cleared.
    expect(setCookie(back, 'hlc_account_signin')).toMatch(/Expires=Thu, 01 Jan 1970/);
    // The token endpoint saw client_secret_basic with the configured secret and the PKCE verifier.
    const exchange = t.oidc!.tokenRequests.at(-1)!;
    expect(exchange.clientId).toBe('account');
    expect(exchange.secret).toBe(t.deps.config.account!.clientSecret);
    expect(exchange.form.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const profile = await agent.get('/account');
    expect(profile.status).toBe(200);
    expect(profile.text).toContain('alice@example.com');
    expect(profile.text).toContain('value="Alice Example"');
  });

  it('refuses a callback with another state, without the flow cookie, or a replay; explains Hydra errors', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const agent = request.agent(t.app);
    const start = await agent.get('/account');
    const q = new URL(start.headers.location!).searchParams;
    const code = t.oidc!.issueCode({ subject: user.subject, nonce: q.get('nonce')!, codeChallenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')!, clientId: 'account' });
    const forged = await agent.get(`/account/callback?code=${code}&state=not-the-state`);
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('does not belong to the sign-in started in this browser');
    // The forged answer used the flow up: the right state now finds nothing either.
    const replay = await agent.get(`/account/callback?code=${code}&state=${q.get('state')}`);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('not started in this browser');
    const stranger = await request(t.app).get(`/account/callback?code=${code}&state=${q.get('state')}`);
    expect(stranger.status).toBe(400);
    const denied = await request(t.app).get('/account/callback?error=access_denied&error_description=The+resource+owner+denied+the+request.');
    expect(denied.status).toBe(400);
    expect(denied.text).toContain('You chose not to sign in');
    expect(denied.text).toContain('The resource owner denied the request.');
    expect(denied.text).not.toMatch(/at \w+ \(/); // no stack
  });

  it('refuses a subject the database does not have, or a disabled account (403), and makes no session', async () => {
    t = await accountApp();
    const user = await withUser(t);
    await t.store.setDisabled(user.id, true, by);
    for (const subject of ['nobody-here', user.subject]) {
      const agent = request.agent(t.app);
      const start = await agent.get('/account');
      const q = new URL(start.headers.location!).searchParams;
      const code = t.oidc!.issueCode({ subject, nonce: q.get('nonce')!, codeChallenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')!, clientId: 'account' });
      const back = await agent.get(`/account/callback?code=${code}&state=${q.get('state')}`);
      expect(back.status).toBe(403);
      expect(setCookie(back, 'hlc_account')).toBeUndefined();
    }
  });

  it('answers 502 in words when Hydra\'s discovery cannot be reached', async () => {
    t = await accountApp({ oidc: false, env: { HYDRA_PUBLIC_URL: 'http://127.0.0.1:9/', HYDRA_TIMEOUT_MS: '1000' } });
    const res = await request(t.app).get('/account').set('Accept', 'text/html');
    expect(res.status).toBe(502);
    expect(res.text).toContain('The sign-in service could not be reached');
  });

  it('has no signed-in area with ACCOUNT_ENABLED=false (404), while set-password links still work', async () => {
    t = await accountApp({ env: { ACCOUNT_ENABLED: 'false' } });
    expect((await request(t.app).get('/account')).status).toBe(404);
    expect((await request(t.app).get('/account/login')).status).toBe(404);
    expect((await request(t.app).get('/account/set-password?token=x')).status).toBe(410);
  });
});

describe('signed in', () => {
  it('keeps CSRF bound to the session: a token from another session, or none, is refused', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    const { agent: other } = await signIn(t, user.subject);
    const othersToken = await csrfOf(other, '/account');
    const without = await agent.post('/account/profile').type('form').send({ name: 'Mallory' });
    expect(without.status).toBe(403);
    const foreign = await agent.post('/account/profile').type('form').send({ _csrf: othersToken, name: 'Mallory' });
    expect(foreign.status).toBe(403);
    expect((await t.store.get(user.id))!.profile.name).toBe('Alice Example');
  });

  it('edits the name claims (an emptied field removes the claim), audited as the person', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    const csrf = await csrfOf(agent, '/account');
    const saved = await agent.post('/account/profile').type('form').send({ _csrf: csrf, name: 'Alice B. Example', given_name: '', family_name: 'Example', nickname: 'Ali' });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe('/account?done=profile');
    const account = (await t.store.get(user.id))!;
    expect(account.profile).toMatchObject({ name: 'Alice B. Example', family_name: 'Example', nickname: 'Ali' });
    expect(account.profile.given_name).toBeUndefined();
    const trail = await t.store.auditTrail(user.id);
    expect(trail.items[0]).toMatchObject({ action: 'account.updated', actor: 'user' });
    const page = await agent.get('/account?done=profile');
    expect(page.text).toContain('Your profile was saved.');
    const tooLong = await agent.post('/account/profile').type('form').send({ _csrf: formFields(page.text).csrf, name: 'x'.repeat(2000) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.text).toContain('longer than 1024');
  });

  it('changes the password: current one required, policy checked; other sessions end, this one stays, Hydra login sessions revoked', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    const { agent: otherBrowser } = await signIn(t, user.subject);
    const post = async (fields: Record<string, string>) =>
      agent.post('/account/password').type('form').send({ _csrf: await csrfOf(agent, '/account/password'), ...fields });

    const wrong = await post({ current_password: 'not it at all', new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Your current password is not right.');
    const mismatch = await post({ current_password: PASSWORD, new_password: NEW_PASSWORD, confirm_password: 'something else' });
    expect(mismatch.status).toBe(400);
    const common = await post({ current_password: PASSWORD, new_password: 'password123', confirm_password: 'password123' });
    expect(common.status).toBe(400);
    expect(common.text).toContain('too common');
    expect(t.hydra.state.loginSessionsRevoked).toEqual([]);

    const changed = await post({ current_password: PASSWORD, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    expect(changed.status).toBe(303);
    expect(changed.headers.location).toBe('/account/password?done=password');
    expect(await t.store.verifyCredentials('alice@example.com', PASSWORD)).toBeUndefined();
    expect(await t.store.verifyCredentials('alice@example.com', NEW_PASSWORD)).toBeDefined();
    expect(t.hydra.state.loginSessionsRevoked).toEqual([user.subject]);
    // This browser stays; the other one's session is over at its next request.
    expect((await agent.get('/account')).status).toBe(200);
    const ended = await otherBrowser.get('/account');
    expect(ended.status).toBe(401);
    expect(ended.text).toContain('Your session has ended');
    expect((await otherBrowser.get('/account')).status).toBe(303); // signed out: a new sign-in starts
    const actions = (await t.store.auditTrail(user.id)).items.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['password.change_failed', 'password.changed', 'sessions.revoked']));
  });

  it('rate-limits wrong current passwords per person', async () => {
    t = await accountApp({ env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '2', LOGIN_RATE_LIMIT_PER_IP: '100' } });
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await agent.post('/account/password').type('form').send({ _csrf: await csrfOf(agent, '/account/password'), current_password: `wrong ${i}`, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers['retry-after']).toMatch(/^\d+$/);
        expect(res.text).toContain('Too many wrong passwords');
      }
    }
    expect(statuses).toEqual([401, 401, 429]);
  });

  it('ends the session when an admin disables the account or sets a new password', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    await t.store.setDisabled(user.id, true, { actor: 'admin' });
    expect((await agent.get('/account')).status).toBe(401);
    await t.store.setDisabled(user.id, false, { actor: 'admin' });
    const { agent: again } = await signIn(t, user.subject);
    expect((await again.get('/account')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await t.store.setPassword(user.id, NEW_PASSWORD, { actor: 'admin' });
    expect((await again.get('/account')).status).toBe(401);
  });

  it('lists connected applications from Hydra, one per client, without itself; logos only http(s), everything escaped', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const consent = (client: Record<string, unknown>, grant: string[], at: string) =>
      t!.hydra.addConsentSession(user.subject, { grant_scope: grant, handled_at: at, remember: true, consent_request: { challenge: `c-${Math.random()}`, client, subject: user.subject } as never });
    consent({ client_id: 'crm', client_name: 'CRM <script>alert(1)</script>', logo_uri: 'https://crm.example.com/logo.png' }, ['openid', 'email'], '2026-01-02T03:04:05Z');
    consent({ client_id: 'crm', client_name: 'CRM <script>alert(1)</script>' }, ['profile'], '2026-02-02T03:04:05Z');
    consent({ client_id: 'evil', client_name: 'Evil', logo_uri: 'javascript:alert(1)' }, ['openid'], '2026-01-01T00:00:00Z');
    consent({ client_id: 'account', client_name: 'Your account' }, ['openid'], '2026-01-01T00:00:00Z');
    const { agent } = await signIn(t, user.subject);
    const page = await agent.get('/account/applications');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('CRM &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).toContain('src="https://crm.example.com/logo.png"');
    expect(page.text).not.toContain('javascript:');
    expect(page.text).not.toContain('data-client="account"');
    expect(page.text).toContain('2026-02-02 03:04 UTC');
    expect(page.text).toContain('See your email address');
    // The nav's sign-out form ends at Hydra: its origin is allowed as a form target.
    expect(page.headers['content-security-policy']).toMatch(/form-action 'self' http:\/\/localhost:\d+/);

    const apps = connectedApplications(t.hydra.state.consentSessions.get(user.subject)!, 'account');
    expect(apps.map((a) => [a.id, a.scopes.map((s) => s.name)])).toEqual([
      ['crm', ['openid', 'email', 'profile']],
      ['evil', ['openid']],
    ]);

    const revoke = await agent.post('/account/applications/revoke').type('form').send({ _csrf: formFields(page.text).csrf, client: 'crm' });
    expect(revoke.status).toBe(303);
    const revokeCall = t.hydra.calls.find((c) => c.method === 'DELETE' && c.path.endsWith('/oauth2/auth/sessions/consent'));
    expect(revokeCall?.query).toEqual({ subject: user.subject, client: 'crm' });
    const after = await agent.get('/account/applications?done=revoked');
    expect(after.text).not.toContain('data-client="crm"');
    expect(after.text).toContain('The application was disconnected');
    const all = await agent.post('/account/applications/revoke-all').type('form').send({ _csrf: formFields(after.text).csrf });
    expect(all.status).toBe(303);
    expect(t.hydra.state.consentSessions.get(user.subject)).toBeUndefined();
    expect((await agent.get('/account/applications')).text).toContain('No application is connected');
    expect((await t.store.auditTrail(user.id)).items.filter((e) => e.action === 'consent.revoked').map((e) => e.detail)).toEqual(['all', 'crm']);
  });

  it('"sign out everywhere" revokes Hydra\'s login sessions and ends every /account session, this one too', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    const { agent: other } = await signIn(t, user.subject);
    const page = await agent.get('/account/sessions');
    expect(page.status).toBe(200);
    const res = await agent.post('/account/sessions/revoke').type('form').send({ _csrf: formFields(page.text).csrf });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account/signed-out?reason=everywhere');
    expect(t.hydra.state.loginSessionsRevoked).toEqual([user.subject]);
    expect((await agent.get('/account')).status).toBe(303); // no session any more: sign-in starts
    expect((await other.get('/account')).status).toBe(401);
    // A fresh sign-in after that works again.
    const { agent: later } = await signIn(t, user.subject);
    expect((await later.get('/account/sessions')).status).toBe(200);
  });

  it('shows recent sign-ins from the audit trail', async () => {
    t = await accountApp();
    const user = await withUser(t);
    await t.store.verifyCredentials('alice@example.com', 'wrong', { ip: '198.51.100.7' });
    await t.store.verifyCredentials('alice@example.com', PASSWORD, { ip: '198.51.100.8' });
    const { agent } = await signIn(t, user.subject);
    const page = await agent.get('/account/sessions');
    expect(page.text).toContain('198.51.100.7');
    expect(page.text).toContain('198.51.100.8');
  });

  it('signs out: destroys the session, then RP-initiated logout at Hydra with id_token_hint', async () => {
    t = await accountApp();
    const user = await withUser(t);
    const { agent } = await signIn(t, user.subject);
    const csrf = await csrfOf(agent, '/account');
    const res = await agent.post('/account/logout').type('form').send({ _csrf: csrf });
    expect(res.status).toBe(303);
    const url = new URL(res.headers.location!);
    expect(url.origin + url.pathname).toBe(`${t.oidc!.publicUrl}oauth2/sessions/logout`);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(`${BASE_URL}/account/signed-out`);
    expect(url.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(setCookie(res, 'hlc_account')).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await t.deps.sessionStore as BoundedMemoryStore).size).toBe(0);
    expect((await agent.get('/account')).status).toBe(303);
    const out = await request(t.app).get('/account/signed-out');
    expect(out.status).toBe(200);
    expect(out.text).toContain('You are signed out');
  });
});

describe('the first-party client in the flows', () => {
  for (const apiVersion of ['v1', 'v2'] as const) {
    it(`gets no consent screen and no logout question, also on Hydra ${apiVersion} (no skip_consent there)`, async () => {
      t = await accountApp({ hydra: { apiVersion } });
      const client = { client_id: 'account', client_name: 'Your account', redirect_uris: [`${BASE_URL}/account/callback`] };
      const consent = t.hydra.addConsentRequest({ client: client as never, requested_scope: ['openid'], subject: 'someone' });
      const res = await request(t.app).get(`/consent?consent_challenge=${consent}`);
      expect(res.status).toBe(302);
      expect(t.hydra.accepted.consent[0]!.body.grant_scope).toEqual(['openid']);
      const logout = t.hydra.addLogoutRequest({ rp_initiated: true, client: client as never });
      const out = await request(t.app).get(`/logout?logout_challenge=${logout}`);
      expect(out.status).toBe(302);
      expect(t.hydra.accepted.logout).toHaveLength(1);
    });
  }
});
