import type { Page } from 'playwright-core';
import { beforeAll, expect, it } from 'vitest';
import type { AccountStore } from '../../src/users/accounts.js';
import { browserTargets, useBrowserSuite } from './support/browser-suite.js';
import { describeEachHydra } from './support/hydra.js';
import { authorizationRequest, introspectAtHydra, OAuthDriver } from './support/oauth.js';

/**
 * The account area (/account) against a real Hydra, in a real Chromium, once per Hydra release:
 * a user created through the store signs in to an OAuth client; /account opens without a screen
 * (Hydra's remembered session, through the first-party client the app registered at start-up);
 * the password is changed there, after which the old one fails and Hydra's sessions are gone;
 * the client is disconnected there and its tokens introspect inactive; the admin disables the
 * user and the remembered session no longer signs them in; sign-out ends at Hydra too.
 */

const { targets, chromiumPath } = browserTargets('e2e account area');

const EMAIL = 'pat@example.com';
const PASSWORD = 'first passphrase of pat, long enough';
const NEW_PASSWORD = 'second passphrase of pat, also long';

describeEachHydra(targets, 'the account area in chromium against a real Hydra', (target) => {
  const s = useBrowserSuite(target, {
    label: 'e2e account',
    shotPrefix: 'account-',
    chromiumPath,
    stack: { appEnv: { DATABASE_URL: 'sqlite::memory:' } },
    client: { client_name: 'e2e account client' },
  });
  let store: AccountStore;
  let userId: string;
  let subject: string;

  beforeAll(async () => {
    store = s.stack.app.deps.accounts!;
    const user = await store.create({ email: EMAIL, password: PASSWORD, profile: { name: 'Pat Example' } }, { actor: 'test' });
    userId = user.id;
    subject = user.subject;
  });

  /** Signs in to the OAuth client in this browser (login, remembered; consent, remembered) and returns its tokens. */
  async function signInToClient(page: Page, password: string) {
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid offline_access email' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', password);
    await page.check('#remember');
    await Promise.all([page.waitForURL((url) => url.pathname === '/consent' || url.href.startsWith(s.callback.callbackUrl)), page.click('#accept')]);
    if (new URL(page.url()).pathname === '/consent') {
      for (const scope of ['openid', 'offline_access', 'email']) await page.check(`#${scope}`);
      await page.check('#remember');
      await Promise.all([page.waitForURL((url) => url.href.startsWith(s.callback.callbackUrl)), page.click('#accept')]);
    }
    const code = new URL(page.url()).searchParams.get('code');
    expect(code, page.url()).toBeTruthy();
    const http = new OAuthDriver({ hydraPublicUrl: s.stack.hydra.publicUrl, appBaseUrl: s.stack.app.baseUrl });
    return http.exchangeCode(s.client, code!, auth.codeVerifier);
  }

  /** Where an authorization for the client ends up in this browser: our login page, or straight at the callback. */
  async function authorizeLandsOn(page: Page): Promise<'login' | 'callback'> {
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname === '/login' || url.href.startsWith(s.callback.callbackUrl));
    return new URL(page.url()).pathname === '/login' ? 'login' : 'callback';
  }

  it('registered its own first-party client at start-up', async () => {
    const res = await fetch(`${s.stack.hydra.adminApiUrl}/clients/account`);
    expect(res.status).toBe(200);
    const registered = (await res.json()) as Record<string, unknown>;
    expect(registered.redirect_uris).toEqual([s.app('/account/callback')]);
    expect(registered.post_logout_redirect_uris).toEqual([s.app('/account/signed-out')]);
  });

  it('signs in to a client, opens /account without a screen, changes the password: the old one fails, Hydra forgets the session', async () => {
    const watched = await s.open();
    const { page } = watched;
    const tokens = await signInToClient(page, PASSWORD);
    expect(tokens.claims).toMatchObject({ sub: subject, email: EMAIL });

    // Single sign-on: Hydra remembers this browser, our first-party client needs no consent.
    await page.goto(s.app('/account'));
    await page.waitForURL((url) => url.origin === s.stack.app.baseUrl && url.pathname === '/account');
    await expect.poll(() => page.textContent('#account-email')).toBe(EMAIL);
    expect(await page.inputValue('#name')).toBe('Pat Example');
    await s.shot(page, 'profile');

    await page.fill('#nickname', 'Patty');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'profile'), page.click('#save-profile')]);
    expect((await store.get(userId))!.profile.nickname).toBe('Patty');

    await page.goto(s.app('/account/password'));
    await page.fill('#current_password', PASSWORD);
    await page.fill('#new_password', NEW_PASSWORD);
    await page.fill('#confirm_password', NEW_PASSWORD);
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') !== null), page.click('#change-password')]);
    expect(new URL(page.url()).searchParams.get('done')).toBe('password');
    await s.shot(page, 'password');
    // Still signed in here.
    await page.goto(s.app('/account/sessions'));
    await expect.poll(() => page.isVisible('#sign-out-everywhere')).toBe(true);
    s.expectNoProblems(watched);

    // Hydra's login sessions of the person were revoked: this browser is asked to sign in again.
    expect(await authorizeLandsOn(page)).toBe('login');

    // In another browser: the old password fails, the new one works.
    const other = await s.open();
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await other.page.goto(auth.url.href);
    await other.page.waitForURL((url) => url.pathname === '/login');
    await other.page.fill('#email', EMAIL);
    await other.page.fill('#password', PASSWORD);
    await Promise.all([other.page.waitForResponse((res) => res.url().endsWith('/login') && res.request().method() === 'POST'), other.page.click('#accept')]);
    await expect.poll(() => other.page.textContent('body')).toContain('The email address or password is incorrect.');
    await other.page.fill('#password', NEW_PASSWORD);
    await Promise.all([other.page.waitForURL((url) => url.pathname === '/consent' || url.href.startsWith(s.callback.callbackUrl)), other.page.click('#accept')]);
  });

  it('disconnects the client in /account: its access and refresh tokens introspect inactive', async () => {
    const watched = await s.open();
    const { page } = watched;
    const tokens = await signInToClient(page, NEW_PASSWORD);
    expect((await introspectAtHydra(s.stack.hydra, tokens.access_token)).active).toBe(true);
    expect(tokens.refresh_token).toBeTruthy();

    await page.goto(s.app('/account/applications'));
    await page.waitForURL((url) => url.pathname === '/account/applications');
    const row = page.locator(`tr[data-client="${s.client.client_id}"]`);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('e2e account client');
    expect(await page.locator('tr[data-client="account"]').count()).toBe(0);
    await s.shot(page, 'applications');
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'revoked'), row.locator('button').click()]);
    expect(await page.locator(`tr[data-client="${s.client.client_id}"]`).count()).toBe(0);

    expect((await introspectAtHydra(s.stack.hydra, tokens.access_token)).active).toBe(false);
    expect((await introspectAtHydra(s.stack.hydra, tokens.refresh_token!)).active).toBe(false);
    s.expectNoProblems(watched);
  });

  it('signs out of /account and of Hydra, with no question asked', async () => {
    const watched = await s.open();
    const { page } = watched;
    await signInToClient(page, NEW_PASSWORD);
    await page.goto(s.app('/account'));
    await page.waitForURL((url) => url.pathname === '/account');
    await Promise.all([page.waitForURL((url) => url.pathname === '/account/signed-out'), page.click('.nav-logout button')]);
    await expect.poll(() => page.isVisible('#signed-out')).toBe(true);
    expect(await authorizeLandsOn(page)).toBe('login');
    s.expectNoProblems(watched);
  });

  it('"sign out everywhere" ends the remembered session of another browser', async () => {
    const first = await s.open();
    const second = await s.open();
    await signInToClient(first.page, NEW_PASSWORD);
    await signInToClient(second.page, NEW_PASSWORD);
    expect(await authorizeLandsOn(second.page)).toBe('callback');
    await first.page.goto(s.app('/account/sessions'));
    await first.page.waitForURL((url) => url.pathname === '/account/sessions');
    await s.shot(first.page, 'sessions');
    await Promise.all([first.page.waitForURL((url) => url.pathname === '/account/signed-out'), first.page.click('#sign-out-everywhere')]);
    expect(await authorizeLandsOn(second.page)).toBe('login');
    s.expectNoProblems(first);
  });

  it('after the admin disables the user, the remembered session no longer signs them in', async () => {
    const watched = await s.open();
    const { page } = watched;
    await signInToClient(page, NEW_PASSWORD);
    await page.goto(s.app('/account'));
    await page.waitForURL((url) => url.pathname === '/account');
    expect(await authorizeLandsOn(page)).toBe('callback'); // remembered

    // Hydra on SQLite answers a revocation 500 now and then; the app sends the two one after the other, each once more on a 5xx.
    const disabled = await s.stack.admin('PATCH', `/admin/users/${userId}`, { disabled: true });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    // No remembered session lets them back in: Hydra asks again, and the password is refused.
    expect(await authorizeLandsOn(page)).toBe('login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', NEW_PASSWORD);
    await Promise.all([page.waitForResponse((res) => res.url().endsWith('/login') && res.request().method() === 'POST'), page.click('#accept')]);
    await expect.poll(() => page.textContent('body')).toContain('The email address or password is incorrect.');
    // And the /account session in this browser is over.
    const res = await page.goto(s.app('/account'));
    expect(res?.status()).toBe(401);
    await s.stack.admin('PATCH', `/admin/users/${userId}`, { disabled: false });
  });
});
