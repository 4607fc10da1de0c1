import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { startStack, type Stack } from './support/app.js';
import { describeEachHydra, hydraTargets } from './support/hydra.js';
import { createHydraClient, cspSources, DEMO_USER, describeLanding, introspectAtHydra, type Landing, type TestClient } from './support/oauth.js';

/**
 * The flows against each real Hydra (v2.3.0 and v1.11.10, the specification's own), at the HTTP
 * level: a cookie-jar user agent follows every redirect between Hydra and our pages and presses
 * our buttons as a browser would.
 */

const targets = hydraTargets('e2e flows (real Hydra)');

const LOGIN_TEXT = 'Please log in';
const CONSENT_TEXT = 'An application requests access to your data!';
/** Claims that legitimately differ between two ID tokens of one user. */
const VOLATILE = ['iat', 'exp', 'jti', 'nonce', 'at_hash', 'c_hash', 'auth_time', 'rat', 'sid'];

function stable(claims: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims ?? {}).filter(([key]) => !VOLATILE.includes(key)));
}

function withoutAmr(claims: Record<string, unknown> | undefined): Record<string, unknown> {
  const { amr: _amr, ...rest } = stable(claims);
  return rest;
}

function expectLanding(landing: Landing, kind: Landing['kind']): void {
  expect(landing.kind, describeLanding(landing)).toBe(kind);
}

