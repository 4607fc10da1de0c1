import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { cookieValue, csrfProtection } from '../../src/http/csrf.js';
import { errorHandler } from '../../src/http/errors.js';
import { TEST_SESSION_SECRET } from '../support/test-app.js';

/** csrfProtection alone: GET /form answers the token, POST /form answers "ok" when it passes. */
function csrfApp(sessionSecret = TEST_SESSION_SECRET) {
  const { config } = loadConfig({ NODE_ENV: 'test', HYDRA_ADMIN_URL: 'http://127.0.0.1:1', SESSION_SECRET: sessionSecret, LOG_LEVEL: 'silent' });
  const app = express();
  app.use((_req, res, next) => {
    res.locals.apiRequest = true; // errors as JSON
    next();
  });
  app.use(express.urlencoded({ extended: false }), csrfProtection(config));
  app.get('/form', (_req, res) => {
    res.json({ token: res.locals.csrfToken });
  });
  app.post('/form', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorHandler());
  return app;
}

/** A browser's first visit: its secret cookie and the token of the page it got. */
async function visit(app: express.Express): Promise<{ cookie: string; token: string }> {
  const res = await request(app).get('/form');
  expect(res.status).toBe(200);
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = setCookie.find((c) => c.startsWith('hlc_csrf='))!.split(';')[0]!;
  return { cookie, token: res.body.token as string };
}

describe('CSRF protection (double submit, keyed MAC)', () => {
  const app = csrfApp();

  it('accepts a form that carries the token of its own page, in the field or the X-CSRF-Token header', async () => {
    const { cookie, token } = await visit(app);
    expect((await request(app).post('/form').set('Cookie', cookie).type('form').send({ _csrf: token })).status).toBe(200);
    expect((await request(app).post('/form').set('Cookie', cookie).set('X-CSRF-Token', token)).status).toBe(200);
  });

  it('issues a different token on every render, each valid: no fixed string for a compressing proxy to leak', async () => {
    const { cookie } = await visit(app);
    const tokens = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await request(app).get('/form').set('Cookie', cookie);
      expect(res.headers['set-cookie']).toBeUndefined();
      tokens.add(res.body.token as string);
    }
    expect(tokens.size).toBe(5);
    for (const token of tokens) {
      expect((await request(app).post('/form').set('Cookie', cookie).type('form').send({ _csrf: token })).status).toBe(200);
    }
  });

  it("refuses another browser's token, a forged or truncated one, and a missing one with 403 invalid_csrf_token", async () => {
    const mine = await visit(app);
    const theirs = await visit(app);
    const [salt, mac] = mine.token.split('.') as [string, string];
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [theirs.token, `${salt}.${flipped}`, `${salt}.${mac.slice(0, -2)}`, `ffffffff.${mac}`, mac, `.${mac}`, '', 'forged']) {
      const res = await request(app).post('/form').set('Cookie', mine.cookie).type('form').send({ _csrf: bad });
      expect(res.status, bad).toBe(403);
      expect(res.body.error, bad).toBe('invalid_csrf_token');
    }
    const none = await request(app).post('/form').set('Cookie', mine.cookie).type('form').send({ x: '1' });
    expect(none.status).toBe(403);
  });

  it('refuses a POST with no secret cookie, and gives the browser one so a reload works', async () => {
    const { token } = await visit(app);
    const res = await request(app).post('/form').type('form').send({ _csrf: token });
    expect(res.status).toBe(403);
    expect(String(res.headers['set-cookie'])).toMatch(/^hlc_csrf=[0-9a-f]{32};/);
  });

  it('replaces a secret that is not one of ours (wrong shape) instead of trusting it', async () => {
    const res = await request(app).get('/form').set('Cookie', 'hlc_csrf=attacker-chosen');
    expect(String(res.headers['set-cookie'])).toMatch(/^hlc_csrf=[0-9a-f]{32};/);
    const forged = await request(app).post('/form').set('Cookie', 'hlc_csrf=attacker-chosen').type('form').send({ _csrf: res.body.token });
    expect(forged.status).toBe(403);
  });

  it('keys tokens with SESSION_SECRET: a token from an app with another secret is refused', async () => {
    const other = csrfApp('another-session-secret-0123456789abcdef');
    const { cookie, token } = await visit(other);
    expect((await request(other).post('/form').set('Cookie', cookie).type('form').send({ _csrf: token })).status).toBe(200);
    expect((await request(app).post('/form').set('Cookie', cookie).type('form').send({ _csrf: token })).status).toBe(403);
  });
});

describe('cookieValue', () => {
  it('finds one cookie among others, the first when a name repeats, and nothing when absent', () => {
    expect(cookieValue('a=1; hlc_csrf=abc; b=2', 'hlc_csrf')).toBe('abc');
    expect(cookieValue('hlc_csrf=first;hlc_csrf=second', 'hlc_csrf')).toBe('first');
    expect(cookieValue('xhlc_csrf=no; hlc_csrfx=no', 'hlc_csrf')).toBeUndefined();
    expect(cookieValue(undefined, 'hlc_csrf')).toBeUndefined();
    expect(cookieValue('', 'hlc_csrf')).toBeUndefined();
  });
});
