import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startStack, type Stack, type StackOptions } from './app.js';
import { chromiumOrSkip, launchChromium, screenshot, watchedContext, type WatchedContext } from './browser.js';
import { hydraTargets, type HydraTarget } from './hydra.js';
import { createHydraClient, OAuthDriver, startCallbackServer, type CallbackServer, type TestClient, type TokenSet } from './oauth.js';

/**
 * The Hydra targets of a browser suite. Chromium is looked for only when some Hydra is there, so a
 * machine without either gets one skip line per suite; without chromium every target is skipped.
 */
export function browserTargets(suite: string): { targets: HydraTarget[]; chromiumPath: string | undefined } {
  const targets = hydraTargets(suite);
  const chromiumPath = targets.every((t) => t.bin === undefined) ? undefined : chromiumOrSkip(suite);
  return { targets: targets.map((target) => (chromiumPath === undefined ? { ...target, bin: undefined } : target)), chromiumPath };
}

export interface BrowserSuiteOptions {
  /** The prefix of the lines printed when a test fails, e.g. `e2e account`. */
  label: string;
  /** The screenshots' name prefix; v1's get a further `v1-`. */
  shotPrefix: string;
  chromiumPath: string | undefined;
  stack?: Omit<StackOptions, 'hydra'>;
  /** The OAuth client registered at Hydra, its redirect URIs pointing at the callback server. */
  client: Record<string, unknown>;
}

/** What a browser suite's tests use; filled in by its beforeAll. */
export interface BrowserSuite {
  stack: Stack;
  callback: CallbackServer;
  client: TestClient;
  browser: Browser;
  /** An absolute URL of the app under test. */
  app(path: string): string;
  shot(page: Page, name: string): Promise<string>;
  /** A fresh browser profile (no cookies), closed after the test; its problems are printed if the test fails. */
  open(): Promise<WatchedContext>;
  expectNoProblems(watched: WatchedContext): void;
  /** From wherever the flow is now, through consent (openid ticked, remembered) to the callback; the tokens. */
  finish(page: Page, codeVerifier: string): Promise<TokenSet>;
}

/**
 * One Hydra target's stack (Hydra, the app, a callback server, an OAuth client, Chromium), with the
 * hooks that start and stop it and close each test's browser contexts.
 */
export function useBrowserSuite(target: HydraTarget, options: BrowserSuiteOptions): BrowserSuite {
  let contexts: WatchedContext[] = [];
  const suite = {
    app: (path: string) => `${suite.stack.app.baseUrl}${path}`,
    shot: (page: Page, name: string) => screenshot(page, target.apiVersion === 'v2' ? `${options.shotPrefix}${name}` : `v1-${options.shotPrefix}${name}`),
    async open() {
      const watched = await watchedContext(suite.browser, [suite.stack.app.baseUrl]);
      contexts.push(watched);
      return watched;
    },
    expectNoProblems(watched: WatchedContext) {
      expect(watched.problems).toEqual({ consoleErrors: [], pageErrors: [], cspViolations: [] });
    },
    async finish(page: Page, codeVerifier: string) {
      const atCallback = (url: URL) => url.href.startsWith(suite.callback.callbackUrl);
      await page.waitForURL((url) => url.pathname === '/consent' || atCallback(url));
      if (new URL(page.url()).pathname === '/consent') {
        await page.check('#openid');
        await page.check('#remember');
        await Promise.all([page.waitForURL(atCallback), page.click('#accept')]);
      }
      const code = new URL(page.url()).searchParams.get('code');
      expect(code, page.url()).toBeTruthy();
      const driver = new OAuthDriver({ hydraPublicUrl: suite.stack.hydra.publicUrl, appBaseUrl: suite.stack.app.baseUrl });
      return driver.exchangeCode(suite.client, code!, codeVerifier);
    },
  } as BrowserSuite;

  beforeAll(async () => {
    [suite.stack, suite.callback, suite.browser] = await Promise.all([
      startStack({ ...options.stack, hydra: target }),
      startCallbackServer(),
      launchChromium(options.chromiumPath),
    ]);
    suite.client = await createHydraClient(suite.stack.hydra, {
      redirect_uris: [suite.callback.callbackUrl],
      post_logout_redirect_uris: [suite.callback.postLogoutUrl],
      ...options.client,
    });
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.callback?.close();
    await suite.stack?.stop();
  });
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      // Chromium reports a blocked navigation a moment after the navigation promise rejects.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const c of contexts) console.error(`[${options.label}] problems during "${context.task.name}": ${JSON.stringify(c.problems)} at ${c.page.url()}`);
    }
    for (const c of contexts) await c.close();
    contexts = [];
  });
  return suite;
}
