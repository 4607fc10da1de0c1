import type { Page } from 'playwright-core';
import { beforeAll, expect, it } from 'vitest';
import { totpCode } from '../../src/mfa/totp.js';
import type { AccountStore } from '../../src/users/accounts.js';
import { browserTargets, useBrowserSuite } from './support/browser-suite.js';
import { describeEachHydra } from './support/hydra.js';
import { authorizationRequest } from './support/oauth.js';

/**
 * Second factors against a real Hydra, in a real Chromium, once per Hydra release: a password
 * sign-in gets acr one-factor and amr pwd in the ID token; an authenticator app is added in
 * /account (the code computed here from the key the page shows); a client then asks for two
 * factors (acr_values) on the remembered session (Hydra says skip), and the same person is asked
 * for the code only, and gets acr two-factor and amr pwd otp mfa; a reused code is refused in a
 * fresh browser, and a recovery code works exactly once.
 */

const { targets, chromiumPath } = browserTargets('e2e second factors');

const EMAIL = 'sam@example.com';
const PASSWORD = 'the passphrase of sam, long enough';
const ACR1 = 'urn:hlc:acr:1fa';
const ACR2 = 'urn:hlc:acr:2fa';

describeEachHydra(targets, 'second factors in chromium against a real Hydra', (target) => {
  const s = useBrowserSuite(target, {
    label: 'e2e mfa',
    shotPrefix: 'mfa-',
    chromiumPath,
    stack: { appEnv: { DATABASE_URL: 'sqlite::memory:' } },
    client: { client_name: 'e2e mfa client' },
  });
  let store: AccountStore;
  let secret = '';
  let recoveryCodes: string[] = [];
  /** The code the step-up took: the next test sends this same string again, not one computed anew. */
  let stepUpCode = '';

  beforeAll(async () => {
    store = s.stack.app.deps.accounts!;
    await store.create({ email: EMAIL, password: PASSWORD }, { actor: 'test' });
  });

  /** Through consent to the callback; the ID token's claims. */
  const finish = async (page: Page, codeVerifier: string) => (await s.finish(page, codeVerifier)).claims!;

  /** Starts an authorization; returns where it landed and how to finish it. */
  async function authorize(page: Page, extra: Record<string, string> = {}) {
    const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid', extra });
    await page.goto(auth.url.href);
    await page.waitForURL((url) => url.pathname.startsWith('/login') || url.href.startsWith(s.callback.callbackUrl));
    return auth;
  }

  async function password(page: Page) {
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.check('#remember');
    await page.click('#accept');
  }

  it('password, then an authenticator app added in /account, then step-up on the remembered session', async () => {
    const watched = await s.open();
    const { page } = watched;
    const first = await authorize(page);
    await password(page);
    const one = await finish(page, first.codeVerifier);
    expect(one).toMatchObject({ acr: ACR1, amr: ['pwd'] });

    // /account through Hydra's remembered session; add the app with the key the page shows.
    await page.goto(s.app('/account'));
    await page.waitForURL((url) => url.origin === s.stack.app.baseUrl && url.pathname === '/account');
    await page.click('a[href="/account/factors"]');
    await page.waitForURL((url) => url.pathname === '/account/factors');
    await Promise.all([page.waitForURL((url) => url.pathname === '/account/factors/totp'), page.click('#add-totp')]);
    secret = (await page.textContent('#totp-secret'))!.replace(/\s/g, '');
    expect(await page.getAttribute('#totp-qr', 'src')).toMatch(/^data:image\/svg\+xml;base64,/);
    await s.shot(page, 'enrol');
    await page.fill('#label', 'Phone');
    await page.fill('#code', totpCode(secret));
    await Promise.all([page.waitForSelector('#recovery-codes'), page.click('#confirm')]);
    recoveryCodes = (await page.locator('#recovery-codes code').allTextContents()).map((c) => c.trim());
    expect(recoveryCodes).toHaveLength(10);

    // The client now asks for two factors; Hydra remembers this browser (skip): only the code is asked.
    const stepUp = await authorize(page, { acr_values: ACR2 });
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.locator('#password').count()).toBe(0);
    await s.shot(page, 'step-up');
    // The confirming code's step is used up: the next step's code (within the ±1 window).
    stepUpCode = totpCode(secret, Date.now() + 30_000);
    await page.fill('#code', stepUpCode);
    await page.click('#verify');
    const two = await finish(page, stepUp.codeVerifier);
    expect(two).toMatchObject({ acr: ACR2 });
    expect(two.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(watched.problems).toEqual({ consoleErrors: [], pageErrors: [], cspViolations: [] });
  });

  it('refuses a reused code in a fresh browser, and takes a recovery code exactly once', async () => {
    expect(stepUpCode).not.toBe('');
    const { page } = await s.open();
    const auth = await authorize(page);
    await password(page);
    await page.waitForSelector('#code');
    // The same code again. Computed afresh it could name a later, unused step once a 30 s boundary
    // has passed; the used one stays inside the ±1 window for at least a minute after its use.
    await page.fill('#code', stepUpCode);
    await page.click('#verify');
    await page.waitForSelector('.alert-error');
    expect(await page.textContent('.alert-error')).toContain('already used');
    await page.fill('#code', recoveryCodes[0]!);
    await page.click('#verify');
    expect(await finish(page, auth.codeVerifier)).toMatchObject({ acr: ACR2, amr: ['pwd', 'otp', 'mfa'] });

    const again = await s.open();
    await authorize(again.page);
    await password(again.page);
    await again.page.waitForSelector('#code');
    await again.page.fill('#code', recoveryCodes[0]!);
    await again.page.click('#verify');
    await again.page.waitForSelector('.alert-error');
    expect(await again.page.textContent('.alert-error')).toContain('not right');
  });
});
