import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { chromiumOrSkip, launchChromium, screenshot, watchedContext, type WatchedContext } from './support/browser.js';
import { freePorts } from '../../scripts/free-port.js';
import { describeEachHydra, hydraTargets } from './support/hydra.js';
import { decodeEntities, describeLanding, OAuthDriver, type Landing } from './support/oauth.js';

/**
 * `npm run demo` end to end, once per Hydra release (HYDRA_VERSION): scripts/demo.ts itself, on
 * free ports, starts a real Hydra and the app; a cookie-jar user agent then signs in through /demo
 * as a browser would, and SIGINT must leave no process behind.
 */

const targets = hydraTargets('e2e demo (npm run demo)');
const chromium = targets.every((t) => t.bin === undefined) ? undefined : chromiumOrSkip('e2e demo in a browser');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface DemoRun {
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ports: { app: number; public: number; admin: number };
}

function runDemo(env: Record<string, string>): DemoRun {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
    cwd: ROOT,
    // DATABASE_URL: the demo's users in memory, never the checkout's ./data/accounts.db.
    env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: 'sqlite::memory:', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString('utf8');
  };
  proc.stdout!.on('data', append);
  proc.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    proc,
    output: () => out,
    exited,
    ports: { app: Number(env.PORT), public: Number(env.HYDRA_PUBLIC_PORT), admin: Number(env.HYDRA_ADMIN_PORT) },
  };
}

async function demoPorts(): Promise<Record<'PORT' | 'HYDRA_PUBLIC_PORT' | 'HYDRA_ADMIN_PORT', string>> {
  const [app, publicPort, adminPort] = (await freePorts(3)).map(String) as [string, string, string];
  return { PORT: app, HYDRA_PUBLIC_PORT: publicPort, HYDRA_ADMIN_PORT: adminPort };
}

