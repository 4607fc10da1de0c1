// Issue #11 item 4: POST /login asks Hydra before any argon2 work, every attempt that does not
// prove the password is counted by the limiter whatever its final status, and password checks
// run through a bounded queue (503 with Retry-After past it).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { demoUserStore } from '../../src/users/demo.js';
import type { UserStore } from '../../src/users/store.js';
import { agentWithForm, buildTestApp, formFields, type TestApp } from '../support/test-app.js';

/** The demo store, watched through the UserStore seam: calls, and how many run at once. */
async function watchedStore() {
  const inner = await demoUserStore();
  const stats = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const store: UserStore = {
    async verifyCredentials(email, password) {
      stats.calls++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        return await inner.verifyCredentials(email, password);
      } finally {
        stats.inFlight--;
      }
    },
    findBySubject: (subject) => inner.findBySubject(subject),
  };
  return { store, stats };
}

describe('POST /login: Hydra before argon2, every failed attempt counted', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setUp(env: Record<string, string>) {
    const { store, stats } = await watchedStore();
    t = await buildTestApp({ env, users: store });
    const app = t;
    // One form (CSRF cookie + token) from a real challenge; the POSTs then name whatever challenge they like.
    const form = await agentWithForm(app.app, `/login?login_challenge=${app.hydra.addLoginRequest()}`);
    const post = (challenge: string, email: string, password: string) =>
      form.agent.post('/login').type('form').send({ _csrf: form.csrf, challenge, email, password, action: 'accept' });
    const deny = (challenge: string, email: string) =>
      form.agent.post('/login').type('form').send({ _csrf: form.csrf, challenge, email, action: 'reject' });
    return { app, stats, post, deny };
  }

  it('asks Hydra first: an unknown, expired or handled challenge ends before any password check', async () => {
    const { app, stats, post } = await setUp({ LOGIN_RATE_LIMIT_PER_IP: '100', LOGIN_RATE_LIMIT_PER_ACCOUNT: '100' });
    expect((await post('bogus', 'foo@bar.com', 'wrong')).status).toBe(404);
    const expired = app.hydra.addLoginRequest();
    app.hydra.expire(expired);
    expect((await post(expired, 'foo@bar.com', 'wrong')).status).toBe(410);
    const handled = app.hydra.addLoginRequest({ request_url: 'http://hydra.test/oauth2/auth?client_id=demo' });
    app.hydra.markHandled(handled);
    const restart = await post(handled, 'foo@bar.com', 'foobar');
    expect(restart.status).toBe(302);
    expect(restart.headers.location).toBe('http://hydra.test/oauth2/auth?client_id=demo');
    expect(stats.calls, 'argon2 checks for challenges Hydra refused').toBe(0);
    expect(app.hydra.accepted.login).toHaveLength(0);

    // A live challenge: one GET to Hydra, then the check, then the accept.
    const live = app.hydra.addLoginRequest();
    app.hydra.calls.length = 0;
    expect((await post(live, 'foo@bar.com', 'foobar')).status).toBe(302);
    expect(stats.calls).toBe(1);
    expect(app.hydra.calls.map((call) => `${call.method} ${call.path}`)).toEqual([
      'GET /admin/oauth2/auth/requests/login',
      'PUT /admin/oauth2/auth/requests/login/accept',
    ]);
  });

  it('counts wrong passwords sent with challenge=bogus: after 3 the account gets 429, right password or not', async () => {
    const { app, post } = await setUp({ LOGIN_RATE_LIMIT_PER_ACCOUNT: '3', LOGIN_RATE_LIMIT_PER_IP: '100' });
    for (let i = 0; i < 3; i++) expect((await post('bogus', 'foo@bar.com', `wrong-${i}`)).status).toBe(404);
    const locked = await post(app.hydra.addLoginRequest(), 'FOO@bar.com', 'foobar');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(app.hydra.accepted.login).toHaveLength(0);
  });

  it('counts them per IP too, across accounts', async () => {
    const { app, post } = await setUp({ LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_PER_ACCOUNT: '100' });
    expect((await post('bogus', 'a@example.com', 'x')).status).toBe(404);
    expect((await post('bogus-2', 'b@example.com', 'x')).status).toBe(404);
    expect((await post(app.hydra.addLoginRequest(), 'c@example.com', 'x')).status).toBe(429);
  });

  it('does not count a success, a deny, or a Hydra outage (502) against the person', async () => {
    const { app, post, deny, stats } = await setUp({ LOGIN_RATE_LIMIT_PER_IP: '1', LOGIN_RATE_LIMIT_PER_ACCOUNT: '1' });
    expect((await post(app.hydra.addLoginRequest(), 'foo@bar.com', 'foobar')).status).toBe(302);
    expect((await deny(app.hydra.addLoginRequest(), 'foo@bar.com')).status).toBe(302);
    expect((await deny('bogus', 'foo@bar.com')).status).toBe(404);
    app.hydra.setFault('error500');
    expect((await post(app.hydra.addLoginRequest(), 'foo@bar.com', 'wrong')).status).toBe(502);
    expect((await post(app.hydra.addLoginRequest(), 'foo@bar.com', 'wrong')).status).toBe(502);
    app.hydra.setFault('none');
    expect(stats.calls).toBe(1);
    // The one failure allowed is still there; the next attempt is refused.
    expect((await post(app.hydra.addLoginRequest(), 'foo@bar.com', 'wrong')).status).toBe(401);
    expect((await post(app.hydra.addLoginRequest(), 'foo@bar.com', 'foobar')).status).toBe(429);
  });
});

