// Access to /admin: off without ADMIN_TOKEN, bearer for the API, session + CSRF for the console,
// and neither standing in for the other.
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { adminFingerprint } from '../../src/admin/auth.js';
import { BoundedMemoryStore, SESSION_COOKIE } from '../../src/http/session.js';
import { buildTestApp, formFields, type TestApp } from '../support/test-app.js';
import { adminApp, api, signIn, TEST_ADMIN_TOKEN } from './helpers.js';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function sessionCookie(res: request.Response): string | undefined {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))?.split(';')[0];
}

describe('without ADMIN_TOKEN', () => {
  it('answers 404 for every /admin path, in HTML and JSON, bearer or not', async () => {
    app = await buildTestApp();
    for (const path of ['/admin', '/admin/login', '/admin/clients', '/admin/keys/x', '/admin/tokens']) {
      const html = await request(app.app).get(path);
      expect(html.status, path).toBe(404);
      expect(html.text).toContain('Page not found');
      const json = await request(app.app).get(path).set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`).set('Accept', 'application/json');
      expect(json.status, path).toBe(404);
    }
    expect((await request(app.app).post('/admin/login').type('form').send({ token: TEST_ADMIN_TOKEN })).status).toBe(404);
    expect(app.hydra.calls).toEqual([]);
  });

  it('start-up refuses an ADMIN_TOKEN shorter than 32 characters', () => {
    expect(() => loadConfig({ HYDRA_ADMIN_URL: 'http://127.0.0.1:4445', ADMIN_TOKEN: 'short-token' })).toThrow(/ADMIN_TOKEN must be at least 32 characters/);
  });
});

describe('the JSON API', () => {
  it('answers 401 JSON without a bearer token, and never calls Hydra', async () => {
    app = await adminApp();
    const res = await request(app.app).get('/admin/clients').set('Accept', 'application/json');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="admin"');
    expect(res.body).toEqual({ error: 'unauthorized', error_description: expect.stringContaining('Bearer') });
    expect(app.hydra.calls).toEqual([]);
  });

  it('answers 401 invalid_token to a wrong token, a token of another length, and a non-bearer scheme', async () => {
    app = await adminApp();
    for (const authorization of [
      `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}x`,
      `Bearer ${TEST_ADMIN_TOKEN}-and-more`,
      'Bearer x',
      `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString('base64')}`,
    ]) {
      const res = await request(app.app).get('/admin/clients').set('Authorization', authorization);
      expect(res.status, authorization).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
    expect(app.hydra.calls).toEqual([]);
  });

  it('takes the bearer token without CSRF and without creating a session', async () => {
    app = await adminApp();
    const res = await api(app.app).post('/admin/clients', { client_name: 'scripted' });
    expect(res.status).toBe(201);
    expect(sessionCookie(res)).toBeUndefined();
    // A bearer call is JSON even when it asks for nothing in particular.
    const plain = await request(app.app).get('/admin/clients').set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toMatch(/^application\/json/);
    expect(plain.headers['cache-control']).toBe('no-store');
  });

  it('answers malformed JSON bodies with a JSON 400', async () => {
    app = await adminApp();
    const res = await request(app.app)
      .post('/admin/clients')
      .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send('{"client_name": ');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});

describe('the console', () => {
  it('redirects to /admin/login without an admin session, for pages and forms', async () => {
    app = await adminApp();
    for (const path of ['/admin', '/admin/clients', '/admin/clients/abc', '/admin/keys', '/admin/sessions/consent', '/admin/tokens', '/admin/nothing-here']) {
      const res = await request(app.app).get(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.location).toBe('/admin/login');
    }
    // A form post with a valid CSRF token but no admin session is turned away the same way.
    const agent = request.agent(app.app);
    const page = await agent.get('/admin/login');
    expect(page.status).toBe(200);
    expect(page.text).toContain('name="token"');
    const post = await agent.post('/admin/clients').type('form').send({ _csrf: formFields(page.text).csrf, client_name: 'x' });
    expect(post.status).toBe(303);
    expect(post.headers.location).toBe('/admin/login');
    expect(app.hydra.calls).toEqual([]);
  });

  it('signs in with the token, regenerating the session, and the pages work', async () => {
    app = await adminApp();
    const browser = await signIn(app.app);
    const clients = await browser.get('/admin/clients');
    expect(clients.status).toBe(200);
    expect(clients.text).toContain('OAuth2 clients');
    expect(clients.headers['cache-control']).toBe('no-store');
    expect((await browser.get('/admin')).headers.location).toBe('/admin/clients');
    // Already signed in: the login page moves on.
    expect((await browser.get('/admin/login')).headers.location).toBe('/admin/clients');
  });

  it('gives a new session id on every sign-in (no fixation)', async () => {
    app = await adminApp();
    const agent = request.agent(app.app);
    const login = async () => {
      const page = await agent.get('/admin/login?again=1');
      const csrf = formFields(page.text).csrf;
      return agent.post('/admin/login').type('form').send({ _csrf: csrf, token: TEST_ADMIN_TOKEN });
    };
    const first = sessionCookie(await login());
    expect(first).toBeDefined();
    // Signed in already, so GET /admin/login redirects: sign in again straight with a form token.
    const page = await agent.get('/admin/tokens');
    const second = sessionCookie(await agent.post('/admin/login').type('form').send({ _csrf: formFields(page.text).csrf, token: TEST_ADMIN_TOKEN }));
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    // The old session id no longer opens the console.
    const old = await request(app.app).get('/admin/clients').set('Cookie', first!);
    expect(old.status).toBe(303);
  });

  it('re-renders the login page with 401 for a wrong or missing token', async () => {
    app = await adminApp();
    const agent = request.agent(app.app);
    const { csrf } = formFields((await agent.get('/admin/login')).text);
    const wrong = await agent.post('/admin/login').type('form').send({ _csrf: csrf, token: 'not-the-token-0123456789abcdefghijkl' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('That token is not valid.');
    expect(sessionCookie(wrong)).toBeUndefined();
    const missing = await agent.post('/admin/login').type('form').send({ _csrf: csrf });
    expect(missing.status).toBe(401);
    expect(missing.text).toContain('Enter the admin token.');
    expect((await agent.get('/admin/clients')).status).toBe(303);
  });

  it('refuses a form without a valid CSRF token with 403', async () => {
    app = await adminApp();
    const browser = await signIn(app.app);
    const noToken = await browser.agent.post('/admin/clients').type('form').send({ client_name: 'csrf-less' });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain('The form could not be verified');
    const badToken = await browser.agent.post('/admin/clients').type('form').send({ _csrf: 'forged', client_name: 'csrf-less' });
    expect(badToken.status).toBe(403);
    // The sign-in form is protected too.
    const login = await request(app.app).post('/admin/login').type('form').send({ token: TEST_ADMIN_TOKEN });
    expect(login.status).toBe(403);
    expect(hydraCallsTo(app, 'POST')).toEqual([]);
  });

  it('a console session is not bearer authentication', async () => {
    app = await adminApp();
    const browser = await signIn(app.app);
    const res = await browser.agent.get('/admin/clients').set('Accept', 'application/json');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
  });

  it('signs out: POST with CSRF destroys the session', async () => {
    app = await adminApp();
    const browser = await signIn(app.app);
    const withoutCsrf = await browser.agent.post('/admin/logout').type('form').send({});
    expect(withoutCsrf.status).toBe(403);
    expect((await browser.get('/admin/clients')).status).toBe(200);
    const out = await browser.submit('/admin/logout', {});
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/admin/login');
    expect((await browser.agent.get('/admin/clients')).headers.location).toBe('/admin/login');
    expect((app.deps.sessionStore as unknown as { size: number }).size).toBe(0);
  });
});

describe('under a sub-path (BASE_URL with a path)', () => {
  it('builds every redirect, link and Link header under the base path', async () => {
    // http, so the cookies are not Secure and supertest's agent sends them back.
    app = await adminApp('v1', { BASE_URL: 'http://sso.example/auth' });
    expect((await request(app.app).get('/auth/admin/clients')).headers.location).toBe('/auth/admin/login');
    expect((await request(app.app).get('/admin/clients')).status).toBe(404);
    const agent = request.agent(app.app);
    const login = await agent.get('/auth/admin/login');
    expect(login.text).toContain('action="/auth/admin/login"');
    const signedIn = await agent.post('/auth/admin/login').type('form').send({ _csrf: formFields(login.text).csrf, token: TEST_ADMIN_TOKEN });
    expect(signedIn.headers.location).toBe('/auth/admin/clients');
    expect(sessionCookie(signedIn)).toBeDefined();
    expect(([] as string[]).concat(signedIn.headers['set-cookie'] ?? []).join(';')).toMatch(/Path=\/auth;/);

    for (let i = 0; i < 3; i++) await api(app.app).post('/auth/admin/clients', { client_name: `c${i}` });
    const page = await api(app.app).get('/auth/admin/clients?page_size=2');
    expect(page.headers.link).toContain('</auth/admin/clients?page_size=2&page_token=2>; rel="next"');
  });
});

describe('failed sign-in limit', () => {
  it('answers 429 with Retry-After once the failures per IP are spent, counting only failures', async () => {
    app = await adminApp('v2', { LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_WINDOW: '600' });
    // Successful sign-ins do not count.
    for (let i = 0; i < 3; i++) await signIn(app.app);

    const agent = request.agent(app.app);
    const { csrf } = formFields((await agent.get('/admin/login')).text);
    const attempt = (token: string) => agent.post('/admin/login').type('form').send({ _csrf: csrf, token });
    expect((await attempt('wrong-token-0123456789abcdefghijklmnop')).status).toBe(401);
    expect((await attempt('wrong-token-0123456789abcdefghijklmnop')).status).toBe(401);
    const limited = await attempt(TEST_ADMIN_TOKEN);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(500);
    expect(limited.text).toContain('Too many attempts');
    expect(limited.text).toMatch(/try again in 10 minutes/i);

    // The API shares the budget: a correct bearer token from this address waits as well.
    const api429 = await request(app.app).get('/admin/clients').set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`);
    expect(api429.status).toBe(429);
    expect(api429.body.error).toBe('too_many_requests');
  });

  it('counts wrong bearer tokens, but not API calls that Hydra refuses', async () => {
    app = await adminApp('v2', { LOGIN_RATE_LIMIT_PER_IP: '2' });
    for (let i = 0; i < 3; i++) expect((await api(app.app).get('/admin/clients/unknown')).status).toBe(404);
    expect((await request(app.app).get('/admin/clients').set('Accept', 'application/json')).status).toBe(401);
    const wrong = () => request(app!.app).get('/admin/clients').set('Authorization', 'Bearer wrong-token-0123456789abcdefghijklmnop');
    expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(429);
  });
});

