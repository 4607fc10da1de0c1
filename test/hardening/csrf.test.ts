// CSRF (src/http/csrf.ts, csurf): cookie mode on the anonymous flow pages, session mode wherever
// there is a session, and the cookie-planting attack of issue #11 against both.
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { csrfProtection, csrfSecretPool, sessionCsrfProtection } from '../../src/http/csrf.js';
import { errorHandler } from '../../src/http/errors.js';
import { BoundedMemoryStore, sessionMiddleware } from '../../src/http/session.js';
import { buildTestApp, formFields, TEST_ADMIN_TOKEN, type TestApp } from '../support/test-app.js';

const ENV = { NODE_ENV: 'test', HYDRA_ADMIN_URL: 'http://127.0.0.1:1', SESSION_SECRET: 'test-session-secret-0123456789abcdef', LOG_LEVEL: 'silent' };

/** A CSRF middleware alone: GET /form answers the token, POST /form answers "ok" when it passes. */
function csrfApp(env: Record<string, string> = {}, mode: 'cookie' | 'session' = 'cookie', secrets?: () => string | undefined) {
  const { config } = loadConfig({ ...ENV, ...env });
  const app = express();
  app.set('trust proxy', config.trustProxy);
  app.use((_req, res, next) => {
    res.locals.apiRequest = true; // errors as JSON
    next();
  });
  app.use(express.urlencoded({ extended: false }));
  if (mode === 'session') app.use(sessionMiddleware(config, new BoundedMemoryStore()), sessionCsrfProtection(config));
  else app.use(csrfProtection(config, secrets));
  const site = express.Router();
  site.get('/form', (_req, res) => {
    res.json({ token: res.locals.csrfToken });
  });
  site.post('/form', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(config.basePath || '/', site);
  app.use(errorHandler());
  return app;
}

function setCookies(res: request.Response): string[] {
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []);
}

/** The `name=value` of the CSRF cookie a response set, whichever of the two names it has. */
function csrfPair(res: request.Response): string | undefined {
  return setCookies(res).find((c) => /^(__Host-)?hlc_csrf=/.test(c))?.split(';')[0];
}

const valueOf = (pair: string) => pair.slice(pair.indexOf('=') + 1);

/** A browser's first visit: its secret cookie and the token of the page it got. */
async function visit(app: express.Express, path = '/form'): Promise<{ cookie: string; token: string }> {
  const res = await request(app).get(path);
  expect(res.status).toBe(200);
  return { cookie: csrfPair(res)!, token: res.body.token as string };
}

const post = (app: express.Express, cookie: string | undefined, token: string | undefined, path = '/form') => {
  const req = request(app).post(path).type('form');
  if (cookie !== undefined) req.set('Cookie', cookie);
  return req.send(token === undefined ? { x: '1' } : { _csrf: token });
};