describe('password checks go through a bounded queue', () => {
  let t: TestApp | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await t?.close();
    t = server = undefined;
  });

  it('defaults to CPUs × 2 running and 32 waiting, hashed at nice 10', async () => {
    t = await buildTestApp();
    expect(t.deps.config.passwordChecks).toEqual({ concurrency: availableParallelism() * 2, queue: 32, nice: 10 });
  });

  it('200 concurrent wrong-password POSTs: at most 4 checks at once, the overflow gets 503 + Retry-After, nothing breaks', async () => {
    const { store, stats } = await watchedStore();
    t = await buildTestApp({
      users: store,
      env: { LOGIN_HASH_CONCURRENCY: '4', LOGIN_HASH_QUEUE: '8', LOGIN_RATE_LIMIT_PER_IP: '10000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '10000' },
    });
    const app = t;
    server = app.app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server!.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const challenge = app.hydra.addLoginRequest();
    const page = await fetch(`${base}/login?login_challenge=${challenge}`);
    const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const { csrf } = formFields(await page.text());

    const post = async (i: number) => {
      const res = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ _csrf: csrf, challenge, email: i % 2 ? 'foo@bar.com' : `nobody-${i}@example.com`, password: `wrong-${i}`, action: 'accept' }),
      });
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => post(i)));
    const count = (status: number) => results.filter((r) => r.status === status).length;
    const summary = `401: ${count(401)}, 503: ${count(503)}, max at once: ${stats.maxInFlight}, checks: ${stats.calls}`;

    expect(stats.maxInFlight, summary).toBeLessThanOrEqual(4);
    expect(stats.maxInFlight, summary).toBeGreaterThan(0);
    expect(count(503), summary).toBeGreaterThan(0);
    expect(count(401), summary).toBeGreaterThanOrEqual(12); // at least the 4 running + 8 waiting
    expect(count(401) + count(503), summary).toBe(200); // no 500, no dropped connection
    expect(stats.calls, summary).toBe(count(401));
    for (const r of results.filter((r) => r.status === 503)) expect(r.retryAfter).toBe('2');
    console.info(`[login-attempts] 200 concurrent wrong passwords → ${summary}`);

    // And the app is fine afterwards: the right password signs in.
    const ok = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar', action: 'accept' }),
    });
    expect(ok.status).toBe(302);
  }, 60_000);
});
