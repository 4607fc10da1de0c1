import type { CDPSession, Page } from 'playwright-core';
import { beforeAll, expect, it } from 'vitest';
import type { AccountStore } from '../../src/users/accounts.js';
import { browserTargets, useBrowserSuite } from './support/browser-suite.js';
import { describeEachHydra } from './support/hydra.js';
import { authorizationRequest } from './support/oauth.js';

/**
 * Passkeys against a real Hydra in a real Chromium with a CDP virtual authenticator
 * (WebAuthn.addVirtualAuthenticator through playwright-core's CDP session), once per Hydra
 * release: a passkey is registered in /account; after signing out, the passkey alone signs in
 * (the ID token says amr hwk user mfa, acr phishing-resistant); the same assertion replayed, one
 * with another origin, and a passkey of a disabled user are refused, and each refusal is audited.
 */

const { targets, chromiumPath } = browserTargets('e2e passkeys');

const EMAIL = 'kim@example.com';
const PASSWORD = 'the passphrase of kim, long enough';

describeEachHydra(targets, 'passkeys in chromium against a real Hydra', (target) => {
  const s = useBrowserSuite(target, {
    label: 'e2e passkeys',
    shotPrefix: 'passkey-',
    chromiumPath,
    stack: { appHost: 'localhost', appEnv: { DATABASE_URL: 'sqlite::memory:' } },
    client: { client_name: 'e2e passkey client' },
  });
  let store: AccountStore;
  let userId: string;

  beforeAll(async () => {
    store = s.stack.app.deps.accounts!;
    userId = (await store.create({ email: EMAIL, password: PASSWORD }, { actor: 'test' })).id;
  });

  /** Through consent to the callback; the ID token's claims. */
  const finish = async (page: Page, codeVerifier: string) => (await s.finish(page, codeVerifier)).claims!;

  async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return { cdp, authenticatorId };
  }

  const details = async () => (await store.auditTrail(userId, { limit: 100 })).items.map((e) => `${e.action}:${e.detail}`);

  it('registers a passkey in /account, signs in with it alone, and refuses a replay, another origin and a disabled user (audited)', async () => {
    const watched = await s.open();
    const { page } = watched;
    const authenticator = await virtualAuthenticator(page);

    // A password sign-in, then /account (Hydra's remembered session), then "Add a passkey".
    const first = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(first.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.check('#remember');
    await page.click('#accept');
    expect(await finish(page, first.codeVerifier)).toMatchObject({ amr: ['pwd'] });
    await page.goto(s.app('/account'));
    await page.waitForURL((url) => url.origin === s.stack.app.baseUrl && url.pathname === '/account');
    await page.goto(s.app('/account/factors'));
    await page.fill('#passkey-label', 'Laptop');
    await page.click('#add-passkey');
    // The redirect that follows success, or the script's error line.
    // No string predicate here: Playwright evaluates one with eval in the page, which our CSP refuses.
    const outcomes = [
      page.waitForURL((url) => url.searchParams.has('done')),
      page.waitForSelector('#passkey-error:not([hidden])'),
    ];
    for (const outcome of outcomes) outcome.catch(() => undefined); // the loser times out later, unobserved
    await Promise.race(outcomes);
    expect(await page.textContent('#passkey-error')).toBe('');
    await page.waitForURL((url) => url.searchParams.get('done') === 'passkey-added');
    await s.shot(page, 'registered');
    expect(await details()).toContain('factor.added:webauthn');

    // Signed out (no cookies left, here or at Hydra); the passkey alone signs in.
    await page.context().clearCookies();
    let captured: { body: string; headers: Record<string, string> } | undefined;
    await page.route('**/login/passkey', async (route) => {
      captured = { body: route.request().postData() ?? '', headers: await route.request().allHeaders() };
      await route.continue();
    });
    const second = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(second.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    // Conditional mediation: the email field's autofill offers the passkey, and the virtual
    // authenticator (automatic presence) picks it at once: no click, no password.
    expect(await page.getAttribute('#email', 'autocomplete')).toBe('username webauthn');
    const claims = await finish(page, second.codeVerifier);
    expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(claims.acr).toBe('urn:hlc:acr:phr');
    expect(watched.problems).toEqual({ consoleErrors: [], pageErrors: [], cspViolations: [] });
    expect(captured).toBeDefined();

    // The same assertion again, with the same cookies: the counter did not move.
    const replay = (body: string) =>
      fetch(s.app('/login/passkey'), {
        method: 'POST',
        headers: { cookie: captured!.headers.cookie!, 'x-csrf-token': captured!.headers['x-csrf-token']!, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
      });
    const replayed = await replay(captured!.body);
    expect(replayed.status).toBe(401);
    expect(await details()).toContain('factor.failed:webauthn:replayed');

    // Another origin in the client data: refused before the signature counts.
    const form = new URLSearchParams(captured!.body);
    const credential = JSON.parse(form.get('credential')!) as { response: { clientDataJSON: string } };
    const clientData = JSON.parse(Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8')) as Record<string, unknown>;
    credential.response.clientDataJSON = Buffer.from(JSON.stringify({ ...clientData, origin: 'https://evil.example' })).toString('base64url');
    form.set('credential', JSON.stringify(credential));
    const foreign = await replay(form.toString());
    expect(foreign.status).toBe(401);
    expect(await details()).toContain('factor.failed:webauthn:wrong-origin');

    // A disabled user's passkey: refused, with the page saying so.
    await store.setDisabled(userId, true, { actor: 'test' });
    await page.unroute('**/login/passkey');
    await page.context().clearCookies();
    const third = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(third.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.waitForSelector('#passkey-error:not([hidden])');
    await s.shot(page, 'disabled');
    expect(await page.textContent('#passkey-error')).toContain('can no longer sign in');
    expect(await details()).toContain('factor.refused:webauthn:disabled');

    // Enabled again: password first (the authenticator holds back, so autofill waits), then the
    // passkey as the second factor, with the button of the second step.
    await store.setDisabled(userId, false, { actor: 'test' });
    await page.context().clearCookies();
    await authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: authenticator.authenticatorId, enabled: false });
    const fourth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid' });
    await page.goto(fourth.url.href);
    await page.waitForURL((url) => url.pathname === '/login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    await page.click('#accept');
    await page.waitForSelector('#passkey-signin');
    await s.shot(page, 'second-factor');
    await authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: authenticator.authenticatorId, enabled: true });
    await page.click('#passkey-signin');
    const both = await finish(page, fourth.codeVerifier);
    expect(both.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect(both.acr).toBe('urn:hlc:acr:phr');
  });
});
