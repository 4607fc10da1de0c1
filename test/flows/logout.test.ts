import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

describe('logout flow', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { HYDRA_PUBLIC_URL: 'http://hydra.test/' } });
  });
  afterAll(() => t.close());

  it('answers 400 on a missing challenge', async () => {
    expect((await request(t.app).get('/logout')).status).toBe(400);
  });

  it('says who is signing out, and from which client when RP-initiated', async () => {
    const challenge = t.hydra.addLogoutRequest({
      subject: 'foo@bar.com',
      rp_initiated: true,
      client: { client_id: 'crm', client_name: 'Example CRM', post_logout_redirect_uris: ['https://crm.example.com/bye'] },
    });
    const res = await request(t.app).get(`/logout?logout_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('foo@bar.com');
    expect(res.text).toContain('Example CRM');
    expect(res.text).toContain('id="accept"');
    expect(res.text).toContain('id="reject"');
    expect(res.headers['content-security-policy']).toContain('https://crm.example.com');
  });

  it('"Yes" accepts and redirects where Hydra says', async () => {
    const challenge = t.hydra.addLogoutRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/logout?logout_challenge=${challenge}`);
    const res = await agent.post('/logout').type('form').send({ _csrf: csrf, challenge, action: 'accept' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^http:\/\/hydra\.test\/oauth2\/sessions\/logout\?logout_verifier=/);
    expect(t.hydra.accepted.logout.at(-1)!.challenge).toBe(challenge);
  });

  it('"Yes" without HYDRA_PUBLIC_URL moves on through a page, which form-action does not govern', async () => {
    const bare = await buildTestApp();
    try {
      const challenge = bare.hydra.addLogoutRequest({ request_url: '/oauth2/sessions/logout?id_token_hint=x' });
      const { agent, csrf, page } = await agentWithForm(bare.app, `/logout?logout_challenge=${challenge}`);
      expect(page.headers['content-security-policy']).toMatch(/form-action 'self';/);
      const res = await agent.post('/logout').type('form').send({ _csrf: csrf, challenge, action: 'accept' });
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/<meta http-equiv="refresh" content="0;url=http:\/\/hydra\.test\/oauth2\/sessions\/logout\?logout_verifier=[^"]+">/);
      expect(res.text).toContain('id="continue"');
      expect(bare.hydra.accepted.logout.at(-1)!.challenge).toBe(challenge);
    } finally {
      await bare.close();
    }
  });

  it('"No" rejects, logs nobody out and says the person is still signed in', async () => {
    const challenge = t.hydra.addLogoutRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/logout?logout_challenge=${challenge}`);
    const acceptedBefore = t.hydra.accepted.logout.length;
    const res = await agent.post('/logout').type('form').send({ _csrf: csrf, challenge, action: 'reject' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('You are still signed in');
    expect(t.hydra.rejected.logout.at(-1)!.challenge).toBe(challenge);
    expect(t.hydra.accepted.logout.length).toBe(acceptedBefore);
  });

  it('treats a POST without a decision as "No"', async () => {
    const challenge = t.hydra.addLogoutRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/logout?logout_challenge=${challenge}`);
    const acceptedBefore = t.hydra.accepted.logout.length;
    const res = await agent.post('/logout').type('form').send({ _csrf: csrf, challenge });
    expect(res.status).toBe(200);
    expect(t.hydra.accepted.logout.length).toBe(acceptedBefore);
  });

  it('refuses a logout POST without CSRF: a cross-site form cannot log anyone out', async () => {
    const challenge = t.hydra.addLogoutRequest();
    const res = await request(t.app).post('/logout').type('form').send({ challenge, action: 'accept' });
    expect(res.status).toBe(403);
    expect(t.hydra.accepted.logout.some((r) => r.challenge === challenge)).toBe(false);
  });

  it('accepts at once for an RP-initiated logout from a client with skip_logout_consent', async () => {
    const challenge = t.hydra.addLogoutRequest({ rp_initiated: true, client: { client_id: 'trusted', skip_logout_consent: true } });
    const res = await request(t.app).get(`/logout?logout_challenge=${challenge}`);
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.logout.at(-1)!.challenge).toBe(challenge);
  });
});
