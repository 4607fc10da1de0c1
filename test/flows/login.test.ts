import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

describe('login flow', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { LOGIN_REMEMBER_FOR: '3600' } });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    t.hydra.calls.length = 0;
  });

  it('answers 400 without calling Hydra when the challenge is missing, empty or repeated', async () => {
    for (const path of ['/login', '/login?login_challenge=', '/login?login_challenge=a&login_challenge=b']) {
      const res = await request(t.app).get(path);
      expect(res.status, path).toBe(400);
      expect(res.text).toContain('needs a login_challenge');
    }
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('renders the form with the ids Hydra\'s browser suite uses, the client and the login_hint', async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { login_hint: 'hint@example.com' } });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(200);
    for (const marker of ['id="email"', 'id="password"', 'id="remember"', 'id="accept"', 'id="reject"', 'Please log in', 'Demo App']) {
      expect(res.text).toContain(marker);
    }
    expect(res.text).toContain('value="hint@example.com"');
    expect(res.headers['cache-control']).toBe('no-store');
    // The CSRF secret lives in an HttpOnly, SameSite=Lax cookie: no server-side state.
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/hlc_csrf=[\w-]{24}/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
  });

  it('accepts at once with the same subject when Hydra says skip, showing no UI', async () => {
    const challenge = t.hydra.addLoginRequest({ skip: true, subject: 'foo@bar.com' });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^http:\/\/hydra\.test\/oauth2\/auth\?login_verifier=/);
    expect(t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { subject: 'foo@bar.com' } });
  });

  it('rejects a remembered login (skip) whose account no longer exists or is disabled, instead of accepting it', async () => {
    const challenge = t.hydra.addLoginRequest({ skip: true, subject: 'gone@example.com' });
    const before = t.hydra.accepted.login.length;
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.login.length).toBe(before);
    expect(t.hydra.rejected.login.at(-1)).toMatchObject({ challenge, body: { error: 'access_denied', status_code: 403 } });
  });

  it('accepts the right credentials with subject, remember, remember_for, amr and context', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent
      .post('/login')
      .type('form')
      .send({ _csrf: csrf, challenge, email: 'FOO@bar.com ', password: 'foobar', remember: '1', action: 'accept' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toContain('login_verifier=');
    const accepted = t.hydra.accepted.login.at(-1)!;
    expect(accepted.challenge).toBe(challenge);
    expect(accepted.body).toEqual({
      subject: 'foo@bar.com',
      remember: true,
      remember_for: 3600,
      amr: ['pwd'],
      acr: 'urn:hlc:acr:1fa',
      context: { login_method: 'password', email: 'foo@bar.com', locale: 'en' },
    });
  });

  it("carries the sign-in's language (ui_locales first) to the consent step in the accept's context", async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: ['xx', 'de-CH'] } });
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar', action: 'accept' });
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.login.at(-1)!.body).toMatchObject({ context: { locale: 'de' } });
  });

  it('sends remember=false when the box is not ticked', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar' });
    expect(t.hydra.accepted.login.at(-1)!.body.remember).toBe(false);
  });

  it('re-renders the form with the email kept and does not reject the Hydra request on wrong credentials', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    for (const email of ['foo@bar.com', 'nobody@bar.com']) {
      const res = await agent
        .post('/login')
        .type('form')
        .send({ _csrf: csrf, challenge, email, password: 'wrong-password', remember: '1' });
      expect(res.status).toBe(401);
      // The same message for a wrong password and an unknown account: no enumeration.
      expect(res.text).toContain('The email address or password is incorrect.');
      expect(res.text).toContain(`value="${email}"`);
      expect(res.text).toMatch(/id="remember" name="remember" value="1" checked/);
      expect(res.text).not.toContain('wrong-password');
    }
    expect(t.hydra.rejected.login.filter((r) => r.challenge === challenge)).toHaveLength(0);
    expect(t.hydra.accepted.login.filter((r) => r.challenge === challenge)).toHaveLength(0);
  });

  it('asks for both fields when one is empty', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: '' });
    expect(res.status).toBe(401);
    expect(res.text).toContain('Enter your email address and password.');
  });

  it('rejects with access_denied when the person denies', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, action: 'reject' });
    expect(res.status).toBe(302);
    expect(t.hydra.rejected.login.at(-1)).toEqual({
      challenge,
      body: { error: 'access_denied', error_description: 'The resource owner denied the request' },
    });
  });

  it('refuses a POST without a valid CSRF token, and Hydra is not called', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    t.hydra.calls.length = 0;
    const forged = await agent
      .post('/login')
      .type('form')
      .send({ _csrf: 'forged', challenge, email: 'foo@bar.com', password: 'foobar' });
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('The form could not be verified');
    const noCookie = await request(t.app).post('/login').type('form').send({ challenge, email: 'foo@bar.com', password: 'foobar' });
    expect(noCookie.status).toBe(403);
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('widens form-action to Hydra and the client redirect URIs only on the login page', async () => {
    const challenge = t.hydra.addLoginRequest({
      request_url: 'https://auth.example.com/oauth2/auth?client_id=x',
      client: { client_id: 'x', redirect_uris: ['https://app.example.com/cb', 'com.example.app:/cb', 'javascript:alert(1)'] },
    });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    const csp = res.headers['content-security-policy'];
    expect(csp).toMatch(/form-action 'self' https:\/\/auth\.example\.com https:\/\/app\.example\.com com\.example\.app:;/);
    expect(csp).not.toContain('javascript');
    const home = await request(t.app).get('/');
    expect(home.headers['content-security-policy']).toMatch(/form-action 'self';/);
  });
});
