import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { bruteForceLimits, TooManyAttemptsError } from '../../src/http/rate-limit.js';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

/** Brute-force limits on POST /login, with the per-process counters (no REDIS_URL). */
describe('POST /login rate limits', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function loginForm(app: TestApp) {
    const challenge = app.hydra.addLoginRequest();
    const form = await agentWithForm(app.app, `/login?login_challenge=${challenge}`);
    const attempt = (email: string, password: string, accept = 'text/html') =>
      form.agent.post('/login').type('form').set('Accept', accept).send({ _csrf: form.csrf, challenge, email, password, action: 'accept' });
    return { ...form, challenge, attempt };
  }

  it('limits failures per account, whatever case and spacing the address has, and says when to retry', async () => {
    t = await buildTestApp({ env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '3', LOGIN_RATE_LIMIT_PER_IP: '100', LOGIN_RATE_LIMIT_WINDOW: '900' } });
    const { attempt } = await loginForm(t);
    expect((await attempt('foo@bar.com', 'wrong-1')).status).toBe(401);
    expect((await attempt('FOO@bar.com ', 'wrong-2')).status).toBe(401);
    expect((await attempt(' Foo@Bar.com', 'wrong-3')).status).toBe(401);

    // The right password no longer helps: the account is locked for the window.
    const limited = await attempt('foo@bar.com', 'foobar');
    expect(limited.status).toBe(429);
    expect(limited.text).toContain('Too many attempts');
    expect(limited.text).toMatch(/try again in 15 minutes/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(890);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(900);
    // No counters for a guesser to read.
    expect(limited.headers['ratelimit']).toBeUndefined();
    expect(limited.headers['x-ratelimit-remaining']).toBeUndefined();
    expect(t.hydra.accepted.login).toHaveLength(0);

    // Another account from the same address is still judged on its password.
    expect((await attempt('other@example.com', 'wrong')).status).toBe(401);
  });

  it('counts failures only: a successful login or a deny does not use up the budget', async () => {
    t = await buildTestApp({ env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '2', LOGIN_RATE_LIMIT_PER_IP: '100' } });
    const { attempt, agent, csrf, challenge } = await loginForm(t);
    expect((await attempt('foo@bar.com', 'wrong')).status).toBe(401);
    expect((await attempt('foo@bar.com', 'foobar')).status).toBe(302);
    const deny = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', action: 'reject' });
    expect(deny.status).toBe(302);
    // Two failures in total are allowed; the third attempt after them is refused.
    const second = t.hydra.addLoginRequest();
    const again = await agentWithForm(t.app, `/login?login_challenge=${second}`);
    const post = (password: string) =>
      again.agent.post('/login').type('form').send({ _csrf: again.csrf, challenge: second, email: 'foo@bar.com', password, action: 'accept' });
    expect((await post('wrong')).status).toBe(401);
    expect((await post('foobar')).status).toBe(429);
  });

  it('limits failures per client IP across accounts, and answers JSON to clients that ask', async () => {
    t = await buildTestApp({ env: { LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_PER_ACCOUNT: '100', LOGIN_RATE_LIMIT_WINDOW: '60' } });
    const { attempt } = await loginForm(t);
    expect((await attempt('a@example.com', 'x')).status).toBe(401);
    expect((await attempt('b@example.com', 'x')).status).toBe(401);
    const limited = await attempt('c@example.com', 'x', 'application/json');
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: 'too_many_requests', error_description: expect.stringMatching(/try again in 1 minute\./) });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Empty fields are failed attempts too (no account to count, but the IP counts).
    expect((await attempt('', '')).status).toBe(429);
  });

  it('keeps limiting while a guesser keeps going, and never on GET', async () => {
    t = await buildTestApp({ env: { LOGIN_RATE_LIMIT_PER_IP: '1' } });
    const { attempt, challenge } = await loginForm(t);
    expect((await attempt('foo@bar.com', 'x')).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await attempt('foo@bar.com', 'x')).status).toBe(429);
    expect((await request(t.app).get(`/login?login_challenge=${challenge}`)).status).toBe(200);
  });
});

/**
 * Which client a per-IP counter belongs to. The limiter alone, behind a trusted loopback proxy so
 * that X-Forwarded-For names the client; every answer is a failed attempt, one allowed per client.
 */
describe('per-IP counter keys', () => {
  function limited() {
    const app = express();
    app.set('trust proxy', 'loopback');
    const config = { rateLimit: { perIp: 1, perAccount: 1, windowMs: 60_000 } };
    app.post('/', ...bruteForceLimits(config, { name: 'keys' }), (_req, res) => {
      res.sendStatus(401);
    });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.sendStatus(err instanceof TooManyAttemptsError ? 429 : 500);
    });
    return (from: string) => request(app).post('/').set('X-Forwarded-For', from).then((res) => res.status);
  }

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', async () => {
    const attempt = limited();
    expect(await attempt('1.2.3.4')).toBe(401);
    expect(await attempt('::ffff:1.2.3.4')).toBe(429);
    expect(await attempt('::ffff:102:304')).toBe(429);
    expect(await attempt('1.2.3.5')).toBe(401);
  });

  it('counts IPv6 clients by /64: rotating within one /64 buys nothing, the next /64 is another client', async () => {
    const attempt = limited();
    expect(await attempt('2001:db8:0:1::1')).toBe(401);
    expect(await attempt('2001:db8:0:1:ffff:ffff:ffff:fffe')).toBe(429);
    expect(await attempt('2001:DB8:0:1:0:0:0:7')).toBe(429);
    // Same /56, another /64: another customer's network.
    expect(await attempt('2001:db8:0:2::1')).toBe(401);
    expect(await attempt('2001:db8:0:ff::1')).toBe(401);
  });
});
