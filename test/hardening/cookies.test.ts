import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { BoundedMemoryStore, sessionMiddleware } from '../../src/http/session.js';
import { buildTestApp, TEST_SESSION_SECRET, type TestApp } from '../support/test-app.js';

/** The session cookie as the admin console and the demo get it, on a minimal app. */
function sessionApp(env: Record<string, string> = {}) {
  const { config } = loadConfig({ NODE_ENV: 'test', HYDRA_ADMIN_URL: 'http://127.0.0.1:1', SESSION_SECRET: TEST_SESSION_SECRET, ...env });
  const app = express();
  app.set('trust proxy', config.trustProxy);
  app.use(sessionMiddleware(config, new BoundedMemoryStore()));
  app.get(/.*/, (req, res) => {
    Object.assign(req.session, { visits: 1 });
    res.json({ ok: true });
  });
  return app;
}

function cookieNamed(res: request.Response, name: string): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = cookies.find((c) => c.startsWith(`${name}=`));
  if (!cookie) throw new Error(`no ${name} cookie in ${JSON.stringify(cookies)}`);
  return cookie;
}

describe('session cookie', () => {
  it('is hlc_session, HttpOnly, SameSite=Lax, 8 hours, not Secure over plain http', async () => {
    const res = await request(sessionApp()).get('/');
    const cookie = cookieNamed(res, 'hlc_session');
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/; Secure/);
    const expires = Date.parse(/Expires=([^;]+)/.exec(cookie)![1]!);
    expect(expires - Date.now()).toBeGreaterThan(8 * 3600_000 - 60_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(8 * 3600_000 + 1000);
  });

  it('is __Host-hlc_session, Secure, on /, when BASE_URL is https (even under a sub-path)', async () => {
    const res = await request(sessionApp({ BASE_URL: 'https://login.example.com/auth' })).get('/auth/x').set('X-Forwarded-Proto', 'https');
    // express-session only sets a Secure cookie on a secure request; here the app does not
    // trust the proxy, so it must refuse rather than send a Secure cookie over http…
    expect(res.headers['set-cookie']).toBeUndefined();
    // …and behind a trusted TLS-terminating proxy it sends it.
    const proxied = await request(sessionApp({ BASE_URL: 'https://login.example.com/auth', TRUST_PROXY: '1' })).get('/auth/x').set('X-Forwarded-Proto', 'https');
    const cookie = cookieNamed(proxied, '__Host-hlc_session');
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; Path=\/;/);
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it("with TRUST_PROXY and an http BASE_URL, follows the proxy: Secure exactly when it says https", async () => {
    const app = sessionApp({ TRUST_PROXY: '1' });
    expect(cookieNamed(await request(app).get('/').set('X-Forwarded-Proto', 'https'), 'hlc_session')).toMatch(/; Secure/);
    expect(cookieNamed(await request(app).get('/'), 'hlc_session')).not.toMatch(/; Secure/);
    // An untrusted X-Forwarded-Proto changes nothing.
    expect(cookieNamed(await request(sessionApp()).get('/').set('X-Forwarded-Proto', 'https'), 'hlc_session')).not.toMatch(/; Secure/);
  });
});

describe('CSRF cookie', () => {
  const apps: TestApp[] = [];
  let plain: TestApp;
  let proxied: TestApp;
  let https: TestApp;
  beforeAll(async () => {
    plain = await buildTestApp();
    proxied = await buildTestApp({ env: { TRUST_PROXY: '1' } });
    https = await buildTestApp({ env: { BASE_URL: 'https://login.example.com' } });
    apps.push(plain, proxied, https);
  });
  afterAll(() => Promise.all(apps.map((a) => a.close())));

  const csrfCookie = async (t: TestApp, proto?: string) => {
    const req = request(t.app).get(`/login?login_challenge=${t.hydra.addLoginRequest()}`);
    if (proto) req.set('X-Forwarded-Proto', proto);
    const res = await req;
    expect(res.status).toBe(200);
    const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    const cookie = cookies.find((c) => /^(__Host-)?hlc_csrf=/.test(c));
    if (!cookie) throw new Error(`no CSRF cookie in ${JSON.stringify(cookies)}`);
    return cookie;
  };

  it('is a random secret, HttpOnly and SameSite=Lax; Secure and __Host- with an https BASE_URL, or when a trusted proxy says https', async () => {
    const base = await csrfCookie(plain);
    expect(base).toMatch(/^hlc_csrf=[\w-]{24}; Path=\/;/);
    expect(await csrfCookie(plain)).not.toBe(base);
    expect(base).toMatch(/; HttpOnly/);
    expect(base).toMatch(/; SameSite=Lax/);
    expect(base).not.toMatch(/; Secure/);
    expect(await csrfCookie(plain, 'https')).toMatch(/^hlc_csrf=.*; HttpOnly; SameSite=Lax$/);
    expect(await csrfCookie(proxied, 'https')).toMatch(/^__Host-hlc_csrf=[\w-]{24}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(await csrfCookie(proxied)).toMatch(/^hlc_csrf=.*; HttpOnly; SameSite=Lax$/);
    expect(await csrfCookie(https)).toMatch(/^__Host-hlc_csrf=[\w-]{24}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });
});
