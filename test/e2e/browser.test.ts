import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startStack, type Stack } from './support/app.js';
import { chromiumOrSkip, launchChromium, screenshot, watchedContext, type WatchedContext } from './support/browser.js';
import { describeEachHydra, hydraTargets } from './support/hydra.js';
import {
  authorizationRequest,
  createHydraClient,
  DEMO_USER,
  logoutUrl,
  OAuthDriver,
  startCallbackServer,
  type CallbackServer,
  type TestClient,
} from './support/oauth.js';

/**
 * Our real pages in a real chromium, against a real Hydra: the flows are clicked through, each
 * page is screenshotted to artifacts/screenshots/, and our pages must cause no console error and
 * no CSP violation (the strict CSP, form-action included, is enforced by the browser only).
 */

const targets = hydraTargets('e2e browser suite');
// One skip line per suite: chromium is only looked for when a Hydra is there.
const chromiumPath = targets.every((t) => t.bin === undefined) ? undefined : chromiumOrSkip('e2e browser suite');

// Without chromium every version's suite is skipped (the line above said why).
const browserTargets = targets.map((target) => (chromiumPath === undefined ? { ...target, bin: undefined } : target));

describeEachHydra(browserTargets, 'our pages in chromium against a real Hydra', (target) => {
  let stack: Stack;
  let callback: CallbackServer;
  let client: TestClient;
  let browser: Browser;

  beforeAll(async () => {
    [stack, callback, browser] = await Promise.all([startStack({ hydra: target }), startCallbackServer(), launchChromium(chromiumPath)]);
    // A client whose redirect URIs the browser really loads.
    client = await createHydraClient(stack.hydra, {
      client_name: 'e2e browser',
      redirect_uris: [callback.callbackUrl],
      post_logout_redirect_uris: [callback.postLogoutUrl],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await callback?.close();
    await stack?.stop();
  });

  // v2's screenshots keep the names the README shows; v1's get a prefix.
  const shot = (page: Parameters<typeof screenshot>[0], name: string) => screenshot(page, target.apiVersion === 'v2' ? name : `v1-${name}`);

  let current: WatchedContext | undefined;
  /** A fresh browser profile (no cookies) for one test. */
  async function open(): Promise<WatchedContext> {
    current = await watchedContext(browser, [stack.app.baseUrl]);
    return current;
  }
  afterEach(async (context) => {
    // A step that times out hides the cause; a CSP violation or console error often is the cause.
    const failed = context.task.result?.state === 'fail';
    // Chromium reports a blocked navigation a moment after the navigation promise rejects.
    if (failed) await new Promise((resolve) => setTimeout(resolve, 500));
    const p = current?.problems;
    if (failed && p && p.consoleErrors.length + p.pageErrors.length + p.cspViolations.length > 0) {
      console.error(`[e2e browser] problems seen during "${context.task.name}":\n${JSON.stringify(p, null, 2)}`);
    }
    await current?.close();
    current = undefined;
  });

  function expectNoProblems(watched: WatchedContext): void {
    expect(watched.problems).toEqual({ consoleErrors: [], pageErrors: [], cspViolations: [] });
  }

  it('clicks through login and consent to the callback, then logs out with "Yes"', async () => {
    const watched = await open();
    const { page } = watched;
    const auth = authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid email' });

    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await expect.poll(() => page.textContent('body')).toContain('Please log in');
    await shot(page, 'login');
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
    await shot(page, 'consent');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.callbackUrl)), page.click('#accept')]);

    const landed = new URL(page.url());
    expect(landed.searchParams.get('state')).toBe(auth.state);
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();
    const http = new OAuthDriver({ hydraPublicUrl: stack.hydra.publicUrl, appBaseUrl: stack.app.baseUrl });
    const tokens = await http.exchangeCode(client, code!, auth.codeVerifier);
    expect(tokens.claims).toMatchObject({ sub: DEMO_USER.email, email: DEMO_USER.email, nonce: auth.nonce });

    // Remembered: a second authorization goes straight to consent.
    await page.goto(authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid' }).url.href);
    await page.waitForURL((url) => url.pathname === '/consent');

    await page.goto(logoutUrl(stack.hydra.publicUrl, { idToken: tokens.id_token, postLogoutRedirectUri: callback.postLogoutUrl, state: 'bye' }).href);
    await page.waitForURL((url) => url.pathname === '/logout');
    await expect.poll(() => page.isVisible('#reject')).toBe(true);
    await shot(page, 'logout');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.postLogoutUrl)), page.click('#accept')]);
    expect(new URL(page.url()).searchParams.get('state')).toBe('bye');

    // The session is over: login is asked again.
    await page.goto(authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid' }).url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    expectNoProblems(watched);
  });

  /** Logs in (fresh profile) for `scope` and stops on the consent page. */
  async function toConsent(scope: string): Promise<{ watched: WatchedContext; auth: ReturnType<typeof authorizationRequest> }> {
    const watched = await open();
    const { page } = watched;
    const auth = authorizationRequest(stack.hydra.publicUrl, { client, scope });
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
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.callbackUrl)), page.click('#accept')]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error'), landed.href).toBeNull();
    const http = new OAuthDriver({ hydraPublicUrl: stack.hydra.publicUrl, appBaseUrl: stack.app.baseUrl });
    return http.exchangeCode(client, landed.searchParams.get('code')!, auth.codeVerifier);
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
    expectNoProblems(watched);
  });

  it('consent, boxes unticked (the default): "Allow access" without a click grants nothing: no ID token, no refresh token', async () => {
    const { watched, auth } = await toConsent('openid offline_access email');
    const tokens = await allowAndExchange(watched, auth);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope ?? '').toBe('');
    expectNoProblems(watched);
  });

  describe('with CONSENT_PRESELECT_SCOPES=true', () => {
    beforeAll(async () => {
      await stack.useAppEnv({ CONSENT_PRESELECT_SCOPES: 'true' });
    });
    afterAll(async () => {
      await stack.useAppEnv({});
    });

    it('the boxes start ticked, and "Allow access" grants every scope: ID token and refresh token', async () => {
      const { watched, auth } = await toConsent('openid offline_access email');
      expect(await boxes(watched.page, ['openid', 'offline_access', 'email'])).toEqual([true, true, true]);
      await shot(watched.page, 'consent-preselected');
      const tokens = await allowAndExchange(watched, auth);
      expect(tokens.scope.split(' ').sort()).toEqual(['email', 'offline_access', 'openid']);
      expect(tokens.claims).toMatchObject({ sub: DEMO_USER.email, email: DEMO_USER.email });
      expect(tokens.refresh_token).toBeTruthy();
      expectNoProblems(watched);
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
      expectNoProblems(watched);
    });

    it('unticking every box grants nothing: no ID token, no refresh token', async () => {
      const { watched, auth } = await toConsent('openid offline_access');
      await watched.page.click('#openid');
      await watched.page.click('#offline_access');
      const tokens = await allowAndExchange(watched, auth);
      expect(tokens.id_token).toBeUndefined();
      expect(tokens.refresh_token).toBeUndefined();
      expectNoProblems(watched);
    });
  });

  it('deny at login lands on the callback with error=access_denied', async () => {
    const watched = await open();
    const { page } = watched;
    const auth = authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.callbackUrl)), page.click('#reject')]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe(auth.state);
    expectNoProblems(watched);
  });

  it('deny at consent lands on the callback with error=access_denied', async () => {
    const watched = await open();
    const { page } = watched;
    const auth = authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', DEMO_USER.email);
    await page.fill('#password', DEMO_USER.password);
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.callbackUrl)), page.click('#reject')]);
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
    expectNoProblems(watched);
  });

  it('logout "No" keeps the session', async () => {
    const watched = await open();
    const { page } = watched;
    const auth = authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', DEMO_USER.email);
    await page.fill('#password', DEMO_USER.password);
    await page.check('#remember');
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);
    await page.click('#openid');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(callback.callbackUrl)), page.click('#accept')]);
    const code = new URL(page.url()).searchParams.get('code')!;
    const http = new OAuthDriver({ hydraPublicUrl: stack.hydra.publicUrl, appBaseUrl: stack.app.baseUrl });
    const tokens = await http.exchangeCode(client, code, auth.codeVerifier);

    await page.goto(logoutUrl(stack.hydra.publicUrl, { idToken: tokens.id_token, postLogoutRedirectUri: callback.postLogoutUrl }).href);
    await page.waitForURL((url) => url.pathname === '/logout');
    await Promise.all([page.waitForLoadState('load'), page.click('#reject')]);
    expect(new URL(page.url()).origin).toBe(stack.app.baseUrl);
    await shot(page, 'logout-cancelled');

    await page.goto(authorizationRequest(stack.hydra.publicUrl, { client, scope: 'openid' }).url.href);
    await page.waitForURL((url) => url.pathname === '/consent');
    expectNoProblems(watched);
  });

  it('a Hydra error redirect shows our error page', async () => {
    const watched = await open();
    const { page } = watched;
    const bad = authorizationRequest(stack.hydra.publicUrl, { client: { ...client, client_id: 'no-such-client' }, scope: 'openid' });
    await page.goto(bad.url.href);
    await page.waitForURL((url) => url.pathname === '/error');
    expect(new URL(page.url()).searchParams.get('error')).toBe('invalid_client');
    await expect.poll(() => page.textContent('body')).toContain('invalid_client');
    await shot(page, 'error');
    expectNoProblems(watched);
  });

  it('the admin console signs in with the token and lists the clients, within the CSP', async () => {
    const watched = await open();
    const { page } = watched;
    await page.goto(`${stack.app.baseUrl}/admin/clients`);
    await page.waitForURL((url) => url.pathname === '/admin/login');
    await page.fill('#token', ADMIN_TOKEN);
    await Promise.all([page.waitForURL((url) => url.pathname === '/admin/clients'), page.click('#sign-in')]);
    await expect.poll(() => page.textContent('body')).toContain('e2e browser');
    await shot(page, 'admin-clients');
    expectNoProblems(watched);
  });
});
