import { expect, it } from 'vitest';
import { browserTargets, useBrowserSuite } from './support/browser-suite.js';
import { describeEachHydra } from './support/hydra.js';
import { authorizationRequest, DEMO_USER } from './support/oauth.js';

/**
 * The client's `ui_locales` (OpenID Connect Core §3.1.2.1) through a real Hydra, in a real
 * chromium: Hydra hands it to the login request's oidc_context, the login page speaks it, and the
 * consent page does too (Hydra's consent request carries it again, and the login accept's context
 * carries the language on: src/http/locale.ts localeContext). The browser itself asks for English
 * (Accept-Language), so only ui_locales can make the pages German or French.
 */

const { targets, chromiumPath } = browserTargets('e2e languages');

const LANGUAGES = [
  { lang: 'de', login: 'Bitte melden Sie sich an', wrong: 'Die E-Mail-Adresse oder das Passwort ist falsch.', consent: 'Eine Anwendung möchte auf Ihre Daten zugreifen!' },
  { lang: 'fr', login: 'Veuillez vous connecter', wrong: 'L’adresse e-mail ou le mot de passe est incorrect.', consent: 'Une application demande l’accès à vos données !' },
] as const;

describeEachHydra(targets, 'ui_locales through a real Hydra, in chromium', (target) => {
  const s = useBrowserSuite(target, { label: 'e2e languages', shotPrefix: 'languages-', chromiumPath, client: { client_name: 'e2e languages' } });

  for (const words of LANGUAGES) {
    it(`ui_locales=${words.lang}: the login page (and its error) and then the consent page in that language`, async () => {
      const watched = await s.open();
      const { page } = watched;
      await page.setExtraHTTPHeaders({ 'Accept-Language': 'en' });
      const auth = authorizationRequest(s.stack.hydra.publicUrl, { client: s.client, scope: 'openid email', extra: { ui_locales: words.lang } });

      await page.goto(auth.url.href);
      await page.waitForURL((url) => url.pathname === '/login');
      expect(await page.getAttribute('html', 'lang')).toBe(words.lang);
      await expect.poll(() => page.textContent('#heading')).toBe(words.login);
      await s.shot(page, `login-${words.lang}`);
      // The passkey autofill offer that failed unasked (no authenticator here) shows no error.
      expect(await page.isHidden('#passkey-error')).toBe(true);

      // A wrong password: the form comes back in the same language, the email kept.
      await page.fill('#email', DEMO_USER.email);
      await page.fill('#password', 'not the password');
      await Promise.all([page.waitForLoadState('load'), page.click('#accept')]);
      await expect.poll(() => page.textContent('[role="alert"]')).toBe(words.wrong);
      expect(await page.getAttribute('html', 'lang')).toBe(words.lang);
      expect(await page.inputValue('#email')).toBe(DEMO_USER.email);

      await page.fill('#password', DEMO_USER.password);
      await Promise.all([page.waitForURL((url) => url.pathname === '/consent'), page.click('#accept')]);
      expect(await page.getAttribute('html', 'lang')).toBe(words.lang);
      await expect.poll(() => page.textContent('#heading')).toBe(words.consent);
      await s.shot(page, `consent-${words.lang}`);

      const tokens = await s.finish(page, auth.codeVerifier);
      expect(tokens.claims?.sub).toBe(DEMO_USER.email);
      // Chromium logs the wrong password's 401 as a console error: that one is expected, nothing else.
      const expected = (line: string) => /\/login: Failed to load resource: the server responded with a status of 401/.test(line);
      expect(watched.problems.consoleErrors.filter(expected)).toHaveLength(1);
      s.expectNoProblems({ ...watched, problems: { ...watched.problems, consoleErrors: watched.problems.consoleErrors.filter((line) => !expected(line)) } });
    });
  }
});