describe('cookie mode (the flow pages)', () => {
  const app = csrfApp();

  it('accepts the token of its own page, in the _csrf field or the X-CSRF-Token header', async () => {
    const { cookie, token } = await visit(app);
    expect((await post(app, cookie, token)).status).toBe(200);
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
    for (const token of tokens) expect((await post(app, cookie, token)).status).toBe(200);
  });

  it("refuses another browser's token, a forged or truncated one, and a missing one with 403 invalid_csrf_token", async () => {
    const mine = await visit(app);
    const theirs = await visit(app);
    const flipped = `${mine.token.slice(0, -1)}${mine.token.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of [theirs.token, flipped, mine.token.slice(0, -2), mine.token.split('-').slice(1).join('-'), '', 'forged']) {
      const res = await post(app, mine.cookie, bad);
      expect(res.status, bad).toBe(403);
      expect(res.body, bad).toEqual({ error: 'invalid_csrf_token', error_description: expect.stringContaining('could not be verified') });
    }
    expect((await post(app, mine.cookie, undefined)).status).toBe(403);
  });

  it('never takes the token from the query string (URLs end up in logs and Referer headers)', async () => {
    const { cookie, token } = await visit(app);
    expect((await request(app).post(`/form?_csrf=${encodeURIComponent(token)}`).set('Cookie', cookie).type('form').send({ x: '1' })).status).toBe(403);
  });

  it('refuses a POST with no secret cookie, and gives the browser one so that a reload works', async () => {
    const { token } = await visit(app);
    const res = await post(app, undefined, token);
    expect(res.status).toBe(403);
    const cookie = csrfPair(res)!;
    expect(cookie).toMatch(/^hlc_csrf=[\w-]{24}$/);
    const reloaded = await request(app).get('/form').set('Cookie', cookie);
    expect((await post(app, cookie, reloaded.body.token as string)).status).toBe(200);
  });

  it('replaces a secret that is not one of ours (wrong shape) instead of trusting it', async () => {
    const res = await request(app).get('/form').set('Cookie', 'hlc_csrf=attacker-chosen');
    expect(csrfPair(res)).toMatch(/^hlc_csrf=[\w-]{24}$/);
    expect((await post(app, 'hlc_csrf=attacker-chosen', res.body.token as string)).status).toBe(403);
  });

  it('refuses a request that carries the cookie twice (one planted), GET or POST, and sets no cookie', async () => {
    const victim = await visit(app);
    const attacker = await visit(app);
    for (const cookie of [`${attacker.cookie}; ${victim.cookie}`, `${victim.cookie}; other=1; ${attacker.cookie}`]) {
      for (const token of [attacker.token, victim.token]) {
        const res = await post(app, cookie, token);
        expect(res.status).toBe(403);
        expect(res.body.error).toBe('invalid_csrf_token');
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      expect((await request(app).get('/form').set('Cookie', cookie)).status).toBe(403);
    }
    // Another cookie whose name merely contains ours is not a copy.
    expect((await post(app, `xhlc_csrf=1; hlc_csrfx=2; ${victim.cookie}`, victim.token)).status).toBe(200);
  });

  it('accepts on another instance a token this one issued (nothing is kept server-side)', async () => {
    const { cookie, token } = await visit(app);
    expect((await post(csrfApp(), cookie, token)).status).toBe(200);
  });
});

describe('the pool of secrets made ahead (no synchronous randomBytes on a first visit)', () => {
  const filled = async (pool: () => string | undefined) => {
    // The first fill is asynchronous: until it lands the pool is empty.
    for (let i = 0; i < 100; i++) {
      const secret = pool();
      if (secret !== undefined) return secret;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error('the pool never filled');
  };

  it("hands out csurf's kind of secret (18 random bytes, base64url), each once, and fills again when low", async () => {
    const pool = csrfSecretPool(8);
    const seen = new Set([await filled(pool)]);
    // Draining below a quarter starts the next fill; what is left is still handed out meanwhile.
    for (let i = 0; i < 7; i++) seen.add(pool()!);
    expect(pool()).toBeUndefined();
    for (let i = 0; i < 30; i++) seen.add(await filled(pool));
    expect(seen.size).toBe(38);
    for (const secret of seen) expect(secret).toMatch(/^[\w-]{24}$/);
  });

  it('a first visit gets the pooled secret as its cookie, once, and the page token verifies against it', async () => {
    const secret = 'Zx9'.repeat(8);
    const app = csrfApp({}, 'cookie', () => secret);
    const res = await request(app).get('/form');
    expect(setCookies(res).filter((c) => c.startsWith('hlc_csrf='))).toEqual([`hlc_csrf=${secret}; Path=/; HttpOnly; SameSite=Lax`]);
    expect((await post(app, `hlc_csrf=${secret}`, res.body.token as string)).status).toBe(200);
    // A POST never takes a pooled secret: without its cookie it fails, as before.
    expect((await post(app, undefined, res.body.token as string)).status).toBe(403);
  });

  it('with the pool empty (a burst), csurf makes the secret itself and the page still works', async () => {
    const app = csrfApp({}, 'cookie', () => undefined);
    const { cookie, token } = await visit(app);
    expect(cookie).toMatch(/^hlc_csrf=[\w-]{24}$/);
    expect((await post(app, cookie, token)).status).toBe(200);
  });
});

describe('cookie mode when cookies are Secure', () => {
  it('names the cookie __Host-hlc_csrf: Secure, HttpOnly, SameSite=Lax, Path=/ even under a sub-path', async () => {
    for (const env of [{ BASE_URL: 'https://login.example.com' }, { BASE_URL: 'https://example.com/auth' }]) {
      const app = csrfApp(env);
      const res = await request(app).get(`${new URL(env.BASE_URL).pathname.replace(/\/$/, '')}/form`);
      const cookie = setCookies(res).join('\n');
      expect(cookie).toMatch(/^__Host-hlc_csrf=[\w-]{24}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    }
    // Over plain http the cookie keeps the sub-path.
    const plain = await request(csrfApp({ BASE_URL: 'http://example.com/auth' })).get('/auth/form');
    expect(setCookies(plain).join('\n')).toMatch(/^hlc_csrf=[\w-]{24}; Path=\/auth; HttpOnly; SameSite=Lax$/);
  });

  it('with TRUST_PROXY and an http BASE_URL, uses __Host- exactly when the trusted proxy says https', async () => {
    const app = csrfApp({ TRUST_PROXY: '1' });
    expect(csrfPair(await request(app).get('/form').set('X-Forwarded-Proto', 'https'))).toMatch(/^__Host-hlc_csrf=/);
    expect(csrfPair(await request(app).get('/form'))).toMatch(/^hlc_csrf=/);
    expect(csrfPair(await request(csrfApp()).get('/form').set('X-Forwarded-Proto', 'https'))).toMatch(/^hlc_csrf=/);
  });

  it('ignores a planted hlc_csrf (any subdomain can set one), and refuses two __Host- cookies', async () => {
    const app = csrfApp({ BASE_URL: 'https://login.example.com' });
    const victim = await visit(app);
    const attacker = await visit(app);
    expect(victim.cookie).toMatch(/^__Host-hlc_csrf=/);
    const planted = `hlc_csrf=${valueOf(attacker.cookie)}`;
    expect((await post(app, `${planted}; ${victim.cookie}`, attacker.token)).status).toBe(403);
    expect((await post(app, planted, attacker.token)).status).toBe(403);
    expect((await post(app, `${planted}; ${victim.cookie}`, victim.token)).status).toBe(200);
    expect((await post(app, `${attacker.cookie}; ${victim.cookie}`, attacker.token)).status).toBe(403);
  });
});

describe('session mode', () => {
  const app = csrfApp({}, 'session');

  /** A browser with a session: its session cookie and a token from its page. */
  async function sessionVisit() {
    const res = await request(app).get('/form');
    const cookie = setCookies(res).find((c) => c.startsWith('hlc_session='))!.split(';')[0]!;
    expect(csrfPair(res)).toBeUndefined();
    return { cookie, token: res.body.token as string };
  }

  it('keeps the secret in the session: the page sets no CSRF cookie, and its token works with that session only', async () => {
    const mine = await sessionVisit();
    const theirs = await sessionVisit();
    expect((await post(app, mine.cookie, mine.token)).status).toBe(200);
    expect((await request(app).post('/form').set('Cookie', mine.cookie).set('X-CSRF-Token', mine.token)).status).toBe(200);
    expect((await post(app, mine.cookie, theirs.token)).status).toBe(403);
    expect((await post(app, mine.cookie, undefined)).status).toBe(403);
  });

  it('is not fooled by a CSRF cookie: a planted secret and the token minted for it prove nothing', async () => {
    const mine = await sessionVisit();
    const attacker = await visit(csrfApp());
    expect((await post(app, `${attacker.cookie}; ${mine.cookie}`, attacker.token)).status).toBe(403);
  });
});

describe('the attack of issue #11, against the whole app', () => {
  let http: TestApp;
  let https: TestApp;
  beforeAll(async () => {
    http = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
    https = await buildTestApp({ env: { BASE_URL: 'https://login.example.com', TRUST_PROXY: '1' } });
  });
  afterAll(() => Promise.all([http.close(), https.close()]));

  /** What an attacker gets by loading a page of the app in their own browser. */
  async function attackerVisit(t: TestApp, path: string) {
    const res = await request(t.app).get(path);
    expect(res.status).toBe(200);
    return { value: valueOf(csrfPair(res)!), token: formFields(res.text).csrf };
  }

  /** A signed-in admin: the cookies their browser holds, by hand (no jar), and a token of a console page. */
  async function admin(t: TestApp) {
    const login = await request(t.app).get('/admin/login');
    const csrfCookie = csrfPair(login)!;
    const signedIn = await request(t.app).post('/admin/login').set('Cookie', csrfCookie).type('form')
      .send({ _csrf: formFields(login.text).csrf, token: TEST_ADMIN_TOKEN });
    expect(signedIn.status).toBe(303);
    const session = setCookies(signedIn).find((c) => c.startsWith('hlc_session='))!.split(';')[0]!;
    const page = await request(t.app).get('/admin/tokens').set('Cookie', `${csrfCookie}; ${session}`);
    expect(page.status).toBe(200);
    return { cookies: `${session}; ${csrfCookie}`, token: formFields(page.text).csrf };
  }

  const evilClient = { client_name: 'evil', redirect_uris: 'https://attacker.example/cb', skip_consent: 'on', client_secret: 'attacker-chosen-secret' };

  it('admin console: a planted cookie plus the token the attacker minted for it gets 403, and no client is created', async () => {
    const victim = await admin(http);
    for (const page of ['/admin/login', `/login?login_challenge=${http.hydra.addLoginRequest()}`]) {
      const attacker = await attackerVisit(http, page);
      const res = await request(http.app).post('/admin/clients').set('Cookie', `hlc_csrf=${attacker.value}; ${victim.cookies}`)
        .type('form').send({ _csrf: attacker.token, ...evilClient });
      expect(res.status, page).toBe(403);
      expect(res.text).toContain('The form could not be verified');
    }
    expect(http.hydra.calls.filter((call) => call.method === 'POST')).toEqual([]);
    // The admin's own form still goes through.
    const own = await request(http.app).post('/admin/clients').set('Cookie', victim.cookies).type('form').send({ _csrf: victim.token, client_name: 'mine' });
    expect(own.status).toBe(201); // the page that shows the new secret once
  });

  it('admin console: a token from before sign-in, or from another admin session, is refused once signed in', async () => {
    const victim = await admin(http);
    const other = await admin(http);
    const login = await request(http.app).get('/admin/login');
    for (const token of [other.token, formFields(login.text).csrf]) {
      const res = await request(http.app).post('/admin/clients').set('Cookie', `${csrfPair(login)!}; ${victim.cookies}`).type('form').send({ _csrf: token, client_name: 'x' });
      expect(res.status).toBe(403);
    }
  });

  it('admin sign-in page: an anonymous visit stores no session', async () => {
    const t = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
    try {
      const res = await request(t.app).get('/admin/login');
      expect(res.status).toBe(200);
      expect(setCookies(res).some((c) => c.startsWith('hlc_session='))).toBe(false);
      expect((t.deps.sessionStore as BoundedMemoryStore).size).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('flow pages over https: a planted hlc_csrf and the attacker\'s token get 403 on /login, /consent and /logout', async () => {
    const flows = [
      { path: (c: string) => `/login?login_challenge=${c}`, add: () => https.hydra.addLoginRequest(), post: '/login', body: { action: 'accept', email: 'foo@bar.com', password: 'foobar' } },
      { path: (c: string) => `/consent?consent_challenge=${c}`, add: () => https.hydra.addConsentRequest(), post: '/consent', body: { action: 'accept', grant_scope: 'openid' } },
      { path: (c: string) => `/logout?logout_challenge=${c}`, add: () => https.hydra.addLogoutRequest(), post: '/logout', body: { action: 'accept' } },
    ];
    for (const flow of flows) {
      const challenge = flow.add();
      const victimPage = await request(https.app).get(flow.path(challenge));
      const victimCookie = csrfPair(victimPage)!;
      const attacker = await attackerVisit(https, flow.path(flow.add()));
      // A sibling subdomain can set hlc_csrf for the host, never a __Host- cookie.
      const res = await request(https.app).post(flow.post).set('Cookie', `hlc_csrf=${attacker.value}; ${victimCookie}`)
        .type('form').send({ _csrf: attacker.token, challenge, ...flow.body });
      expect(res.status, flow.post).toBe(403);
      expect(res.text).toContain('The form could not be verified');
      expect(victimCookie).toMatch(/^__Host-hlc_csrf=/);
      // A duplicated __Host- cookie is refused too.
      const twice = await request(https.app).post(flow.post).set('Cookie', `__Host-hlc_csrf=${attacker.value}; ${victimCookie}`)
        .type('form').send({ _csrf: attacker.token, challenge, ...flow.body });
      expect(twice.status, flow.post).toBe(403);
      // The victim's own form works.
      const own = await request(https.app).post(flow.post).set('Cookie', `hlc_csrf=${attacker.value}; ${victimCookie}`)
        .type('form').send({ _csrf: formFields(victimPage.text).csrf, challenge, ...flow.body });
      // 302, or for logout without HYDRA_PUBLIC_URL the page that moves on to Hydra.
      expect([200, 302], flow.post).toContain(own.status);
    }
    expect(https.hydra.accepted.login).toHaveLength(1);
    expect(https.hydra.accepted.consent).toHaveLength(1);
    expect(https.hydra.accepted.logout).toHaveLength(1);
  });

  it('flow pages over http: a duplicated hlc_csrf cookie gets 403', async () => {
    const challenge = http.hydra.addLoginRequest();
    const victimPage = await request(http.app).get(`/login?login_challenge=${challenge}`);
    const attacker = await attackerVisit(http, `/login?login_challenge=${http.hydra.addLoginRequest()}`);
    const res = await request(http.app).post('/login').set('Cookie', `hlc_csrf=${attacker.value}; ${csrfPair(victimPage)!}`)
      .type('form').send({ _csrf: attacker.token, challenge, action: 'accept', email: 'foo@bar.com', password: 'foobar' });
    expect(res.status).toBe(403);
    expect(http.hydra.accepted.login).toEqual([]);
  });

  it('answers the 403 page (HTML or JSON) and, with no cookie, sets one so that a reload works', async () => {
    const challenge = http.hydra.addLoginRequest();
    const page = await request(http.app).post('/login').type('form').send({ _csrf: 'x', challenge, action: 'reject' });
    expect(page.status).toBe(403);
    expect(page.text).toContain('The form could not be verified');
    expect(page.text).not.toMatch(/EBADCSRFTOKEN|at \S+ \(/);
    expect(csrfPair(page)).toMatch(/^hlc_csrf=[\w-]{24}$/);
    const json = await request(http.app).post('/login').set('Accept', 'application/json').type('form').send({ challenge });
    expect(json.status).toBe(403);
    expect(json.body).toEqual({ error: 'invalid_csrf_token', error_description: expect.stringContaining('could not be verified') });
    const reload = await request(http.app).get(`/login?login_challenge=${challenge}`).set('Cookie', csrfPair(page)!);
    const retried = await request(http.app).post('/login').set('Cookie', csrfPair(page)!).type('form').send({ _csrf: formFields(reload.text).csrf, challenge, action: 'reject' });
    expect(retried.status).toBe(302);
  });

  it('admin console on two instances sharing the session store: a token issued by one is valid on the other', async () => {
    const store = new BoundedMemoryStore();
    const a = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN }, deps: { sessionStore: store } });
    const b = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN }, deps: { sessionStore: store } });
    try {
      const victim = await admin(a);
      const page = await request(b.app).get('/admin/tokens').set('Cookie', victim.cookies);
      expect(page.status).toBe(200);
      const res = await request(a.app).post('/admin/clients').set('Cookie', victim.cookies).type('form').send({ _csrf: formFields(page.text).csrf, client_name: 'across' });
      expect(res.status).toBe(201);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