function hydraCallsTo(test: TestApp, method: string) {
  return test.hydra.calls.filter((call) => call.method === method);
}

describe('rotating ADMIN_TOKEN', () => {
  const NEW_TOKEN = 'rotated-admin-token-0123456789abcdefghij';

  /** Signs in on `t` by hand and returns the browser's cookies (session + CSRF). */
  async function signedInCookies(t: TestApp): Promise<string> {
    const page = await request(t.app).get('/admin/login');
    const csrfCookie = ([] as string[]).concat(page.headers['set-cookie'] ?? []).find((c) => c.startsWith('hlc_csrf='))!.split(';')[0]!;
    const res = await request(t.app).post('/admin/login').set('Cookie', csrfCookie).type('form').send({ _csrf: formFields(page.text).csrf, token: TEST_ADMIN_TOKEN });
    expect(res.status).toBe(303);
    return `${sessionCookie(res)!}; ${csrfCookie}`;
  }

  it('ends the sessions the old token opened: their cookie goes back to the sign-in page, GET or form', async () => {
    const store = new BoundedMemoryStore();
    const before = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN }, deps: { sessionStore: store } });
    const cookies = await signedInCookies(before);
    const page = await request(before.app).get('/admin/tokens').set('Cookie', cookies);
    expect(page.status).toBe(200);
    const { csrf } = formFields(page.text);
    // The session keeps a fingerprint of the token, never the token.
    expect(JSON.stringify(await storedSessions(store))).not.toContain(TEST_ADMIN_TOKEN);

    // Same token, same store (another instance, or a restart): still signed in.
    const same = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN }, deps: { sessionStore: store } });
    expect((await request(same.app).get('/admin/clients').set('Cookie', cookies)).status).toBe(200);

    // Rotated: the old session is sent to sign in again and destroyed, even with a valid form token.
    app = await buildTestApp({ env: { ADMIN_TOKEN: NEW_TOKEN }, deps: { sessionStore: store } });
    const form = await request(app.app).post('/admin/clients').set('Cookie', cookies).type('form').send({ _csrf: csrf, client_name: 'after rotation' });
    expect(form.status).toBe(303);
    expect(form.headers.location).toBe('/admin/login');
    expect(store.size).toBe(0);
    const old = await request(app.app).get('/admin/clients').set('Cookie', cookies);
    expect(old.status).toBe(303);
    expect(old.headers.location).toBe('/admin/login');
    expect(app.hydra.calls).toEqual([]);
    // …and back on an instance with the old token it does not come back.
    expect((await request(same.app).get('/admin/clients').set('Cookie', cookies)).headers.location).toBe('/admin/login');
    await Promise.all([before.close(), same.close()]);
  });

  it('keys the fingerprint with SESSION_SECRET and compares it whole', () => {
    const fingerprint = adminFingerprint(TEST_ADMIN_TOKEN, 'a-session-secret-0123456789abcdefghij');
    expect(fingerprint).toMatch(/^[\w-]{43}$/);
    expect(adminFingerprint(TEST_ADMIN_TOKEN, 'another-session-secret-0123456789abcd')).not.toBe(fingerprint);
    expect(adminFingerprint(NEW_TOKEN, 'a-session-secret-0123456789abcdefghij')).not.toBe(fingerprint);
  });
});

/** Every session in a BoundedMemoryStore, as stored. */
function storedSessions(store: BoundedMemoryStore): unknown[] {
  return [...(store as unknown as { sessions: Map<string, { data: unknown }> }).sessions.values()].map((entry) => entry.data);
}
