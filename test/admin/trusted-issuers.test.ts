// Trusted JWT-grant issuers through /admin: validated before Hydra (issuer, subject rule, a
// public JWK that parses, a future expiry), Hydra's 409 for duplicates, paging on both layouts.
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiVersion, JsonWebKey, TrustedJwtGrantIssuer } from '../../src/hydra/types.js';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, confirmForm, fieldValue, links, signIn, type Browser } from './helpers.js';

const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

async function keyPair(kid: string): Promise<{ publicJwk: JsonWebKey; privateJwk: JsonWebKey }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } as JsonWebKey,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' } as JsonWebKey,
  };
}

describe.each(['v1', 'v2'] as const)('trusted issuers, Hydra %s layout', (version: ApiVersion) => {
  let app: TestApp;
  let jwk: JsonWebKey;
  let privateJwk: JsonWebKey;
  beforeEach(async () => {
    app = await adminApp(version);
    ({ publicJwk: jwk, privateJwk } = await keyPair('issuer-key'));
  });
  afterEach(async () => {
    await app.close();
  });

  const body = (overrides: Record<string, unknown> = {}) => ({
    issuer: 'https://idp.example', allow_any_subject: true, scope: ['openid', 'email'], jwk, expires_at: inAnHour(), ...overrides,
  });

  describe('JSON API', () => {
    it('trusts, lists with a filter, reads and deletes; a duplicate is 409', async () => {
      const created = await api(app.app).post('/admin/trust/issuers', body());
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ issuer: 'https://idp.example', allow_any_subject: true, scope: ['openid', 'email'], public_key: { set: 'https://idp.example', kid: 'issuer-key' } });
      const id = created.body.id as string;
      await api(app.app).post('/admin/trust/issuers', body({ issuer: 'https://other.example', allow_any_subject: undefined, subject: 'svc-1' }));

      const filtered = await api(app.app).get('/admin/trust/issuers?issuer=https%3A%2F%2Fidp.example');
      expect(filtered.status).toBe(200);
      expect(filtered.body.map((g: TrustedJwtGrantIssuer) => g.id)).toEqual([id]);
      expect((await api(app.app).get('/admin/trust/issuers')).body).toHaveLength(2);

      const duplicate = await api(app.app).post('/admin/trust/issuers', body());
      expect(duplicate.status).toBe(409);
      expect(duplicate.body).toEqual({ error: 'conflict', error_description: expect.stringMatching(/exists already/) });

      expect((await api(app.app).get(`/admin/trust/issuers/${id}`)).body.id).toBe(id);
      expect((await api(app.app).delete(`/admin/trust/issuers/${id}`)).status).toBe(204);
      expect(app.hydra.state.issuers.has(id)).toBe(false);
      expect((await api(app.app).get(`/admin/trust/issuers/${id}`)).status).toBe(404);
      expect((await api(app.app).delete(`/admin/trust/issuers/${id}`)).status).toBe(404);
    });

    it('validates the body before calling Hydra', async () => {
      const before = app.hydra.calls.length;
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [body({ issuer: '' }), /issuer: is required/],
        [body({ issuer: '   ' }), /issuer: is required/],
        [body({ allow_any_subject: undefined }), /subject: set a subject, or allow any subject/],
        [body({ subject: 'alice' }), /not both/],
        [body({ scope: 'openid' }), /scope/],
        [body({ jwk: undefined }), /jwk: must be a JSON Web Key object/],
        [body({ jwk: { ...jwk, kty: undefined } }), /jwk: kty is required/],
        [body({ jwk: { ...jwk, x: undefined } }), /jwk: not a usable key/],
        [body({ jwk: { ...jwk, kid: undefined } }), /jwk: kid is required/],
        [body({ jwk: privateJwk }), /jwk: must be a public key/],
        [body({ expires_at: '2001-01-01T00:00:00Z' }), /expires_at: must be in the future/],
        [body({ expires_at: 'next tuesday' }), /expires_at: must be a date-time/],
        [body({ expires_at: undefined }), /expires_at: is required/],
      ];
      for (const [input, message] of cases) {
        const res = await api(app.app).post('/admin/trust/issuers', input);
        expect(res.status, JSON.stringify(input)).toBe(400);
        expect(res.body.error_description).toMatch(message);
      }
      expect(app.hydra.calls.length).toBe(before);
    });

    it('passes paging through on this layout', async () => {
      for (let i = 0; i < 3; i++) {
        const { publicJwk } = await keyPair(`k${i}`);
        expect((await api(app.app).post('/admin/trust/issuers', body({ jwk: publicJwk }))).status).toBe(201);
      }
      const first = await api(app.app).get('/admin/trust/issuers?page_size=2');
      expect(first.body).toHaveLength(2);
      expect(first.headers['x-total-count']).toBe('3');
      const next = links(first.headers.link).next;
      expect(next).toMatch(/^\/admin\/trust\/issuers\?page_size=2&page_token=/);
      const second = await api(app.app).get(next!);
      expect(second.body).toHaveLength(1);
      expect(links(second.headers.link).next).toBeUndefined();
      const ids = [...first.body, ...second.body].map((g: TrustedJwtGrantIssuer) => g.id);
      expect(new Set(ids).size).toBe(3);
    });
  });

  describe('console', () => {
    let browser: Browser;
    beforeEach(async () => {
      browser = await signIn(app.app);
    });

    it('trusts an issuer from the form (expiry read as UTC) and shows it', async () => {
      const form = await browser.get('/admin/trust/issuers?action=new');
      expect(form.status).toBe(200);
      const expires = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
      const res = await browser.submit('/admin/trust/issuers', {
        issuer: 'https://console-idp.example', subject: 'svc-42', scope: 'openid  email', jwk: JSON.stringify(jwk), expires_at: expires,
      });
      expect(res.status).toBe(303);
      const grant = [...app.hydra.state.issuers.values()][0]!;
      expect(res.headers.location).toBe(`/admin/trust/issuers/${grant.id}?done=created`);
      expect(grant).toMatchObject({ issuer: 'https://console-idp.example', subject: 'svc-42', scope: ['openid', 'email'] });
      expect(grant.expires_at).toBe(new Date(`${expires}Z`).toISOString());

      const page = await browser.get(res.headers.location!);
      expect(page.status).toBe(200);
      expect(page.text).toContain('https://console-idp.example');
      // Hydra cannot route a key set named after a URL (neither v1.11 nor v2.3): no dead link.
      expect(page.text).not.toContain('href="/admin/keys/https');
      expect(page.text).toContain('cannot look up a set whose name contains');
      expect(page.text).toContain('<code>issuer-key</code> in the set <code>https://console-idp.example</code>');

      const list = await browser.get('/admin/trust/issuers');
      expect(list.text).toContain('svc-42');
      const filtered = await browser.get('/admin/trust/issuers?issuer=https%3A%2F%2Fnobody.example');
      expect(filtered.text).toContain('No trusted issuers match this filter');
    });

    it('links the key of an issuer whose name Hydra can route as a key set', async () => {
      const { body: grant } = await api(app.app).post('/admin/trust/issuers', body({ issuer: 'plain-issuer' }));
      const page = await browser.get(`/admin/trust/issuers/${grant.id}`);
      expect(page.text).toContain('href="/admin/keys/plain-issuer/issuer-key"');
      const key = await browser.get('/admin/keys/plain-issuer/issuer-key');
      expect(key.status).toBe(200);
      expect(key.text).toContain(jwk.x!);
    });

    it('keeps the input on our errors and on Hydra\'s 409', async () => {
      const fields = { issuer: '', subject: 'kept-subject', scope: 'openid', jwk: JSON.stringify(jwk), expires_at: '2001-01-01T00:00' };
      const res = await browser.submit('/admin/trust/issuers', fields);
      expect(res.status).toBe(400);
      expect(res.text).toContain('issuer: is required');
      expect(fieldValue(res.text, 'subject')).toBe('kept-subject');
      expect(fieldValue(res.text, 'jwk')).toBe(JSON.stringify(jwk));
      expect(fieldValue(res.text, 'expires_at')).toBe('2001-01-01T00:00');

      const past = await browser.submit('/admin/trust/issuers', { ...fields, issuer: 'https://i.example' });
      expect(past.status).toBe(400);
      expect(past.text).toContain('expires_at: must be in the future');

      const ok = { ...fields, issuer: 'https://i.example', expires_at: inAnHour() };
      expect((await browser.submit('/admin/trust/issuers', ok)).status).toBe(303);
      const again = await browser.submit('/admin/trust/issuers', ok);
      expect(again.status).toBe(409);
      expect(again.text).toContain('exists already');
      expect(fieldValue(again.text, 'issuer')).toBe('https://i.example');
    });

    it('deletes only after confirmation', async () => {
      const { body: grant } = await api(app.app).post('/admin/trust/issuers', body());
      const confirm = await browser.get(`/admin/trust/issuers/${grant.id}?action=delete`);
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('https://idp.example');
      expect(app.hydra.state.issuers.size).toBe(1);
      const form = confirmForm(confirm.text);
      expect(form).toMatchObject({ action: `/admin/trust/issuers/${grant.id}`, method: 'DELETE' });
      const done = await browser.agent.post(form.action).type('form').send(form.fields);
      expect(done.status).toBe(303);
      expect(done.headers.location).toBe('/admin/trust/issuers?done=deleted');
      expect(app.hydra.state.issuers.size).toBe(0);
      expect((await browser.get(`/admin/trust/issuers/${grant.id}`)).status).toBe(404);
    });
  });
});
