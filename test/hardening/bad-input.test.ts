import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

/** Hostile or broken input, and a misbehaving Hydra: always a clean, deliberate answer, never a 500. */
describe('bad input and upstream faults', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { HYDRA_TIMEOUT_MS: '300' } });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    t.hydra.setFault('none');
    t.hydra.setLatency(0);
    t.hydra.calls.length = 0;
  });

  it('answers 413 to a form body over 16 kB, before CSRF or Hydra', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    t.hydra.calls.length = 0;
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect(res.text).toContain('Too much data');
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('answers a clean 4xx to malformed percent-encoding in the query and in the path', async () => {
    for (const path of ['/login?login_challenge=%E0%A4%A', '/login?login_challenge=%', '/consent?consent_challenge=%ZZ', '/login%E0%A4%A']) {
      const res = await request(t.app).get(path);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
      expect(res.text, path).not.toMatch(/at \w+ \(|node_modules/); // no stack trace
    }
  });

  it('takes the long challenges a real Hydra v2.2+ makes (5412 characters for a 4000-character state), by GET and by POST', async () => {
    // A random base64url string, as Hydra's AEAD challenges are.
    const long = (length: number) => Buffer.alloc(length, 'a').map(() => 97 + Math.floor(Math.random() * 26)).toString();
    for (const length of [5412, 12_000]) {
      const challenge = t.hydra.addLoginRequest({ challenge: long(length) });
      const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
      const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar' });
      expect(res.status, `${length} characters`).toBe(302);
      expect(t.hydra.accepted.login.at(-1)!.challenge).toBe(challenge);
      const consent = t.hydra.addConsentRequest({ challenge: long(length) });
      expect((await request(t.app).get(`/consent?consent_challenge=${consent}`)).status).toBe(200);
      const logout = t.hydra.addLogoutRequest({ challenge: long(length) });
      expect((await request(t.app).get(`/logout?logout_challenge=${logout}`)).status).toBe(200);
    }
  });

  it('never sees a challenge past 16 KiB: Node refuses the request line with 431 before the app or Hydra', async () => {
    const res = await request(t.app).get(`/login?login_challenge=${'a'.repeat(17_000)}`);
    expect(res.status).toBe(431);
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('refuses repeated challenge parameters with 400, in the query and in the form', async () => {
    for (const path of ['/login?login_challenge=a&login_challenge=b', '/consent?consent_challenge=a&consent_challenge=b', '/logout?logout_challenge=a&logout_challenge=b']) {
      expect((await request(t.app).get(path)).status, path).toBe(400);
    }
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').type('form').send(`_csrf=${encodeURIComponent(csrf)}&challenge=${challenge}&challenge=b&email=foo%40bar.com&password=foobar`);
    expect(res.status).toBe(400);
    expect(t.hydra.accepted.login.filter((a) => a.challenge === challenge)).toHaveLength(0);
  });

  it('normalises grant_scope[] and grant_scope[x] objects and array-shaped login fields instead of failing', async () => {
    const challenge = t.hydra.addConsentRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
    const res = await agent
      .post('/consent')
      .type('form')
      .send(`_csrf=${encodeURIComponent(csrf)}&challenge=${challenge}&grant_scope[]=openid&grant_scope[x]=email&grant_scope=profile&grant_scope=not-requested&action=accept`);
    expect(res.status).toBe(302);
    // Only plain grant_scope values that Hydra asked for are granted.
    expect(t.hydra.accepted.consent.at(-1)!.body.grant_scope).toEqual(['profile']);

    const login = t.hydra.addLoginRequest();
    const form = await agentWithForm(t.app, `/login?login_challenge=${login}`);
    const odd = await form.agent
      .post('/login')
      .type('form')
      .send(`_csrf=${encodeURIComponent(form.csrf)}&challenge=${login}&email[]=foo%40bar.com&password[x]=foobar&email=a&email=b&remember[]=1`);
    expect(odd.status).toBe(401);
  });

  // A slow Hydra cut at HYDRA_TIMEOUT_MS (504) is tested in test/flows/errors.test.ts.

  it('answers 502 when Hydra closes the connection mid-response, and when Hydra fails with 500', async () => {
    const challenge = t.hydra.addLoginRequest();
    t.hydra.setFault('drop');
    expect((await request(t.app).get(`/login?login_challenge=${challenge}`)).status).toBe(502);
    t.hydra.setFault('error500');
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`).set('Accept', 'application/json');
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('bad_gateway');
    t.hydra.setFault('none');
    expect((await request(t.app).get(`/login?login_challenge=${challenge}`)).status).toBe(200);
  });
});
