import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts } from '../../scripts/free-port.js';
import { spawnWatchdog, waitUntilReady } from '../../scripts/hydra-process.js';
import { postgresBinDir, startPostgresServer, type PostgresServer } from '../support/postgres-server.js';
import { hasRedisServer, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { ADMIN_TOKEN, adminRequest, SESSION_SECRET } from './support/app.js';
import { describeEachHydra, hydraTargets, isCI, startHydra, type HydraInstance, type HydraTarget } from './support/hydra.js';
import { createHydraClient, describeLanding, OAuthDriver, parseForms, type Landing, type TestClient } from './support/oauth.js';

/**
 * Two app instances as an operator runs them behind a load balancer: two separate `src/server.ts`
 * processes (no module state in common), one real Postgres for the users, one real Redis for
 * sessions and sign-in counters, one real Hydra whose login/consent URLs point at instance A only.
 * Whatever one instance writes, the other must see: accounts, audit events, admin sessions,
 * failed-sign-in counters, a disabled flag.
 */

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const MFA_ENCRYPTION_KEY = 'e2e-mfa-encryption-key-0123456789abcdefghijkl';
/** Small, so the shared counter is reached in a few requests; per IP high (everything is 127.0.0.1). */
const PER_ACCOUNT_LIMIT = 3;

function missingServers(): string | undefined {
  const missing = [postgresBinDir() === undefined ? 'PostgreSQL (apt-get install -y postgresql)' : '', hasRedisServer() ? '' : 'redis-server (apt-get install -y redis-server)'].filter((m) => m !== '');
  if (missing.length === 0) return undefined;
  const why = `${missing.join(' and ')} not installed`;
  if (isCI()) throw new Error(`e2e two instances: ${why}; CI must run it`);
  console.warn(`[e2e] skipping e2e two instances: ${why}`);
  return why;
}

const skip = missingServers() !== undefined;
const targets: HydraTarget[] = hydraTargets('e2e two instances').map((t) => (skip ? { ...t, bin: undefined } : t));

/** One app process: node --import tsx src/server.ts, with a watchdog so a dead test worker takes it along. */
interface AppProcess {
  name: string;
  baseUrl: string;
  output(): string;
  stop(): Promise<void>;
}

async function startApp(name: string, port: number, env: Record<string, string>): Promise<AppProcess> {
  const baseUrl = `http://127.0.0.1:${port}`;
  let out = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'server.ts')], {
    cwd: ROOT,
    // Only what we pass: an inherited REDIS_URL or DATABASE_URL must not leak in.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: String(port), BASE_URL: baseUrl, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-16384);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const watchdog = spawnWatchdog(child.pid!, 'process');
  const exited = () => (child.exitCode !== null || child.signalCode !== null ? (child.signalCode ?? `code ${child.exitCode}`) : undefined);
  const stop = async () => {
    watchdog.kill('SIGKILL');
    if (exited() !== undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  try {
    await waitUntilReady([`${baseUrl}/health/ready`], { timeoutMs: 60_000, exited });
  } catch (error) {
    await stop();
    throw new Error(`app ${name} ${(error as Error).message}:\n${out}`);
  }
  return { name, baseUrl, output: () => out, stop };
}

/** Calls an instance's /admin JSON API with the bearer token. */
function adminApi(on: AppProcess, method: string, urlPath: string, body?: unknown) {
  return adminRequest(on.baseUrl, method, urlPath, body);
}

/**
 * One browser's cookies, sent to whichever instance it reaches: a load balancer puts both behind
 * one origin, so a browser would send them the same cookies (here: two ports, one jar).
 */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /Expires=Thu, 01 Jan 1970/i.test(line) || /Max-Age=0\b/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; '));
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const res = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    this.take(res);
    return res;
  }
}

function csrfIn(html: string, url: string): string {
  for (const form of parseForms(html, new URL(url))) {
    const hidden = form.controls.find((c) => c.name === '_csrf');
    if (hidden !== undefined) return hidden.value;
  }
  throw new Error(`no _csrf field on ${url}`);
}

