// Tokens through /admin: introspection, deleting a client's tokens, and flush (v1 only; v2 is a
// 501 that points to `hydra janitor`).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiVersion } from '../../src/hydra/types.js';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, confirmForm, fieldValue, hydraCalls, signIn, type Browser } from './helpers.js';

const ACTIVE = {
  active: true, client_id: 'app-1', sub: 'alice', scope: 'openid email', exp: 1_900_000_000, iat: 1_800_000_000,
  token_type: 'Bearer', token_use: 'access_token', ext: { tenant: '<acme>' },
};

describe.each(['v1', 'v2'] as const)('tokens, Hydra %s layout', (version: ApiVersion) => {
  let app: TestApp;
  beforeEach(async () => {
    app = await adminApp(version);
    app.hydra.addToken('secret-access-token-value', ACTIVE);
  });
  afterEach(async () => {
    await app.close();
  });

  describe('JSON API', () => {
    it("introspects with Hydra's answer, as a form or JSON body", async () => {
      const active = await api(app.app).post('/admin/tokens/introspect', { token: 'secret-access-token-value' });
      expect(active.status).toBe(200);
      expect(active.body).toEqual(ACTIVE);
      const scoped = await api(app.app).post('/admin/tokens/introspect', 'token=secret-access-token-value&scope=admin').type('form');
      expect(scoped.body).toEqual({ active: false });
      expect(hydraCalls(app, 'POST', '/oauth2/introspect').at(-1)!.body).toEqual({ token: 'secret-access-token-value', scope: 'admin' });
      expect((await api(app.app).post('/admin/tokens/introspect', { token: 'unknown' })).body).toEqual({ active: false });
      const missing = await api(app.app).post('/admin/tokens/introspect', {});
      expect(missing.status).toBe(400);
      expect(missing.body.error_description).toBe('token: is required');
    });

    it("deletes a client's tokens", async () => {
      expect((await api(app.app).delete('/admin/tokens')).status).toBe(400);
      expect((await api(app.app).delete('/admin/tokens?client_id=app-1')).status).toBe(204);
      expect(app.hydra.state.tokensDeletedFor).toEqual(['app-1']);
      expect((await api(app.app).post('/admin/tokens/introspect', { token: 'secret-access-token-value' })).body).toEqual({ active: false });
    });

    if (version === 'v1') {
      it('flushes inactive tokens', async () => {
        const notAfter = '2030-01-01T00:00:00.000Z';
        expect((await api(app.app).post('/admin/tokens/flush', { notAfter })).status).toBe(204);
        expect((await api(app.app).post('/admin/tokens/flush')).status).toBe(204);
        expect(app.hydra.state.flushed).toEqual([{ notAfter }, {}]);
        const bad = await api(app.app).post('/admin/tokens/flush', { notAfter: 'yesterday' });
        expect(bad.status).toBe(400);
        expect(bad.body.error_description).toMatch(/notAfter: must be a date-time/);
      });
    } else {
      it('answers flush with 501 pointing to hydra janitor, without calling Hydra', async () => {
        const res = await api(app.app).post('/admin/tokens/flush', { notAfter: new Date().toISOString() });
        expect(res.status).toBe(501);
        expect(res.body).toEqual({ error: 'not_implemented', error_description: expect.stringContaining('hydra janitor') });
        expect(hydraCalls(app, 'POST', '/flush')).toEqual([]);
      });
    }

    it('has no JSON form page', async () => {
      expect((await api(app.app).get('/admin/tokens')).status).toBe(404);
    });
  });

  describe('console', () => {
    let browser: Browser;
    beforeEach(async () => {
      browser = await signIn(app.app);
    });

    it('shows the introspection result without echoing the token', async () => {
      const page = await browser.get('/admin/tokens');
      expect(page.status).toBe(200);
      const res = await browser.submit('/admin/tokens/introspect', { token: 'secret-access-token-value', scope: 'openid' });
      expect(res.status).toBe(200);
      expect(res.text).toContain('id="introspection"');
      expect(res.text).toContain('alice');
      expect(res.text).toContain('2030-03-17T17:46:40.000Z');
      expect(res.text).toContain('&lt;acme&gt;');
      expect(res.text).not.toContain('secret-access-token-value');
      expect(fieldValue(res.text, 'introspect_scope')).toBe('openid');

      const empty = await browser.submit('/admin/tokens/introspect', { token: '', scope: 'kept' });
      expect(empty.status).toBe(400);
      expect(empty.text).toContain('token: is required');
      expect(fieldValue(empty.text, 'introspect_scope')).toBe('kept');
    });

    it("deletes a client's tokens after confirmation", async () => {
      await api(app.app).post('/admin/clients', { client_id: 'app-1', client_name: 'App One' });
      const confirm = await browser.get('/admin/tokens?action=delete&client_id=app-1');
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('App One');
      expect(app.hydra.state.tokensDeletedFor).toEqual([]);
      const form = confirmForm(confirm.text);
      expect(form).toMatchObject({ action: '/admin/tokens?client_id=app-1', method: 'DELETE' });
      const done = await browser.agent.post(form.action).type('form').send(form.fields);
      expect(done.status).toBe(303);
      expect(done.headers.location).toBe('/admin/tokens?done=tokens-deleted');
      expect(app.hydra.state.tokensDeletedFor).toEqual(['app-1']);

      expect((await browser.get('/admin/tokens?action=delete&client_id=unknown')).status).toBe(404);
      const blank = await browser.get('/admin/tokens?action=delete&client_id=');
      expect(blank.status).toBe(400);
      expect(blank.text).toContain('client_id: is required');
    });

    if (version === 'v1') {
      it('flushes after confirmation, reading the time as UTC', async () => {
        const confirm = await browser.get('/admin/tokens?action=flush&notAfter=2030-01-01T00%3A00');
        expect(confirm.status).toBe(200);
        const form = confirmForm(confirm.text);
        expect(form).toMatchObject({ action: '/admin/tokens/flush', method: undefined, fields: { notAfter: '2030-01-01T00:00:00.000Z' } });
        expect(app.hydra.state.flushed).toEqual([]);
        const done = await browser.agent.post(form.action).type('form').send(form.fields);
        expect(done.status).toBe(303);
        expect(app.hydra.state.flushed).toEqual([{ notAfter: '2030-01-01T00:00:00.000Z' }]);
        const bad = await browser.get('/admin/tokens?action=flush&notAfter=soon');
        expect(bad.status).toBe(400);
        expect(fieldValue(bad.text, 'notAfter')).toBe('soon');
      });
    } else {
      it('says flush is gone on v2: 501 with the janitor hint', async () => {
        const page = await browser.get('/admin/tokens');
        expect(page.text).toContain('hydra janitor');
        expect(page.text).not.toContain('id="notAfter"');
        const res = await browser.submit('/admin/tokens/flush', {});
        expect(res.status).toBe(501);
        expect(res.text).toContain('hydra janitor');
        expect(res.text).toContain('class="alert alert-error"');
      });
    }
  });
});
