// A subject's consent and login sessions through /admin: list (with paging), revoke per client or
// all, revoke login sessions; the console confirms each revocation first.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiVersion, ConsentSession } from '../../src/hydra/types.js';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, confirmForm, hydraCalls, links, signIn, type Browser } from './helpers.js';

const SUBJECT = 'alice@example.com';

function consent(clientId: string, clientName: string, scopes: string[]): ConsentSession {
  return {
    grant_scope: scopes,
    grant_access_token_audience: ['https://api.example'],
    remember: true,
    remember_for: 3600,
    handled_at: '2030-01-02T03:04:05Z',
    consent_request: { challenge: `c-${clientId}`, subject: SUBJECT, client: { client_id: clientId, client_name: clientName } },
  };
}

describe.each(['v1', 'v2'] as const)('sessions, Hydra %s layout', (version: ApiVersion) => {
  let app: TestApp;
  beforeEach(async () => {
    app = await adminApp(version);
    app.hydra.addConsentSession(SUBJECT, consent('app-1', 'First <App>', ['openid', 'email']));
    app.hydra.addConsentSession(SUBJECT, consent('app-2', 'Second', ['openid']));
    app.hydra.addConsentSession(SUBJECT, consent('app-3', 'Third', ['profile']));
  });
  afterEach(async () => {
    await app.close();
  });
  const remaining = () => (app.hydra.state.consentSessions.get(SUBJECT) ?? []).map((s) => s.consent_request?.client?.client_id);

  describe('JSON API', () => {
    it("lists a subject's consent sessions in Hydra's shape, with paging", async () => {
      const all = await api(app.app).get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}`);
      expect(all.status).toBe(200);
      expect(all.body).toHaveLength(3);
      expect(all.body[0]).toMatchObject({ grant_scope: ['openid', 'email'], handled_at: '2030-01-02T03:04:05Z', consent_request: { client: { client_id: 'app-1' } } });

      const first = await api(app.app).get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}&page_size=2`);
      expect(first.body).toHaveLength(2);
      expect(first.headers['x-total-count']).toBe('3');
      const next = links(first.headers.link).next!;
      expect(next).toBe(`/admin/sessions/consent?subject=alice%40example.com&page_size=2&page_token=${encodeURIComponent(version === 'v1' ? '2' : Buffer.from('{"offset":"2","v":2}').toString('base64url'))}`);
      const second = await api(app.app).get(next);
      expect(second.body.map((s: ConsentSession) => s.consent_request?.client?.client_id)).toEqual(['app-3']);
      expect(hydraCalls(app, 'GET', '/oauth2/auth/sessions/consent').at(-1)!.query).toMatchObject(
        version === 'v2' ? { subject: SUBJECT, page_size: '2' } : { subject: SUBJECT, limit: '2', offset: '2' },
      );
    });

    it('needs a subject', async () => {
      const res = await api(app.app).get('/admin/sessions/consent');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: 'subject: is required' });
    });

    it('revokes consent per client or for all clients, refusing other combinations', async () => {
      const s = encodeURIComponent(SUBJECT);
      const before = app.hydra.calls.length;
      for (const query of [`subject=${s}`, `client=app-1`, `subject=${s}&client=app-1&all=true`, `subject=${s}&all=yes`]) {
        const res = await api(app.app).delete(`/admin/sessions/consent?${query}`);
        expect(res.status, query).toBe(400);
      }
      expect(app.hydra.calls.length).toBe(before);

      expect((await api(app.app).delete(`/admin/sessions/consent?subject=${s}&client=app-1`)).status).toBe(204);
      expect(remaining()).toEqual(['app-2', 'app-3']);
      expect((await api(app.app).delete(`/admin/sessions/consent?subject=${s}&all=true`)).status).toBe(204);
      expect(remaining()).toEqual([]);
      expect(hydraCalls(app, 'DELETE', '/oauth2/auth/sessions/consent').at(-1)!.query).toEqual({ subject: SUBJECT, all: 'true' });
    });

    it("revokes a subject's login sessions", async () => {
      expect((await api(app.app).delete('/admin/sessions/login')).status).toBe(400);
      const res = await api(app.app).delete(`/admin/sessions/login?subject=${encodeURIComponent(SUBJECT)}`);
      expect(res.status).toBe(204);
      expect(app.hydra.state.loginSessionsRevoked).toEqual([SUBJECT]);
      // Only DELETE exists on this path for the API.
      expect((await api(app.app).get(`/admin/sessions/login?subject=${encodeURIComponent(SUBJECT)}`)).status).toBe(404);
    });
  });

  describe('console', () => {
    let browser: Browser;
    beforeEach(async () => {
      browser = await signIn(app.app);
    });

    it('asks for a subject, then lists client, granted scopes and when', async () => {
      const empty = await browser.get('/admin/sessions/consent');
      expect(empty.status).toBe(200);
      expect(empty.text).toContain('id="subject"');
      expect(hydraCalls(app, 'GET', '/oauth2/auth/sessions/consent')).toEqual([]);

      const page = await browser.get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}&page_size=2`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('First &lt;App&gt;');
      expect(page.text).not.toContain('First <App>');
      expect(page.text).toContain('openid email');
      expect(page.text).toContain('2030-01-02T03:04:05Z');
      expect(page.text).toContain('3 in total');
      expect(page.text).toMatch(/rel="next"/);
    });

    it('revokes one client after confirmation', async () => {
      const page = await browser.get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}`);
      const revokeHref = /href="([^"]*client=app-2[^"]*)"/.exec(page.text)![1]!.replaceAll('&amp;', '&');
      const confirm = await browser.get(revokeHref);
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('Revoke consent');
      expect(remaining()).toHaveLength(3);
      const form = confirmForm(confirm.text);
      expect(form.method).toBe('DELETE');
      expect(form.action).toBe('/admin/sessions/consent?subject=alice%40example.com&client=app-2');
      const done = await browser.agent.post(form.action).type('form').send(form.fields);
      expect(done.status).toBe(303);
      expect(done.headers.location).toBe('/admin/sessions/consent?subject=alice%40example.com&done=revoked');
      expect(remaining()).toEqual(['app-1', 'app-3']);
      expect((await browser.get(done.headers.location!)).text).toContain('Revoked.');
    });

    it('revokes all consent, and login sessions, after confirmation', async () => {
      const all = await browser.get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}&all=true&action=delete`);
      const allForm = confirmForm(all.text);
      expect(allForm.action).toBe('/admin/sessions/consent?subject=alice%40example.com&all=true');
      expect((await browser.agent.post(allForm.action).type('form').send(allForm.fields)).status).toBe(303);
      expect(remaining()).toEqual([]);

      const login = await browser.get(`/admin/sessions/login?subject=${encodeURIComponent(SUBJECT)}&action=delete`);
      expect(login.status).toBe(200);
      expect(app.hydra.state.loginSessionsRevoked).toEqual([]);
      const loginForm = confirmForm(login.text);
      expect(loginForm).toMatchObject({ action: '/admin/sessions/login?subject=alice%40example.com', method: 'DELETE' });
      expect((await browser.agent.post(loginForm.action).type('form').send(loginForm.fields)).status).toBe(303);
      expect(app.hydra.state.loginSessionsRevoked).toEqual([SUBJECT]);

      // Without action=delete the login path just leads back to the subject's sessions.
      expect((await browser.get(`/admin/sessions/login?subject=x`)).headers.location).toBe('/admin/sessions/consent?subject=x');
      expect((await browser.get('/admin/sessions/consent?subject=x&action=delete')).status).toBe(400);
    });
  });
});
