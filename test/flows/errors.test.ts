import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

describe('Hydra answers mapped to pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { HYDRA_TIMEOUT_MS: '300' } });
  });
  afterAll(() => t.close());
  afterEach(() => {
    t.hydra.setFault('none');
    t.hydra.setLatency(0);
  });

  it.each(['login', 'consent', 'logout'])('an unknown %s challenge is a 404 page telling to start again', async (flow) => {
    const res = await request(t.app).get(`/${flow}?${flow}_challenge=does-not-exist`);
    expect(res.status).toBe(404);
    expect(res.text).toContain('Go back to the application and start again');
    expect(res.text).not.toMatch(/at \w+ \(|node_modules/);
  });

  it('an expired challenge says it expired', async () => {
    const challenge = t.hydra.addLoginRequest();
    t.hydra.expire(challenge);
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(410);
    expect(res.text).toContain('has expired');
    expect(res.text).toContain('start again');
  });

  it('a 410 from Hydra redirects to its redirect_to', async () => {
    const challenge = t.hydra.addConsentRequest({ request_url: 'http://hydra.test/oauth2/auth?client_id=x&restart=1' });
    t.hydra.markHandled(challenge);
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('http://hydra.test/oauth2/auth?client_id=x&restart=1');
  });

  it('Hydra answering 500 is a 502 page', async () => {
    const challenge = t.hydra.addLoginRequest();
    t.hydra.setFault('error500');
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(502);
    expect(res.text).toContain('try again');
  });

  it('Hydra cutting the connection mid-response is a 502 page', async () => {
    const challenge = t.hydra.addLoginRequest();
    t.hydra.setFault('drop');
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(502);
  });

  it('Hydra too slow is cut at HYDRA_TIMEOUT_MS with a 504 page', async () => {
    const challenge = t.hydra.addLoginRequest();
    t.hydra.setLatency(2000);
    const started = Date.now();
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('Hydra down is a 502 page, and JSON for clients that ask for it', async () => {
    const down = await buildTestApp();
    await down.hydra.close();
    const html = await request(down.app).get('/login?login_challenge=abc');
    expect(html.status).toBe(502);
    expect(html.text).toContain('could not be reached');
    const json = await request(down.app).get('/login?login_challenge=abc').set('Accept', 'application/json');
    expect(json.status).toBe(502);
    expect(json.body).toEqual({ error: 'bad_gateway', error_description: expect.stringContaining('could not be reached') });
    const ready = await request(down.app).get('/health/ready');
    expect(ready.status).toBe(503);
  });

  it('health: alive always, ready when Hydra answers', async () => {
    expect((await request(t.app).get('/health/alive')).status).toBe(200);
    expect((await request(t.app).get('/health/ready')).status).toBe(200);
  });

  it('a failed POST re-renders after Hydra recovers: the person is not stuck', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    t.hydra.setFault('error500');
    const failed = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar' });
    expect(failed.status).toBe(502);
    t.hydra.setFault('none');
    const retried = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar' });
    expect(retried.status).toBe(302);
  });

  it('unknown pages are a 404 page', async () => {
    const res = await request(t.app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.text).toContain('Page not found');
  });
});

describe('GET /error (Hydra\'s urls.error)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('shows error, error_description and error_hint, escaped', async () => {
    const res = await request(t.app)
      .get('/error')
      .query({ error: 'invalid_request<b>', error_description: 'The redirect URI <script>x</script> is not allowed', error_hint: 'Register it first' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('invalid_request&lt;b&gt;');
    expect(res.text).toContain('The redirect URI &lt;script&gt;x&lt;/script&gt; is not allowed');
    expect(res.text).toContain('Register it first');
    expect(res.text).not.toContain('<script>x');
  });

  it('copes with no parameters and with repeated ones', async () => {
    expect((await request(t.app).get('/error')).status).toBe(200);
    const res = await request(t.app).get('/error?error=a&error=b');
    expect(res.status).toBe(200);
  });
});

describe('sub-path hosting (BASE_URL with a path)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { BASE_URL: 'https://example.com/auth' } });
  });
  afterAll(() => t.close());

  it('serves the flows, assets and form actions under the sub-path with Secure cookies', async () => {
    const challenge = t.hydra.addLoginRequest();
    const res = await request(t.app).get(`/auth/login?login_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('action="/auth/login"');
    expect(res.text).toContain('href="/auth/assets/style.css"');
    // __Host- cookies must have Path=/, so the Secure CSRF cookie is not on the sub-path.
    expect(String(res.headers['set-cookie'])).toMatch(/^__Host-hlc_csrf=[\w-]{24}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect((await request(t.app).get('/auth/assets/style.css')).status).toBe(200);
    expect((await request(t.app).get(`/login?login_challenge=${challenge}`)).status).toBe(404);
  });
});