async function waitForOutput(run: DemoRun, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes(text)) {
    if (run.proc.exitCode !== null || run.proc.signalCode !== null) throw new Error(`demo exited before "${text}":\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The script's direct children (Hydra, the app, their watchdogs), from procps. */
function childrenOf(pid: number): Array<{ pid: number; command: string }> {
  const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
  return ps.stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), command: m[2]! }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is gone for every purpose here, but still answers signal 0.
  const state = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return state !== '' && !state.startsWith('Z');
}

function page(landing: Landing): string {
  return decodeEntities(landing.html);
}

async function postForm(d: OAuthDriver, url: string, fields: Array<[string, string]>): Promise<Landing> {
  return d.follow(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

describeEachHydra(targets, 'npm run demo (scripts/demo.ts, real Hydra)', (target) => {
  let run: DemoRun;
  let app: string;
  let d: OAuthDriver;
  let csrf: string;

  beforeAll(async () => {
    run = runDemo({ ...(await demoPorts()), HYDRA_BIN: target.bin!, HYDRA_VERSION: target.version });
    await waitForOutput(run, '[demo] ready');
    app = `http://localhost:${run.ports.app}`;
    d = new OAuthDriver({ hydraPublicUrl: `http://localhost:${run.ports.public}`, appBaseUrl: app });
  }, 90_000);

  afterAll(async () => {
    if (run && run.proc.exitCode === null && run.proc.signalCode === null) {
      run.proc.kill('SIGKILL');
      await run.exited;
    }
  });

  it('prints the URL to open and the demo credentials', () => {
    expect(run.output()).toContain(`[demo] ready: open http://localhost:${run.ports.app}/demo`);
    expect(run.output()).toContain('foo@bar.com / foobar');
  });

  it('signs in through Hydra: the callback shows decoded ID-token claims, userinfo and an active introspection', async () => {
    const start = await d.follow(`${app}/demo`);
    expect(start.status, describeLanding(start)).toBe(200);
    csrf = d.csrfOf(start)!;
    expect(csrf).toBeTruthy();

    const login = await postForm(d, `${app}/demo/start`, [
      ['_csrf', csrf],
      ['scope', 'openid'],
      ['scope', 'offline_access'],
      ['scope', 'email'],
      ['scope', 'profile'],
      ['prompt', ''],
      ['audience', 'https://api.example.com'],
      ['max_age', '3600'],
    ]);
    expect(login.kind, describeLanding(login)).toBe('login');
    // Remembered, so Hydra has a session for the RP-initiated logout below to end (and to ask about).
    const consent = await d.login(login, { remember: true });
    expect(consent.kind, describeLanding(consent)).toBe('consent');
    const callback = await d.consent(consent);

    expect(callback.url.pathname, describeLanding(callback)).toBe('/demo/callback');
    expect(callback.status, describeLanding(callback)).toBe(200);
    const html = page(callback);
    expect(html).toContain('ID token (decoded)');
    expect(html).toContain('"sub": "foo@bar.com"');
    expect(html).toContain(`"iss": "http://localhost:${run.ports.public}`);
    expect(html).toMatch(/"aud": \[\s*"demo-client"\s*\]/);
    // Userinfo (the email scope was granted) and the admin API's introspection.
    expect(html).toContain('"email": "foo@bar.com"');
    expect(html).toContain('"active": true');
    expect(html).toContain('https://api.example.com');
    // The back channel went to 127.0.0.1 while the issuer says localhost: the two-URL setup works.
    expect(html).toContain(`POST http://127.0.0.1:${run.ports.public}/oauth2/token`);
    expect(html).not.toMatch(/class="alert alert-error"/);
  });

  it('refreshes with the refresh token; the previous refresh token is then inactive', async () => {
    const refreshed = await postForm(d, `${app}/demo/refresh`, [['_csrf', csrf]]);
    expect(refreshed.status, describeLanding(refreshed)).toBe(200);
    const html = page(refreshed);
    expect(html).toContain('Tokens refreshed');
    expect(html).toMatch(/Introspection of the new access token[\s\S]*"active": true/);
    expect(html).toMatch(/Introspection of the previous refresh token[\s\S]*"active": false/);
  });

  it('client credentials: a token for demo-m2m, introspected', async () => {
    const result = await postForm(d, `${app}/demo/client-credentials`, [['_csrf', csrf], ['scope', 'demo.read']]);
    expect(result.status, describeLanding(result)).toBe(200);
    const html = page(result);
    expect(html).toContain('"active": true');
    expect(html).toContain('"client_id": "demo-m2m"');
    expect(html).toContain('"scope": "demo.read"');
  });

  it('RP-initiated logout goes through our logout screen and back to /demo/logged-out', async () => {
    const logout = await postForm(d, `${app}/demo/logout`, [['_csrf', csrf]]);
    expect(logout.kind, describeLanding(logout)).toBe('logout');
    const back = await d.submit(logout, 'accept');
    expect(back.url.pathname, describeLanding(back)).toBe('/demo/logged-out');
    expect(back.status).toBe(200);
    expect(page(back)).toContain('Logged out');
    // The demo forgot the tokens: no refresh or log-out buttons any more.
    const start = await d.follow(`${app}/demo`);
    expect(start.html).not.toContain('id="refresh"');
  });

  it('prompt=none without a session comes back with login_required, shown on the page', async () => {
    const fresh = new OAuthDriver({ hydraPublicUrl: d.hydraPublicUrl, appBaseUrl: app });
    const start = await fresh.follow(`${app}/demo`);
    const landing = await postForm(fresh, `${app}/demo/start`, [['_csrf', fresh.csrfOf(start)!], ['scope', 'openid'], ['prompt', 'none']]);
    expect(landing.url.pathname, describeLanding(landing)).toBe('/demo/callback');
    expect(landing.status).toBe(400);
    expect(page(landing)).toContain('login_required');
  });

  /** Chromium asks every origin for /favicon.ico on its own; the app has none, which is not a page problem. */
  function expectNoProblems(problems: WatchedContext['problems']): void {
    const consoleErrors = problems.consoleErrors.filter((line) => !line.includes('/favicon.ico'));
    expect({ ...problems, consoleErrors }).toEqual({ consoleErrors: [], pageErrors: [], cspViolations: [] });
  }

  describe.skipIf(!chromium)('in chromium, under our CSP', () => {
    let browser: Browser;
    let watched: WatchedContext;
    beforeAll(async () => {
      browser = await launchChromium(chromium);
      watched = await watchedContext(browser, [app]);
    });
    afterAll(async () => {
      await watched?.close();
      await browser?.close();
    });

    it('signs in, refreshes and gets a client-credentials token by pressing the buttons (screenshots)', async () => {
      const { page, problems } = watched;
      await page.goto(`${app}/demo`);
      await screenshot(page, 'demo-start');
      // The form posts to us and we redirect to Hydra: form-action must allow Hydra's origin.
      await page.click('#start');
      await page.waitForSelector('#email');
      await page.fill('#email', 'foo@bar.com');
      await page.fill('#password', 'foobar');
      await page.check('#remember');
      await page.click('#accept');
      await page.waitForSelector('text=An application requests access to your data!');
      // The boxes start unticked: tick every scope the demo asked for.
      for (const box of await page.locator('input[name="grant_scope"]').all()) await box.click();
      await page.click('#accept');
      await page.waitForURL(`${app}/demo/callback?**`);
      expect(await page.textContent('main')).toContain('"sub": "foo@bar.com"');
      await screenshot(page, 'demo-callback');

      await page.click('#refresh');
      await page.waitForSelector('text=Tokens refreshed');
      await page.click('#client-credentials');
      await page.waitForSelector('h1:has-text("Client credentials")');
      expect(await page.textContent('main')).toContain('"client_id": "demo-m2m"');
      await screenshot(page, 'demo-client-credentials');
      expectNoProblems(problems);
    });

    it('"Log out" reaches our logout screen, and "Yes" comes back to /demo/logged-out', async () => {
      const { page, problems } = watched;
      await page.goto(`${app}/demo`);
      await page.click('#logout');
      await page.waitForSelector('text=Do you want to sign out?');
      await Promise.all([page.waitForURL(`${app}/demo/logged-out?**`), page.click('#accept')]);
      expect(await page.textContent('h1')).toBe('Logged out');
      await screenshot(page, 'demo-logged-out');
      expectNoProblems(problems);
    });
  });

  it('SIGINT stops the app and Hydra and leaves no process behind', async () => {
    const kids = childrenOf(run.proc.pid!);
    const hydra = kids.find((k) => k.command.includes(' serve all'));
    const appProc = kids.find((k) => k.command.includes('src/server.ts'));
    expect(hydra, JSON.stringify(kids)).toBeDefined();
    expect(appProc, JSON.stringify(kids)).toBeDefined();

    run.proc.kill('SIGINT');
    const { code } = await run.exited;
    expect(code, run.output()).toBe(0);
    for (const kid of kids) expect(alive(kid.pid), `${kid.command} still running`).toBe(false);
    expect(run.output()).toContain('[demo] stopping (SIGINT)');
  });
});