describeEachHydra(targets, 'flows against a real Hydra (HTTP level)', (target) => {
  let stack: Stack;
  // Hydra remembers consent per subject and client, so every test gets its own client.
  let client: TestClient;

  beforeAll(async () => {
    stack = await startStack({ hydra: target });
  });
  beforeEach(async (context) => {
    client = await createHydraClient(stack.hydra, { client_name: `e2e ${context.task.name}`.slice(0, 100) });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('authorization code + PKCE: login → consent → code → tokens; ID token and introspection', async () => {
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid email' });
    expectLanding(auth.landing, 'login');
    expect(auth.landing.status).toBe(200);
    expect(auth.landing.html).toContain(LOGIN_TEXT);
    expect(d.challengeOf(auth.landing)).toBe(auth.landing.url.searchParams.get('login_challenge'));
    expect(d.csrfOf(auth.landing)).toBeTruthy();

    const consent = await d.login(auth.landing);
    expectLanding(consent, 'consent');
    expect(consent.status).toBe(200);
    expect(consent.html).toContain(CONSENT_TEXT);
    expect([...d.offeredScopes(consent).keys()]).toEqual(['openid', 'email']);

    const callback = await d.consent(consent);
    expectLanding(callback, 'callback');
    expect(callback.url.href.startsWith(client.redirect_uri)).toBe(true);
    expect(callback.params.get('state')).toBe(auth.state);
    expect(callback.params.get('error')).toBeNull();

    const tokens = await d.exchangeCode(client, callback, auth.codeVerifier);
    expect(tokens.scope.split(' ').sort()).toEqual(['email', 'openid']);
    expect(tokens.claims).toMatchObject({
      iss: stack.hydra.publicUrl,
      sub: DEMO_USER.email,
      email: DEMO_USER.email,
      nonce: auth.nonce,
    });
    expect(tokens.claims?.aud).toContain(client.client_id);

    const info = await introspectAtHydra(stack.hydra, tokens.access_token);
    expect(info).toMatchObject({ active: true, sub: DEMO_USER.email, client_id: client.client_id, token_use: 'access_token' });
    expect(info.scope?.split(' ').sort()).toEqual(['email', 'openid']);
  });

  it('without the email scope the ID token has no email claim', async () => {
    const { tokens } = await stack.driver().authorizeAndExchange({ client, scope: 'openid' });
    expect(tokens.claims?.sub).toBe(DEMO_USER.email);
    expect(tokens.claims).not.toHaveProperty('email');
  });

  it('remember me: a second authorization skips the login screen', async () => {
    const d = stack.driver();
    const first = await d.authorizeAndExchange({ client, scope: 'openid', rememberLogin: true });
    expect(first.screens).toEqual(['login', 'consent']);

    const second = await d.startAuthorization({ client, scope: 'openid' });
    expectLanding(second.landing, 'consent');
    const callback = await d.consent(second.landing);
    const tokens = await d.exchangeCode(client, callback, second.codeVerifier);
    expect(tokens.claims?.sub).toBe(DEMO_USER.email);

    // Without "remember me" the next authorization asks again.
    const other = stack.driver();
    await other.authorizeAndExchange({ client, scope: 'openid', rememberLogin: false });
    expectLanding((await other.startAuthorization({ client, scope: 'openid' })).landing, 'login');
  });

  it('remembered consent: the consent screen is skipped and the ID token carries the same claims', async () => {
    const first = await stack.driver().authorizeAndExchange({ client, scope: 'openid email', rememberConsent: true });
    expect(first.screens).toEqual(['login', 'consent']);

    // Another browser, same person: login again, consent is skipped.
    const second = await stack.driver().authorizeAndExchange({ client, scope: 'openid email' });
    expect(second.screens).toEqual(['login']);
    expect(second.tokens.scope.split(' ').sort()).toEqual(['email', 'openid']);
    expect(second.tokens.claims?.email).toBe(DEMO_USER.email);
    expect(stable(second.tokens.claims)).toEqual(stable(first.tokens.claims));
    expect(second.tokens.claims?.nonce).toBe(second.authorization.nonce);
  });

  it('remembered login and consent: no screen at all, same identity claims', async () => {
    const d = stack.driver();
    const first = await d.authorizeAndExchange({ client, scope: 'openid email', rememberLogin: true, rememberConsent: true });
    const second = await d.authorizeAndExchange({ client, scope: 'openid email' });
    expect(second.screens).toEqual([]);
    // amr is left out: a skipped login is accepted with the subject only, so Hydra issues no amr.
    expect(withoutAmr(second.tokens.claims)).toEqual(withoutAmr(first.tokens.claims));
  });

  it('deny at login reaches the callback with error=access_denied', async () => {
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid' });
    const callback = await d.login(auth.landing, { action: 'reject' });
    expectLanding(callback, 'callback');
    expect(callback.params.get('error')).toBe('access_denied');
    expect(callback.params.get('state')).toBe(auth.state);
    expect(callback.params.get('code')).toBeNull();
  });

  it('deny at consent reaches the callback with error=access_denied', async () => {
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid' });
    const consent = await d.login(auth.landing);
    const callback = await d.consent(consent, { action: 'reject' });
    expectLanding(callback, 'callback');
    expect(callback.params.get('error')).toBe('access_denied');
    expect(callback.params.get('state')).toBe(auth.state);
  });

  it('a wrong password re-renders the login page and the flow can still finish', async () => {
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid' });
    const again = await d.login(auth.landing, { password: 'wrong-password' });
    expectLanding(again, 'login');
    expect(again.status).toBe(401);
    expect(again.html).toContain(LOGIN_TEXT);
    const consent = await d.login(again);
    expectLanding(consent, 'consent');
  });

  it('prompt=login shows the login screen despite a session', async () => {
    const d = stack.driver();
    await d.authorizeAndExchange({ client, scope: 'openid', rememberLogin: true });
    const forced = await d.startAuthorization({ client, scope: 'openid', prompt: 'login' });
    expectLanding(forced.landing, 'login');
    expect(forced.landing.html).toContain(LOGIN_TEXT);
    // The session is still there for a normal request.
    expectLanding((await d.startAuthorization({ client, scope: 'openid' })).landing, 'consent');
  });

  it('prompt=none with a session completes with no screen; without one Hydra answers login_required', async () => {
    const d = stack.driver();
    const first = await d.authorizeAndExchange({ client, scope: 'openid email', rememberLogin: true, rememberConsent: true });
    const silent = await d.startAuthorization({ client, scope: 'openid email', prompt: 'none' });
    expectLanding(silent.landing, 'callback');
    expect(silent.landing.params.get('error')).toBeNull();
    expect(silent.landing.trail.some((hop) => hop.includes(`${stack.app.baseUrl}/login`))).toBe(true);
    const tokens = await d.exchangeCode(client, silent.landing, silent.codeVerifier);
    expect(withoutAmr(tokens.claims)).toEqual(withoutAmr(first.tokens.claims));

    const anonymous = await stack.driver().startAuthorization({ client, scope: 'openid', prompt: 'none' });
    expectLanding(anonymous.landing, 'callback');
    expect(anonymous.landing.params.get('error')).toBe('login_required');
  });

  it('partial consent: granting a subset of scopes yields exactly that subset', async () => {
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid email profile' });
    const consent = await d.login(auth.landing);
    expect([...d.offeredScopes(consent).keys()]).toEqual(['openid', 'email', 'profile']);
    const callback = await d.consent(consent, { grant: ['openid', 'profile'] });
    expectLanding(callback, 'callback');
    const tokens = await d.exchangeCode(client, callback, auth.codeVerifier);
    expect(tokens.scope.split(' ').sort()).toEqual(['openid', 'profile']);
    expect(tokens.claims?.sub).toBe(DEMO_USER.email);
    expect(tokens.claims).not.toHaveProperty('email');
    const info = await introspectAtHydra(stack.hydra, tokens.access_token);
    expect(info.scope?.split(' ').sort()).toEqual(['openid', 'profile']);
  });

  it('RP-initiated logout shows our page; "Yes" ends the session and lands on post_logout_redirect_uri', async () => {
    const d = stack.driver();
    const { tokens } = await d.authorizeAndExchange({ client, scope: 'openid', rememberLogin: true });
    const page = await d.startLogout({ idToken: tokens.id_token, postLogoutRedirectUri: client.post_logout_redirect_uri, state: 'bye-1' });
    expectLanding(page, 'logout');
    expect(page.status).toBe(200);
    d.formWith(page, 'accept');
    d.formWith(page, 'reject');

    const done = await d.submit(page, 'accept');
    expectLanding(done, 'callback');
    expect(done.url.href.startsWith(client.post_logout_redirect_uri)).toBe(true);
    expect(done.params.get('state')).toBe('bye-1');

    expectLanding((await d.startAuthorization({ client, scope: 'openid' })).landing, 'login');
  });

  it('logout "No" keeps the session, so the next authorization skips login', async () => {
    const d = stack.driver();
    const { tokens } = await d.authorizeAndExchange({ client, scope: 'openid', rememberLogin: true });
    const page = await d.startLogout({ idToken: tokens.id_token, postLogoutRedirectUri: client.post_logout_redirect_uri, state: 'bye-2' });
    expectLanding(page, 'logout');
    const stayed = await d.submit(page, 'reject');
    expect(stayed.kind, describeLanding(stayed)).not.toBe('callback');
    expect(stayed.status).toBe(200);
    expect(stayed.url.host).toBe(new URL(stack.app.baseUrl).host);

    expectLanding((await d.startAuthorization({ client, scope: 'openid' })).landing, 'consent');
  });

  it("each flow page's CSP form-action lets its form reach Hydra and then the client", async () => {
    // Chromium applies form-action to every redirect after a form POST (our 302 to Hydra, Hydra's
    // 302/303 to the client), so a missing origin here is a button that does nothing in a browser.
    const hydraOrigin = new URL(stack.hydra.publicUrl).origin;
    const clientOrigin = new URL(client.redirect_uri).origin;
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid' });
    expect(cspSources(auth.landing, 'form-action'), 'login').toEqual(expect.arrayContaining(["'self'", hydraOrigin, clientOrigin]));
    const consent = await d.login(auth.landing, { remember: true });
    expect(cspSources(consent, 'form-action'), 'consent').toEqual(expect.arrayContaining(["'self'", hydraOrigin, clientOrigin]));
    const tokens = await d.exchangeCode(client, await d.consent(consent), auth.codeVerifier);

    const logout = await d.startLogout({ idToken: tokens.id_token, postLogoutRedirectUri: client.post_logout_redirect_uri });
    expectLanding(logout, 'logout');
    expect(cspSources(logout, 'form-action'), 'logout (RP-initiated)').toEqual(
      expect.arrayContaining(["'self'", hydraOrigin, new URL(client.post_logout_redirect_uri).origin]),
    );
    // Hydra's own logout (no id_token_hint): "Yes" goes to Hydra, then to its post-logout fallback.
    const plain = await d.startLogout();
    expectLanding(plain, 'logout');
    expect(cspSources(plain, 'form-action'), 'logout (Hydra-initiated)').toEqual(expect.arrayContaining(["'self'", hydraOrigin]));
  });

  it('Hydra error redirects end on our error page', async () => {
    const d = stack.driver();
    const landing = await d.follow(`${stack.hydra.publicUrl}oauth2/auth?response_type=code&client_id=no-such-client&scope=openid&state=abcdefgh`);
    expectLanding(landing, 'error');
    expect(landing.status).toBeGreaterThanOrEqual(200);
    expect(landing.url.searchParams.get('error')).toBe('invalid_client');
    expect(landing.html).toContain('invalid_client');
  });

  it('a 4000-character state: the long challenge Hydra makes (v2.2+ carry the state) renders the login page and the flow completes', async () => {
    const state = randomBytes(3000).toString('base64url');
    expect(state).toHaveLength(4000);
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid', extra: { state } });
    expectLanding(auth.landing, 'login');
    expect(auth.landing.status).toBe(200);
    expect(auth.landing.html).toContain(LOGIN_TEXT);
    const challenge = auth.landing.url.searchParams.get('login_challenge') ?? '';
    // v2.3.0 makes ~5.2 kB of it (the old 4096 limit answered 400); v1 challenges are 32 hex.
    expect(challenge.length === 32 || challenge.length > 5000, `challenge of ${challenge.length} characters`).toBe(true);
    const consent = await d.login(auth.landing);
    expectLanding(consent, 'consent');
    const callback = await d.consent(consent);
    expectLanding(callback, 'callback');
    expect(callback.params.get('state')).toBe(state);
    expect(callback.params.get('error')).toBeNull();
  });
});

describeEachHydra(targets, 'Hydra stops in the middle of a flow', (target) => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ hydra: target });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('our pages answer 502 while Hydra is down and a new flow works once it is back', async () => {
    let client = await createHydraClient(stack.hydra);
    const d = stack.driver();
    const auth = await d.startAuthorization({ client, scope: 'openid' });
    expectLanding(auth.landing, 'login');

    await stack.hydra.stopProcess();
    const reload = await d.follow(auth.landing.url);
    expect(reload.status, describeLanding(reload)).toBe(502);
    expect(reload.html).not.toContain(LOGIN_TEXT);
    const submitted = await d.login(auth.landing);
    expect(submitted.status, describeLanding(submitted)).toBe(502);
    const ready = await fetch(`${stack.app.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);

    // Same ports, but DSN=memory: clients and sessions are gone, so the client is registered again.
    await stack.hydra.start();
    expect((await fetch(`${stack.app.baseUrl}/health/ready`)).status).toBe(200);
    client = await createHydraClient(stack.hydra);
    const { screens, tokens } = await stack.driver().authorizeAndExchange({ client, scope: 'openid email' });
    expect(screens).toEqual(['login', 'consent']);
    expect(tokens.claims).toMatchObject({ sub: DEMO_USER.email, email: DEMO_USER.email });
  });
});
