import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/deps.js';
import { startFakeHydra, type FakeHydra } from '../support/fake-hydra.js';
import { skipWithoutRedis, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { formFields, TEST_ADMIN_TOKEN, TEST_SESSION_SECRET } from '../support/test-app.js';

/**
 * Two app instances, built by the production wiring (buildDeps with REDIS_URL), behind an
 * imaginary load balancer, sharing one real redis-server: CSRF tokens, sessions and failed-login
 * counters must cross from one to the other. Then Redis goes away and comes back.
 */

interface Instance {
  app: Express;
  deps: AppDeps;
}

/** A minimal cookie jar: the browser's cookies, sent to whichever instance it reaches. */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(res: request.Response): this {
    for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /Expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return this;
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

const skip = skipWithoutRedis();

describe.skipIf(skip)('two instances sharing one Redis', () => {
  let redis: RedisServer;
  let hydra: FakeHydra;
  let a: Instance;
  let b: Instance;

  async function instance(): Promise<Instance> {
    const { config } = loadConfig({
      NODE_ENV: 'test',
      HYDRA_ADMIN_URL: hydra.url,
      HYDRA_API_VERSION: hydra.apiVersion,
      SESSION_SECRET: TEST_SESSION_SECRET,
      ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'silent',
      LOGIN_RATE_LIMIT_PER_ACCOUNT: '3',
      LOGIN_RATE_LIMIT_PER_IP: '1000',
    });
    const deps = await buildDeps(config);
    expect(deps.redis?.isReady()).toBe(true);
    return { app: createApp(deps), deps };
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    hydra = await startFakeHydra();
    a = await instance();
    b = await instance();
  });
  afterAll(async () => {
    await Promise.all([a?.deps.redis?.close(), b?.deps.redis?.close()]);
    await hydra?.close();
    await redis?.close();
  });

  /** Loads the login page on `on` and returns a login POST for any instance. */
  async function loginPage(on: Instance, jar = new Jar()) {
    const challenge = hydra.addLoginRequest();
    const page = await request(on.app).get(`/login?login_challenge=${challenge}`).set('Cookie', jar.header());
    expect(page.status).toBe(200);
    jar.take(page);
    const { csrf } = formFields(page.text);
    const post = (to: Instance, email: string, password: string, accept = 'text/html') =>
      request(to.app).post('/login').set('Cookie', jar.header()).set('Accept', accept).type('form')
        .send({ _csrf: csrf, challenge, email, password, action: 'accept' });
    return { challenge, csrf, jar, post };
  }

  /** Signs in to the admin console through `on`; the jar then holds the session cookie. */
  async function adminLogin(on: Instance, jar = new Jar()) {
    const page = await request(on.app).get('/admin/login').set('Cookie', jar.header());
    expect(page.status).toBe(200);
    jar.take(page);
    const { csrf } = formFields(page.text);
    const res = await request(on.app).post('/admin/login').set('Cookie', jar.header()).type('form').send({ _csrf: csrf, token: TEST_ADMIN_TOKEN });
    expect(res.status).toBe(303);
    jar.take(res);
    expect(jar.has('hlc_session')).toBe(true);
    return jar;
  }

  const adminPage = (on: Instance, jar: Jar) => request(on.app).get('/admin/clients').set('Cookie', jar.header());

  it('accepts on B a CSRF token that A issued, and still refuses a forged one', async () => {
    const { post, jar, challenge } = await loginPage(a);
    const res = await post(b, 'foo@bar.com', 'foobar');
    expect(res.status).toBe(302);
    expect(hydra.accepted.login.at(-1)!.challenge).toBe(challenge);

    const forged = await request(b.app).post('/login').set('Cookie', jar.header()).type('form')
      .send({ _csrf: 'forged-token', challenge, email: 'foo@bar.com', password: 'foobar' });
    expect(forged.status).toBe(403);
  });

  it('shares sessions: an admin signed in on A is signed in on B, and signing out on B ends it on A', async () => {
    const jar = await adminLogin(a);
    expect((await adminPage(b, jar)).status).toBe(200);
    expect((await adminPage(a, jar)).status).toBe(200);
    const keys = await a.deps.redis!.client.keys('hlc:sess:*');
    expect(keys.length).toBeGreaterThan(0);

    const logoutForm = formFields((await adminPage(b, jar)).text);
    const out = await request(b.app).post('/admin/logout').set('Cookie', jar.header()).type('form').send({ _csrf: logoutForm.csrf });
    expect(out.status).toBe(303);
    const after = await adminPage(a, jar);
    expect(after.status).toBe(303);
    expect(after.headers.location).toMatch(/\/admin\/login$/);
  });

  it('counts failed logins together: failures on A and B lock the account on both', async () => {
    const { post } = await loginPage(a);
    expect((await post(a, 'shared@bar.com', 'wrong-1')).status).toBe(401);
    expect((await post(b, 'Shared@bar.com', 'wrong-2')).status).toBe(401);
    expect((await post(a, 'shared@bar.com ', 'wrong-3')).status).toBe(401);
    const limited = await post(b, 'shared@bar.com', 'wrong-4');
    expect(limited.status).toBe(429);
    expect(limited.text).toMatch(/try again in 15 minutes/);
    expect((await post(a, 'shared@bar.com', 'wrong-5')).status).toBe(429);
    // The counters are in Redis, keyed by a digest, never the address.
    const keys = await a.deps.redis!.client.keys('hlc:rl:login:*');
    expect(keys.some((key) => key.startsWith('hlc:rl:login:account:'))).toBe(true);
    expect(keys.some((key) => key.startsWith('hlc:rl:login:ip:'))).toBe(true);
    expect(keys.join()).not.toContain('shared@bar.com');
  });

  it('answers 503 at once while Redis is away, keeps serving what needs no Redis, and recovers when it returns', async () => {
    const jar = await adminLogin(b);
    const { post } = await loginPage(a);

    await redis.stop();

    // Sign-in limits cannot be checked: fail closed, quickly, as a page and as JSON.
    const started = Date.now();
    const page = await post(a, 'foo@bar.com', 'foobar');
    expect(page.status).toBe(503);
    expect(page.text).toContain('Temporarily unavailable');
    const json = await post(b, 'foo@bar.com', 'foobar', 'application/json');
    expect(json.status).toBe(503);
    expect(json.body.error).toBe('rate_limit_store_unavailable');
    expect(Date.now() - started).toBeLessThan(3000);

    // A session cannot be loaded: 503, saying so.
    const session = await adminPage(a, jar);
    expect(session.status).toBe(503);
    expect(session.text).toContain('session store is unavailable');

    // The login page itself needs no Redis.
    const challenge = hydra.addLoginRequest();
    expect((await request(a.app).get(`/login?login_challenge=${challenge}`)).status).toBe(200);

    const ready = await request(a.app).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', hydra: 'ok', redis: 'unreachable' });

    // Redis returns (empty: it persists nothing) on the same port; both clients reconnect alone.
    await redis.start();
    const deadline = Date.now() + 15_000;
    while (!(a.deps.redis!.isReady() && b.deps.redis!.isReady())) {
      if (Date.now() > deadline) throw new Error('the app did not reconnect to Redis');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await request(a.app).get('/health/ready')).status).toBe(200);
    // Counting works again (the Lua scripts are reloaded into the new Redis).
    const fresh = await loginPage(b);
    expect((await fresh.post(a, 'foo@bar.com', 'wrong')).status).toBe(401);
    expect((await fresh.post(b, 'foo@bar.com', 'foobar')).status).toBe(302);
    // The old session went with the old Redis; a new one works across instances again.
    expect((await adminPage(a, jar)).status).toBe(303);
    const again = await adminLogin(a);
    expect((await adminPage(b, again)).status).toBe(200);
  });
});
