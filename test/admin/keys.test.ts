// JSON Web Keys through /admin: generate, read, replace and delete sets and keys; JWKs are checked
// before Hydra sees them (no stricter than Hydra: keys as Hydra v1 generates them go back), keys
// are shown and linked by the kids Hydra returns (v1: private:<kid> and public:<kid>), and the
// console shows public material unless asked.
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiVersion, JsonWebKey } from '../../src/hydra/types.js';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, confirmForm, fieldValue, signIn, type Browser } from './helpers.js';

async function publicRsaKey(kid: string): Promise<JsonWebKey> {
  const { publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } as JsonWebKey;
}

describe.each(['v1', 'v2'] as const)('keys, Hydra %s layout', (version: ApiVersion) => {
  let app: TestApp;
  beforeEach(async () => {
    app = await adminApp(version);
  });
  afterEach(async () => {
    await app.close();
  });
  const storedSet = (set: string) => app.hydra.state.keySets.get(set);
  /** The kids one generate call leaves in Hydra: v1 stores a key pair as two keys. */
  const generatedKids = (kid: string) => (version === 'v1' ? [`private:${kid}`, `public:${kid}`] : [kid]);
  /** The kid of the key holding the private material of a generated pair. */
  const privateKid = (kid: string) => generatedKids(kid)[0]!;

  describe('JSON API', () => {
    it('generates, reads, replaces and deletes keys and sets', async () => {
      const generated = await api(app.app).post('/admin/keys/app-signing', { alg: 'ES256', kid: 'k1', use: 'sig' });
      expect(generated.status).toBe(201);
      expect(generated.body.keys.map((k: JsonWebKey) => k.kid)).toEqual(generatedKids('k1'));
      expect(generated.body.keys[0]).toMatchObject({ use: 'sig', kty: 'EC', crv: 'P-256' });
      // v1 generates EC keys without alg.
      expect(generated.body.keys[0].alg).toBe(version === 'v1' ? undefined : 'ES256');

      const set = await api(app.app).get('/admin/keys/app-signing');
      expect(set.status).toBe(200);
      expect(set.body.keys.map((k: JsonWebKey) => k.kid)).toEqual(generatedKids('k1'));
      // The API answers what Hydra answers, private parameters included.
      expect(set.body.keys[0]).toHaveProperty('d');

      const one = await api(app.app).get(`/admin/keys/app-signing/${privateKid('k1')}`);
      expect(one.status).toBe(200);
      expect(one.body.keys.map((k: JsonWebKey) => k.kid)).toEqual([privateKid('k1')]);
      // Every key goes back exactly as Hydra handed it out.
      for (const key of set.body.keys as JsonWebKey[]) {
        const same = await api(app.app).put(`/admin/keys/app-signing/${encodeURIComponent(key.kid)}`, key);
        expect(same.status, JSON.stringify(same.body)).toBe(200);
      }
      expect((await api(app.app).put('/admin/keys/app-signing', set.body)).status).toBe(200);
      expect(storedSet('app-signing')?.keys).toEqual(set.body.keys);

      const replacement = await publicRsaKey('k1');
      const putKey = await api(app.app).put('/admin/keys/replaced/k1', replacement);
      expect(putKey.status).toBe(200);
      expect(storedSet('replaced')?.keys).toEqual([replacement]);

      // The kid may be left to the URL.
      const { kid: _kid, ...withoutKid } = await publicRsaKey('ignored');
      expect((await api(app.app).put('/admin/keys/replaced/k2', withoutKid)).status).toBe(200);
      expect(storedSet('replaced')?.keys.map((k) => k.kid).sort()).toEqual(['k1', 'k2']);

      const newSet = { keys: [await publicRsaKey('a'), await publicRsaKey('b')] };
      const putSet = await api(app.app).put('/admin/keys/app-signing', newSet);
      expect(putSet.status).toBe(200);
      expect(storedSet('app-signing')?.keys.map((k) => k.kid)).toEqual(['a', 'b']);

      expect((await api(app.app).delete('/admin/keys/app-signing/a')).status).toBe(204);
      expect(storedSet('app-signing')?.keys.map((k) => k.kid)).toEqual(['b']);
      expect((await api(app.app).delete('/admin/keys/app-signing')).status).toBe(204);
      expect(storedSet('app-signing')).toBeUndefined();
      expect((await api(app.app).get('/admin/keys/app-signing')).status).toBe(404);
    });

    it("maps Hydra's errors: 404 unknown set or key, 409 duplicate kid, 400 unsupported algorithm", async () => {
      expect((await api(app.app).get('/admin/keys/none')).body).toMatchObject({ error: 'not_found' });
      expect((await api(app.app).get('/admin/keys/none/k')).status).toBe(404);
      // A set named after a URL has no route in Hydra; the 404 says so.
      const unroutable = await api(app.app).get('/admin/keys/https%3A%2F%2Fidp.example/k');
      expect(unroutable.status).toBe(404);
      expect(unroutable.body.error_description).toMatch(/no route for a set name that contains "\/"/);
      // Hydra deletes what is not there without complaint.
      expect((await api(app.app).delete('/admin/keys/none')).status).toBe(204);
      expect((await api(app.app).delete('/admin/keys/none/k')).status).toBe(204);
      await api(app.app).post('/admin/keys/s', { alg: 'RS256', kid: 'k', use: 'sig' });
      expect((await api(app.app).post('/admin/keys/s', { alg: 'RS256', kid: 'k', use: 'sig' })).status).toBe(409);
      // v1 generates no RS512, v2 no shared secret.
      const unsupported = await api(app.app).post('/admin/keys/s', { alg: version === 'v1' ? 'RS512' : 'HS256', kid: 'k2', use: 'sig' });
      expect(unsupported.status).toBe(400);
      expect(unsupported.body.error_description).toBe('Unsupported key algorithm');
    });

    it('takes keys as Hydra v1 generates them: RSA without dp/dq/qi, EC and EdDSA without alg', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const { dp: _dp, dq: _dq, qi: _qi, ...rsa } = await exportJWK(privateKey);
      const ec = await exportJWK((await generateKeyPair('ES512', { extractable: true })).privateKey);
      const ed = await exportJWK((await generateKeyPair('EdDSA', { extractable: true, crv: 'Ed25519' })).privateKey);
      for (const [kid, key] of [['private:rsa', rsa], ['private:ec', ec], ['private:ed', ed]] as const) {
        const res = await api(app.app).put(`/admin/keys/v1-shaped/${encodeURIComponent(kid)}`, { use: 'sig', ...key, kid });
        expect(res.status, `${kid}: ${JSON.stringify(res.body)}`).toBe(200);
      }
      expect(storedSet('v1-shaped')?.keys.map((k) => k.kid)).toEqual(['private:rsa', 'private:ec', 'private:ed']);
    });

    it('refuses JWKs that do not parse, and bad generate requests, before calling Hydra', async () => {
      const before = app.hydra.calls.length;
      const good = await publicRsaKey('k');
      const cases: Array<[string, string, object, RegExp]> = [
        ['PUT', '/admin/keys/s/k', { ...good, kty: undefined }, /jwk: kty is required/],
        ['PUT', '/admin/keys/s/k', { ...good, e: undefined }, /jwk: not a usable key/],
        ['PUT', '/admin/keys/s/k', { ...good, kty: 'RSA-ish' }, /jwk: not a usable key/],
        ['PUT', '/admin/keys/s/k', { kty: 'EC', crv: 'P-256', x: 'AAAA', kid: 'k', alg: 'ES256' }, /jwk: not a usable key: y is required/],
        ['PUT', '/admin/keys/s/k', { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'k' }, /jwk: not a usable key/],
        ['PUT', '/admin/keys/s/k', { kty: 'OKP', crv: 'Ed448', x: 'AAAA', kid: 'k' }, /crv must be one of Ed25519/],
        ['PUT', '/admin/keys/s/k', { kty: 'oct', k: 'not base64url!', kid: 'k' }, /k must be base64url/],
        ['PUT', '/admin/keys/s/k', { ...good, d: 'AQAB' }, /jwk: not a usable key: p is required/],
        ['PUT', '/admin/keys/s/k', { ...good, d: 'AQAB', p: 'AQAB', q: 'AQAB' }, /p and q are not the factors of n/],
        ['PUT', '/admin/keys/s/k', { ...good, d: 'AQAB', p: 'AQAB', q: 'AQAB', dp: 'AQAB' }, /dq is required/],
        ['PUT', '/admin/keys/s/k', { ...good, alg: 256 }, /alg must be a string/],
        ['PUT', '/admin/keys/s/k', { ...good, kid: 'other' }, /does not match the kid in the URL/],
        ['PUT', '/admin/keys/s', { keys: [good, { kty: 'RSA', kid: 'x', alg: 'RS256' }] }, /keys\.1: not a usable key/],
        ['PUT', '/admin/keys/s', { keys: [{ ...good, kid: undefined }] }, /keys\.0: kid is required/],
        ['PUT', '/admin/keys/s', { notKeys: [] }, /\{"keys": \[ \.\.\. \]\}/],
        ['POST', '/admin/keys/s', { alg: 'RS256', use: 'sig' }, /kid: /],
        ['POST', '/admin/keys/s', { alg: 'RS256', kid: 'k', use: 'both' }, /use: must be sig or enc/],
      ];
      for (const [method, path, body, message] of cases) {
        const res = method === 'PUT' ? await api(app.app).put(path, body) : await api(app.app).post(path, body);
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
        expect(res.body.error_description).toMatch(message);
      }
      expect(app.hydra.calls.length).toBe(before);
    });
  });

  describe('console', () => {
    let browser: Browser;
    beforeEach(async () => {
      browser = await signIn(app.app);
    });

    it('opens a set by name from the keys page', async () => {
      const index = await browser.get('/admin/keys');
      expect(index.status).toBe(200);
      expect(index.text).toContain('hydra.openid.id-token');
      const open = await browser.get('/admin/keys?set=my%20set');
      expect(open.status).toBe(303);
      expect(open.headers.location).toBe('/admin/keys/my%20set');
      // An unknown set is a 404 that offers to start it.
      const empty = await browser.get('/admin/keys/my%20set');
      expect(empty.status).toBe(404);
      expect(empty.text).toContain('This set has no keys yet');
      expect(empty.text).toContain('id="generate"');
    });

    it('generates a key from the form; shows public material unless asked', async () => {
      const res = await browser.submit('/admin/keys/console-set', { kid: 'c1', alg: 'RS256', use: 'sig' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/admin/keys/console-set?done=created');
      const stored = storedSet('console-set')!.keys[0]!;
      expect(stored.d).toBeTruthy();

      const page = await browser.get(res.headers.location!);
      expect(page.status).toBe(200);
      expect(page.text).toContain('Created.');
      expect(page.text).toContain(stored.n!);
      expect(page.text).not.toContain(stored.d!);
      expect(page.text).not.toContain(stored.p!);
      expect(page.text).not.toMatch(/&#34;d&#34;:/);

      const shown = await browser.get('/admin/keys/console-set?show_private=1');
      expect(shown.text).toContain(stored.d!);
      expect(shown.text).toContain('Private and secret key material is shown');

      // Each key is listed and linked by the kid Hydra gave it (v1: private:c1 and public:c1).
      for (const kid of generatedKids('c1')) expect(page.text).toContain(`href="/admin/keys/console-set/${encodeURIComponent(kid)}"`);
      const keyPath = `/admin/keys/console-set/${encodeURIComponent(privateKid('c1'))}`;
      const key = await browser.get(keyPath);
      expect(key.status).toBe(200);
      expect(key.text).toContain(stored.n!);
      expect(key.text).not.toContain(stored.d!);
      expect((await browser.get(`${keyPath}?show_private=1`)).text).toContain(stored.d!);
    });

    it('hides symmetric key material (k) too', async () => {
      // Uploaded: v2 generates no shared secrets.
      const secret = 'pBWEiPGxW09P2IuMLzv5xw';
      expect((await api(app.app).put('/admin/keys/hmac/h1', { kty: 'oct', kid: 'h1', alg: 'HS256', use: 'sig', k: secret })).status).toBe(200);
      expect((await browser.get('/admin/keys/hmac')).text).not.toContain(secret);
      expect((await browser.get('/admin/keys/hmac/h1')).text).not.toContain(secret);
    });

    it('keeps the input when generating or replacing fails', async () => {
      const missingKid = await browser.submit('/admin/keys/s2', { kid: '', alg: 'ES512', use: 'enc' });
      expect(missingKid.status).toBe(400);
      expect(missingKid.text).toContain('kid: is required');
      expect(missingKid.text).toContain('value="ES512" selected');
      expect(missingKid.text).toContain('value="enc" selected');

      await api(app.app).post('/admin/keys/s2', { alg: 'RS256', kid: 'k', use: 'sig' });
      const duplicate = await browser.submit('/admin/keys/s2', { kid: 'k', alg: 'RS256', use: 'sig' });
      expect(duplicate.status).toBe(409);
      expect(fieldValue(duplicate.text, 'kid')).toBe('k');

      const text = '{"keys": [{"kty": "RSA", "kid": "broken"}]}';
      const badSet = await browser.submit('/admin/keys/s2', { _method: 'PUT', keys: text });
      expect(badSet.status).toBe(400);
      expect(badSet.text).toContain('keys.0: not a usable key');
      expect(fieldValue(badSet.text, 'keys')).toBe(text);

      const badKey = await browser.submit(`/admin/keys/s2/${encodeURIComponent(privateKid('k'))}`, { _method: 'PUT', jwk: '{"kty": ' });
      expect(badKey.status).toBe(400);
      expect(badKey.text).toContain('jwk: not valid JSON');
      expect(fieldValue(badKey.text, 'jwk')).toBe('{"kty": ');
    });

    it('replaces a key and a set from the forms', async () => {
      await api(app.app).post('/admin/keys/s3', { alg: 'RS256', kid: 'k', use: 'sig' });
      const kid = privateKid('k');
      const key = await publicRsaKey(kid);
      const saved = await browser.submit(`/admin/keys/s3/${encodeURIComponent(kid)}`, { _method: 'PUT', jwk: JSON.stringify(key) });
      expect(saved.status).toBe(303);
      expect(saved.headers.location).toBe(`/admin/keys/s3/${encodeURIComponent(kid)}?done=saved`);
      expect(storedSet('s3')?.keys.find((k) => k.kid === kid)).toEqual(key);
      const set = { keys: [await publicRsaKey('x')] };
      const savedSet = await browser.submit('/admin/keys/s3', { _method: 'PUT', keys: JSON.stringify(set) });
      expect(savedSet.status).toBe(303);
      expect(storedSet('s3')?.keys.map((k) => k.kid)).toEqual(['x']);
    });

    it('deletes a key and a set only after confirmation', async () => {
      await api(app.app).post('/admin/keys/s4', { alg: 'RS256', kid: 'k1', use: 'sig' });
      await api(app.app).post('/admin/keys/s4', { alg: 'RS256', kid: 'k2', use: 'sig' });

      const k1 = privateKid('k1');
      const confirmKey = await browser.get(`/admin/keys/s4/${encodeURIComponent(k1)}?action=delete`);
      expect(confirmKey.status).toBe(200);
      const keyForm = confirmForm(confirmKey.text);
      expect(keyForm).toMatchObject({ action: `/admin/keys/s4/${encodeURIComponent(k1)}`, method: 'DELETE' });
      const all = [...generatedKids('k1'), ...generatedKids('k2')];
      expect(storedSet('s4')?.keys.map((k) => k.kid).sort()).toEqual([...all].sort());
      const deletedKey = await browser.agent.post(keyForm.action).type('form').send(keyForm.fields);
      expect(deletedKey.status).toBe(303);
      expect(storedSet('s4')?.keys.map((k) => k.kid).sort()).toEqual(all.filter((kid) => kid !== k1).sort());

      const confirmSet = await browser.get('/admin/keys/s4?action=delete');
      expect(confirmSet.text).toContain(privateKid('k2'));
      const setForm = confirmForm(confirmSet.text);
      expect(setForm).toMatchObject({ action: '/admin/keys/s4', method: 'DELETE' });
      const deletedSet = await browser.agent.post(setForm.action).type('form').send(setForm.fields);
      expect(deletedSet.status).toBe(303);
      expect(deletedSet.headers.location).toBe('/admin/keys?done=deleted');
      expect(storedSet('s4')).toBeUndefined();
    });
  });
});