describeEachHydra(targets, 'npm run demo: failures', (target) => {
  it('when Hydra dies, the app is stopped too and the script exits 1 with a clear line', async () => {
    const run = runDemo({ ...(await demoPorts()), HYDRA_BIN: target.bin!, HYDRA_VERSION: target.version });
    try {
      await waitForOutput(run, '[demo] ready');
      const kids = childrenOf(run.proc.pid!);
      const hydra = kids.find((k) => k.command.includes(' serve all'))!;
      process.kill(hydra.pid, 'SIGKILL');
      const { code } = await run.exited;
      expect(code).toBe(1);
      expect(run.output()).toContain('[demo] hydra exited unexpectedly (signal SIGKILL); stopping the rest');
      for (const kid of kids) expect(alive(kid.pid), `${kid.command} still running`).toBe(false);
    } finally {
      run.proc.kill('SIGKILL');
    }
  }, 90_000);

  it('a port in use gets one line saying what to do', async () => {
    const ports = await demoPorts();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(ports.HYDRA_PUBLIC_PORT), '127.0.0.1', resolve));
    try {
      const run = runDemo({ ...ports, HYDRA_BIN: target.bin!, HYDRA_VERSION: target.version });
      const { code } = await run.exited;
      expect(code).toBe(1);
      expect(run.output().trim()).toBe(
        `[demo] port ${ports.HYDRA_PUBLIC_PORT} (Hydra's public API) is already in use: stop whatever listens there, or set HYDRA_PUBLIC_PORT to a free port`,
      );
    } finally {
      blocker.close();
    }
  });

  it('a HYDRA_BIN that is not there gets one line saying what to do', async () => {
    const run = runDemo({ ...(await demoPorts()), HYDRA_BIN: '/nonexistent/hydra', HYDRA_VERSION: target.version });
    const { code } = await run.exited;
    expect(code).toBe(1);
    expect(run.output().trim()).toBe(`[demo] HYDRA_BIN=/nonexistent/hydra is not an executable file; point it at a Hydra ${target.version} binary`);
  });
});
