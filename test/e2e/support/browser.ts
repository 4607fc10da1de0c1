import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { isCI } from './hydra.js';
import { shortUrl } from './oauth.js';

/**
 * Debian's chromium driven by playwright-core (no downloaded browsers). Every page of ours is
 * watched for console errors, uncaught exceptions and CSP violations.
 */

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const SCREENSHOT_DIR = `${repoRoot}artifacts/screenshots`;

/** As root in a container chromium needs --no-sandbox; the rest keeps it off the network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** CHROMIUM_PATH, else /usr/bin/chromium, when the file exists. */
export function findChromium(): string | undefined {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return existsSync(path) ? path : undefined;
}

/** Like hydraBinaryOrSkip: undefined after one warning line, but a throw in CI. */
export function chromiumOrSkip(suite: string): string | undefined {
  const path = findChromium();
  if (path !== undefined) return path;
  const why = `no chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (isCI()) throw new Error(`${suite}: ${why}; CI must run the browser suite`);
  console.warn(`[e2e] skipping ${suite}: ${why}`);
  return undefined;
}

export async function launchChromium(executablePath = findChromium()): Promise<Browser> {
  if (executablePath === undefined) throw new Error('no chromium');
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 30_000 });
}

/** Runs in every document before its own scripts (plain JS: the project compiles without DOM types). */
const CSP_RECORDER = `
  window.__e2eCsp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    const v = {
      directive: e.effectiveDirective || e.violatedDirective,
      blocked: e.blockedURI,
      source: e.sourceFile,
      line: e.lineNumber,
      sample: e.sample,
      document: e.documentURI,
    };
    window.__e2eCsp.push(v);
    if (typeof window.__e2eReportCsp === 'function') window.__e2eReportCsp(v);
  });
`;

export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  cspViolations: string[];
}

export interface WatchedContext {
  context: BrowserContext;
  page: Page;
  /** Problems seen so far on pages whose URL starts with one of the watched origins. */
  problems: PageProblems;
  close(): Promise<void>;
}

interface Violation {
  directive: string;
  blocked: string;
  source: string;
  line: number;
  sample: string;
  document: string;
}

/**
 * A fresh context (own cookies) whose pages report console errors, uncaught errors and
 * `securitypolicyviolation` events for documents on `origins` (our app; Hydra's own pages and
 * the client's callback are not ours to judge). The init script runs before any page script, so
 * it sees violations caused by the page's own markup too; it keeps them in `window` and reports
 * each through a binding, which survives the navigations a flow is made of.
 */
export async function watchedContext(browser: Browser, origins: string[]): Promise<WatchedContext> {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  context.setDefaultTimeout(15_000);
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], cspViolations: [] };
  const ours = (url: string) => origins.some((origin) => url.startsWith(origin));

  await context.exposeBinding('__e2eReportCsp', ({ frame }, v: Violation) => {
    if (ours(v.document) || ours(frame.url())) {
      problems.cspViolations.push(shortUrl(`${v.document}: ${v.directive} blocked ${v.blocked || '(inline)'} ${v.source}:${v.line} ${v.sample}`.trim()));
    }
  });
  await context.addInitScript({ content: CSP_RECORDER });

  const watch = (page: Page) => {
    page.on('console', (msg: ConsoleMessage) => {
      if (msg.type() !== 'error') return;
      const where = msg.location().url || page.url();
      if (ours(where) || ours(page.url())) problems.consoleErrors.push(shortUrl(`${page.url()}: ${msg.text()} (${where})`));
    });
    page.on('pageerror', (error) => {
      if (ours(page.url())) problems.pageErrors.push(shortUrl(`${page.url()}: ${error.message}`));
    });
  };
  context.on('page', watch);
  const page = await context.newPage();
  return { context, page, problems, close: () => context.close() };
}

/** Saves a full-page PNG as artifacts/screenshots/<name>.png (the folder is git-ignored). */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