/** Signs in to the admin console on `on`; the jar then holds the session cookie. */
async function adminSignIn(on: AppProcess, jar = new Jar()): Promise<Jar> {
  const page = await jar.fetch(`${on.baseUrl}/admin/login`);
  expect(page.status).toBe(200);
  const csrf = csrfIn(await page.text(), page.url);
  const res = await jar.fetch(`${on.baseUrl}/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, token: ADMIN_TOKEN }).toString(),
  });
  await res.body?.cancel();
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toMatch(/\/admin\/clients$/);
  expect(jar.has('hlc_session')).toBe(true);
  return jar;
}

/** An admin console page through the jar's session: 200 when signed in, else 303 to /admin/login. */
async function consolePage(on: AppProcess, jar: Jar): Promise<{ status: number; location: string | null; html: string }> {
  const res = await jar.fetch(`${on.baseUrl}/admin/users`);
  return { status: res.status, location: res.headers.get('location'), html: await res.text() };
}

describeEachHydra(targets, 'two app instances on one Postgres and one Redis', (target) => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let hydra: HydraInstance;
  let a: AppProcess;
  let b: AppProcess;
  let client: TestClient;

  beforeAll(async () => {
    const [portA, portB] = (await freePorts(2)) as [number, number];
    [postgres, redis] = await Promise.all([startPostgresServer('instances_test'), startRedisServer()]);
    // Hydra's login, consent, logout and error URLs point at A only: B is reached only directly.
    hydra = await startHydra({ appBaseUrl: `http://127.0.0.1:${portA}`, release: target, bin: target.bin });
    const shared = {
      NODE_ENV: 'test',
      HYDRA_ADMIN_URL: hydra.adminUrl,
      HYDRA_API_VERSION: hydra.release.apiVersion,
      HYDRA_PUBLIC_URL: hydra.publicUrl,
      HYDRA_TIMEOUT_MS: '5000',
      SESSION_SECRET,
      ADMIN_TOKEN,
      MFA_ENCRYPTION_KEY,
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      LOGIN_RATE_LIMIT_PER_ACCOUNT: String(PER_ACCOUNT_LIMIT),
      LOGIN_RATE_LIMIT_PER_IP: '1000',
      LOG_LEVEL: process.env.E2E_APP_LOG_LEVEL ?? 'error',
    };
    // One after the other: the first creates the schema (and seeds the demo user into the empty database).
    a = await startApp('A', portA, shared);
    b = await startApp('B', portB, shared);
    client = await createHydraClient(hydra, { client_name: 'e2e two instances' });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await hydra?.stop();
    await Promise.all([redis?.close(), postgres?.close()]);
  });

  /** A user created through `on`'s admin JSON API. */
  async function createUser(on: AppProcess, email: string, password: string): Promise<{ id: string; subject: string }> {
    const created = await adminApi(on, 'POST', '/admin/users', { email, password, email_verified: true, name: 'Two Instances' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body as { id: string; subject: string };
  }

  async function auditActions(on: AppProcess, id: string): Promise<Array<{ action: string; detail: string | null }>> {
    const trail = await adminApi(on, 'GET', `/admin/users/${id}/audit`);
    expect(trail.status).toBe(200);
    return trail.body as Array<{ action: string; detail: string | null }>;
  }

  /**
   * Starts an authorization at Hydra (which sends the browser to A's /login), then loads the same
   * challenge's login page from `on`, with `on`'s CSRF cookie and token: the login form to submit.
   */
  async function loginFormOn(d: OAuthDriver, on: AppProcess): Promise<{ auth: Awaited<ReturnType<OAuthDriver['startAuthorization']>>; page: Landing }> {
    const auth = await d.startAuthorization({ client, scope: 'openid email' });
    expect(auth.landing.kind, describeLanding(auth.landing)).toBe('login');
    expect(auth.landing.url.origin).toBe(a.baseUrl);
    const challenge = d.challengeOf(auth.landing)!;
    const page = on === a ? auth.landing : await d.follow(`${on.baseUrl}/login?login_challenge=${encodeURIComponent(challenge)}`);
    expect(page.status, describeLanding(page)).toBe(200);
    expect(d.challengeOf(page)).toBe(challenge);
    return { auth, page };
  }

  const submitLogin = (d: OAuthDriver, page: Landing, email: string, password: string) =>
    d.submit(page, 'accept', { set: { email, password, remember: false } });

  /** Password on `on`, consent on A (Hydra's consent URL), the code exchanged: the ID token's claims. */
  async function signIn(on: AppProcess, email: string, password: string) {
    const d = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl: a.baseUrl });
    const { auth, page } = await loginFormOn(d, on);
    const consent = await submitLogin(d, page, email, password);
    expect(consent.kind, describeLanding(consent)).toBe('consent');
    const callback = await d.consent(consent);
    expect(callback.kind, describeLanding(callback)).toBe('callback');
    expect(callback.params.get('error')).toBeNull();
    return (await d.exchangeCode(client, callback, auth.codeVerifier)).claims;
  }

  it('runs two processes on one database: a user created through A is listed by B and signs in on B; A sees B\'s audit event', async () => {
    const email = `made-on-a-${target.version}@example.com`;
    const password = 'a long passphrase for the user made on A';
    const user = await createUser(a, email, password);

    const listed = await adminApi(b, 'GET', `/admin/users?search=${encodeURIComponent(email)}`);
    expect(listed.status).toBe(200);
    expect((listed.body as Array<{ id: string; email: string }>).map((u) => [u.id, u.email])).toEqual([[user.id, email]]);
    expect((await adminApi(b, 'GET', `/admin/users/${user.id}`)).body).toMatchObject({ id: user.id, email, disabled: false });

    // Before: nothing signed in yet.
    expect((await auditActions(a, user.id)).map((e) => e.action)).not.toContain('login.succeeded');
    // The password goes to B, with the CSRF cookie and token from B's own page.
    const claims = await signIn(b, email, password);
    expect(claims).toMatchObject({ sub: user.subject, email });
    // A never saw that POST, yet reads the event B wrote to the shared database.
    expect((await auditActions(a, user.id)).map((e) => e.action)).toContain('login.succeeded');
  });

  it('honours on B an admin console session made on A, and a sign-out on B ends it on A', async () => {
    // Control: a browser with no session is sent to the sign-in page by both.
    const anonymous = new Jar();
    expect(await consolePage(b, anonymous)).toMatchObject({ status: 303, location: expect.stringMatching(/\/admin\/login$/) });

    const jar = await adminSignIn(a);
    expect((await consolePage(a, jar)).status).toBe(200);
    const onB = await consolePage(b, jar);
    expect(onB.status).toBe(200);
    expect(onB.html).toContain('foo@bar.com');

    const sid = jar.get('hlc_session');
    const logout = await jar.fetch(`${b.baseUrl}/admin/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfIn(onB.html, `${b.baseUrl}/admin/users`) }).toString(),
    });
    await logout.body?.cancel();
    expect(logout.status).toBe(303);
    // The old cookie is sent to A on purpose: the session itself must be gone from Redis, not only the cookie.
    const res = await fetch(`${a.baseUrl}/admin/users`, { headers: { cookie: `hlc_session=${sid}`, accept: 'text/html' }, redirect: 'manual' });
    await res.body?.cancel();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/\/admin\/login$/);
  });

  it('counts sign-in failures together: failures on A then B reach the per-account limit on both', async () => {
    const email = `limited-${target.version}@example.com`;
    const password = 'a long passphrase for the rate-limited user';
    await createUser(b, email, password);
    const d = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl: a.baseUrl });
    const onA = (await loginFormOn(d, a)).page;
    const onB = (await loginFormOn(d, b)).page;

    // PER_ACCOUNT_LIMIT (3) failures, alternating instances: each one alone has seen at most 2.
    expect((await submitLogin(d, onA, email, 'wrong 1')).status).toBe(401);
    expect((await submitLogin(d, onB, email, 'wrong 2')).status).toBe(401);
    expect((await submitLogin(d, onA, email, 'wrong 3')).status).toBe(401);
    // Over the shared limit: refused on both, even with the right password.
    const limitedB = await submitLogin(d, onB, email, password);
    expect(limitedB.status, describeLanding(limitedB)).toBe(429);
    expect(limitedB.html).toMatch(/try again in 15 minutes/i);
    const limitedA = await submitLogin(d, onA, email, password);
    expect(limitedA.status, describeLanding(limitedA)).toBe(429);
  });

  it('refuses on A a user disabled on B', async () => {
    const email = `disabled-${target.version}@example.com`;
    const password = 'a long passphrase for the user to disable';
    const user = await createUser(a, email, password);
    // Control: A signs them in while they are enabled (and so has the account in hand, if it cached it).
    expect(await signIn(a, email, password)).toMatchObject({ sub: user.subject });

    const disabled = await adminApi(b, 'PATCH', `/admin/users/${user.id}`, { disabled: true });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    expect(disabled.body).toMatchObject({ id: user.id, disabled: true });

    const d = new OAuthDriver({ hydraPublicUrl: hydra.publicUrl, appBaseUrl: a.baseUrl });
    const { page } = await loginFormOn(d, a);
    const refused = await submitLogin(d, page, email, password);
    expect(refused.status, describeLanding(refused)).toBe(401);
    expect(refused.kind).toBe('login');
    // Refused for being disabled (not a stale password), as B reads from the event A wrote.
    expect(await auditActions(b, user.id)).toContainEqual(expect.objectContaining({ action: 'login.failed', detail: 'disabled' }));
  });
});

