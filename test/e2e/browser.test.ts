import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from './support/app.js';
import type { WatchedContext } from './support/browser.js';
import { browserTargets, useBrowserSuite } from './support/browser-suite.js';
import { describeEachHydra } from './support/hydra.js';
import { authorizationRequest, DEMO_USER, logoutUrl, OAuthDriver } from './support/oauth.js';

/**
 * Our real pages in a real chromium, against a real Hydra: the flows are clicked through, each
 * page is screenshotted to artifacts/screenshots/, and our pages must cause no console error and
 * no CSP violation (the strict CSP, form-action included, is enforced by the browser only).
 */

const { targets, chromiumPath } = browserTargets('e2e browser suite');

describeEachHydra(targets, 'our pages in chromium against a real Hydra', (target) => {
  // v2's screenshots keep the names the README shows; v1's get a prefix. The client's redirect URIs are ones the browser really loads.
  const s = useBrowserSuite(target, { label: 'e2e browser', shotPrefix: '', chromiumPath, client: { client_name: 'e2e browser' } });

  it('clicks through login and consent to the callback, then logs out with "Yes"', async () => {
    const watched = await s.open();
    const { page } = watched;
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid email' });

    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await expect.poll(() => page.textContent('body')).toContain('Please log in');
    await s.shot(page, 'login');
    await page.fill('#email', DEMO_USER.email);
    await page.fill('#password', DEMO_USER.password);
    await page.check('#remember');
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);

    await expect.poll(() => page.textContent('body')).toContain('An application requests access to your data!');
    // The boxes start unticked; a click on #<scope> grants it (as in Hydra's own browser suite).
    expect(await page.isChecked('#openid')).toBe(false);
    expect(await page.isChecked('#email')).toBe(false);
    await page.click('#openid');
    await page.click('#email');
    expect(await page.isChecked('#openid')).toBe(true);
    expect(await page.isChecked('#email')).toBe(true);
    await s.shot(page, 'consent');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.callbackUrl)), page.click('#accept')]);

    const landed = new URL(page.url());
    expect(landed.searchParams.get('state')).toBe(auth.state);
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();
    const http = new OAuthDriver({ hydraPublicUrl: s.stack.hydra.publicUrl, appBaseUrl: s.stack.app.baseUrl });
    const tokens = await http.exchangeCode(s.client, code!, auth.codeVerifier);
    expect(tokens.claims).toMatchObject({ sub: DEMO_USER.email, email: DEMO_USER.email, nonce: auth.nonce });

    // Remembered: a second authorization goes straight to consent.
    await page.goto(authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' }).url.href);
    await page.waitForURL((url) => url.pathname === '/consent');

    await page.goto(logoutUrl(s.stack.hydra.publicUrl, { idToken: tokens.id_token, postLogoutRedirectUri: s.callback.postLogoutUrl, state: 'bye' }).href);
    await page.waitForURL((url) => url.pathname === '/logout');
    await expect.poll(() => page.isVisible('#reject')).toBe(true);
    await s.shot(page, 'logout');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.postLogoutUrl)), page.click('#accept')]);
    expect(new URL(page.url()).searchParams.get('state')).toBe('bye');

    // The session is over: login is asked again.
    await page.goto(authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' }).url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    s.expectNoProblems(watched);
  });

  /** Logs in (fresh profile) for `scope` and stops on the consent page. */
  async function toConsent(scope: string): Promise<{ watched: WatchedContext; auth: ReturnType<typeof authorizationRequest> }> {
    const watched = await s.open();
    const { page } = watched;
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', DEMO_USER.email);
    await page.fill('#password', DEMO_USER.password);
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);
    await expect.poll(() => page.textContent('body')).toContain('An application requests access to your data!');
    return { watched, auth };
  }

  /** Presses "Allow access" and exchanges the code the client gets. */
  async function allowAndExchange(watched: WatchedContext, auth: ReturnType<typeof authorizationRequest>) {
    const { page } = watched;
    await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.callbackUrl)), page.click('#accept')]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error'), landed.href).toBeNull();
    const http = new OAuthDriver({ hydraPublicUrl: s.stack.hydra.publicUrl, appBaseUrl: s.stack.app.baseUrl });
    return http.exchangeCode(s.client, landed.searchParams.get('code')!, auth.codeVerifier);
  }

  const boxes = (page: WatchedContext['page'], scopes: string[]) => Promise.all(scopes.map((scope) => page.isChecked(`#${scope}`)));

  it('consent, boxes unticked (the default): ticking a subset grants exactly that subset', async () => {
    const { watched, auth } = await toConsent('openid offline_access email profile');
    const { page } = watched;
    expect(await boxes(page, ['openid', 'offline_access', 'email', 'profile'])).toEqual([false, false, false, false]);
    await page.click('#openid');
    await page.click('#profile');
    const tokens = await allowAndExchange(watched, auth);
    expect(tokens.scope.split(' ').sort()).toEqual(['openid', 'profile']);
    expect(tokens.claims?.sub).toBe(DEMO_USER.email);
    expect(tokens.claims).not.toHaveProperty('email');
    expect(tokens.refresh_token).toBeUndefined();
    s.expectNoProblems(watched);
  });

  it('consent, boxes unticked (the default): "Allow access" without a click grants nothing: no ID token, no refresh token', async () => {
    const { watched, auth } = await toConsent('openid offline_access email');
    const tokens = await allowAndExchange(watched, auth);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope ?? '').toBe('');
    s.expectNoProblems(watched);
  });

  describe('with CONSENT_PRESELECT_SCOPES=true', () => {
    beforeAll(async () => {
      await s.stack.useAppEnv({ CONSENT_PRESELECT_SCOPES: 'true' });
    });
    afterAll(async () => {
      await s.stack.useAppEnv({});
    });

    it('the boxes start ticked, and "Allow access" grants every scope: ID token and refresh token', async () => {
      const { watched, auth } = await toConsent('openid offline_access email');
      expect(await boxes(watched.page, ['openid', 'offline_access', 'email'])).toEqual([true, true, true]);
      await s.shot(watched.page, 'consent-preselected');
      const tokens = await allowAndExchange(watched, auth);
      expect(tokens.scope.split(' ').sort()).toEqual(['email', 'offline_access', 'openid']);
      expect(tokens.claims).toMatchObject({ sub: DEMO_USER.email, email: DEMO_USER.email });
      expect(tokens.refresh_token).toBeTruthy();
      s.expectNoProblems(watched);
    });

    it('a click unticks: unticking two of four grants the other two', async () => {
      const { watched, auth } = await toConsent('openid offline_access email profile');
      await watched.page.click('#offline_access');
      await watched.page.click('#email');
      expect(await boxes(watched.page, ['openid', 'offline_access', 'email', 'profile'])).toEqual([true, false, false, true]);
      const tokens = await allowAndExchange(watched, auth);
      expect(tokens.scope.split(' ').sort()).toEqual(['openid', 'profile']);
      expect(tokens.claims).not.toHaveProperty('email');
      expect(tokens.refresh_token).toBeUndefined();
      s.expectNoProblems(watched);
    });

    it('unticking every box grants nothing: no ID token, no refresh token', async () => {
      const { watched, auth } = await toConsent('openid offline_access');
      await watched.page.click('#openid');
      await watched.page.click('#offline_access');
      const tokens = await allowAndExchange(watched, auth);
      expect(tokens.id_token).toBeUndefined();
      expect(tokens.refresh_token).toBeUndefined();
      s.expectNoProblems(watched);
    });
  });

  it('deny at login lands on the callback with error=access_denied', async () => {
    const watched = await s.open();
    const { page } = watched;
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.callbackUrl)), page.click('#reject')]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe(auth.state);
    s.expectNoProblems(watched);
  });

  it('deny at consent lands on the callback with error=access_denied', async () => {
    const watched = await s.open();
    const { page } = watched;
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', DEMO_USER.email);
    await page.fill('#password', DEMO_USER.password);
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.callbackUrl)), page.click('#reject')]);
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
    s.expectNoProblems(watched);
  });

  it('logout "No" keeps the session', async () => {
    const watched = await s.open();
    const { page } = watched;
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', DEMO_USER.email);
    await page.fill('#password', DEMO_USER.password);
    await page.check('#remember');
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);
    await page.click('#openid');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.callbackUrl)), page.click('#accept')]);
    const code = new URL(page.url()).searchParams.get('code')!;
    const http = new OAuthDriver({ hydraPublicUrl: s.stack.hydra.publicUrl, appBaseUrl: s.stack.app.baseUrl });
    const tokens = await http.exchangeCode(s.client, code, auth.codeVerifier);

    await page.goto(logoutUrl(s.stack.hydra.publicUrl, { idToken: tokens.id_token, postLogoutRedirectUri: s.callback.postLogoutUrl }).href);
    await page.waitForURL((url) => url.pathname === '/logout');
    await Promise.all([page.waitForLoadState('load'), page.click('#reject')]);
    expect(new URL(page.url()).origin).toBe(s.stack.app.baseUrl);
    await s.shot(page, 'logout-cancelled');

    await page.goto(authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' }).url.href);
    await page.waitForURL((url) => url.pathname === '/consent');
    s.expectNoProblems(watched);
  });

  it('a Hydra error redirect shows our error page', async () => {
    const watched = await s.open();
    const { page } = watched;
    const bad = authorizationRequest(s.stack.hydra.publicUrl, { client: { ...s.client, client_id: 'no-such-client' }, scope: 'openid' });
    await page.goto(bad.url.href);
    await page.waitForURL((url) => url.pathname === '/error');
    expect(new URL(page.url()).searchParams.get('error')).toBe('invalid_client');
    await expect.poll(() => page.textContent('body')).toContain('invalid_client');
    await s.shot(page, 'error');
    s.expectNoProblems(watched);
  });

  it('the admin console signs in with the token and lists the clients, within the CSP', async () => {
    const watched = await s.open();
    const { page } = watched;
    await page.goto(`${s.stack.app.baseUrl}/admin/clients`);
    await page.waitForURL((url) => url.pathname === '/admin/login');
    await page.fill('#token', ADMIN_TOKEN);
    await Promise.all([page.waitForURL((url) => url.pathname === '/admin/clients'), page.click('#sign-in')]);
    await expect.poll(() => page.textContent('body')).toContain('e2e browser');
    await s.shot(page, 'admin-clients');
    s.expectNoProblems(watched);
  });
});
