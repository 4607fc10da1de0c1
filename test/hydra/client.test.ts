// The real admin client against the fake Hydra (a real HTTP server), in both layouts. Each
// operation's effect is read back from what the fake recorded, not from the client's own answer.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPERATIONS, createHydraAdmin } from '../../src/hydra/client.js';
import type { HydraAdmin } from '../../src/hydra/client.js';
import { HydraError, HydraUnavailableError, UnsupportedOperationError } from '../../src/hydra/errors.js';
import type { ApiVersion, JsonWebKey, OAuth2Client } from '../../src/hydra/types.js';
import { startFakeHydra } from '../support/fake-hydra.js';
import type { FakeHydra } from '../support/fake-hydra.js';

/** Resolves to the error a promise rejects with; fails the test when it resolves. */
async function rejection<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}, but the call succeeded`);
}

const decodeToken = (token: string | undefined) => JSON.parse(Buffer.from(token ?? '', 'base64url').toString('utf8')) as unknown;

/** A public EC key, as a JWT-bearer issuer would publish it. */
const ISSUER_KEY: JsonWebKey = {
  kty: 'EC', crv: 'P-256', kid: 'issuer-key-1', alg: 'ES256', use: 'sig',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

describe.each(['v1', 'v2'] as const)('Hydra admin client, %s layout', (version: ApiVersion) => {
  const prefix = version === 'v2' ? '/admin' : '';
  const called = new Set<string>();
  let fake: FakeHydra;
  let hydra: HydraAdmin;

  /** The client, with every operation it is asked for remembered (to prove every one is exercised). */
  function client(options: { token?: string; timeoutMs?: number; baseUrl?: string } = {}): HydraAdmin {
    const real = createHydraAdmin({ baseUrl: fake.url, apiVersion: version, timeoutMs: 2000, ...options });
    return new Proxy(real, {
      get(target, key, receiver) {
        if (typeof key === 'string' && key in OPERATIONS) called.add(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  }
  const lastCall = () => fake.calls.at(-1)!;

  beforeEach(async () => {
    fake = await startFakeHydra({ apiVersion: version });
    hydra = client();
  });
  afterEach(async () => {
    await fake.close();
  });
  afterAll(() => {
    expect([...called].sort()).toEqual(Object.keys(OPERATIONS).sort());
  });

  describe('login', () => {
    it('gets the login request the fake was seeded with', async () => {
      const challenge = fake.addLoginRequest({ requested_scope: ['openid'] });
      const request = await hydra.getLoginRequest(challenge);
      expect(request).toMatchObject({ challenge, skip: false, subject: '', requested_scope: ['openid'] });
      expect(request.client.client_id).toBe('demo-client');
      expect(lastCall()).toMatchObject({
        method: 'GET',
        path: `${prefix}/oauth2/auth/requests/login`,
        query: { login_challenge: challenge },
      });
    });

    it('keeps the fields its shape check does not name (newer Hydras add some)', async () => {
      const client = { client_id: 'demo-client', client_name: 'Demo', tenant_note: 'kept' } as OAuth2Client;
      // Through a variable: a field LoginRequest does not know is what this test sends.
      const withUnknownField = { client, extra_field: { nested: [1, 2] } };
      const challenge = fake.addLoginRequest(withUnknownField);
      const request = (await hydra.getLoginRequest(challenge)) as unknown as Record<string, unknown> & { client: Record<string, unknown> };
      expect(request.extra_field).toEqual({ nested: [1, 2] });
      expect(request.client.tenant_note).toBe('kept');
      expect(request.client.client_id).toBe('demo-client');
    });

    it('accepts with only the fields this Hydra version knows', async () => {
      const challenge = fake.addLoginRequest();
      const { redirect_to } = await hydra.acceptLoginRequest(challenge, {
        subject: 'alice',
        remember: true,
        remember_for: 3600,
        acr: '1',
        amr: ['pwd'],
        context: { tenant: 'acme' },
        // v2.1+/v2.2+ only: v1.11 would answer 400 for them, so the client drops them there (§2).
        extend_session_lifespan: true,
        identity_provider_session_id: 'idp-session-1',
      });
      expect(redirect_to).toMatch(/^http:\/\/hydra\.test\/oauth2\/auth\?login_verifier=\w+$/);
      expect(fake.accepted.login).toHaveLength(1);
      const { challenge: recorded, body } = fake.accepted.login[0]!;
      expect(recorded).toBe(challenge);
      expect(body).toMatchObject({ subject: 'alice', remember: true, remember_for: 3600, acr: '1', amr: ['pwd'], context: { tenant: 'acme' } });
      if (version === 'v1') {
        expect(body).not.toHaveProperty('extend_session_lifespan');
        expect(body).not.toHaveProperty('identity_provider_session_id');
      } else {
        expect(body).toMatchObject({ extend_session_lifespan: true, identity_provider_session_id: 'idp-session-1' });
      }
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/oauth2/auth/requests/login/accept` });
      expect(lastCall().headers['content-type']).toBe('application/json');
    });

    it('rejects with the body as given', async () => {
      const challenge = fake.addLoginRequest();
      const { redirect_to } = await hydra.rejectLoginRequest(challenge, { error: 'access_denied', error_description: 'The user said no' });
      expect(redirect_to).toContain('/oauth2/auth?login_verifier=');
      expect(fake.rejected.login).toEqual([{ challenge, body: { error: 'access_denied', error_description: 'The user said no' } }]);
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/oauth2/auth/requests/login/reject` });
    });

    it('on skip with another subject: v1 answers 400, v2 forces a fresh login', async () => {
      const challenge = fake.addLoginRequest({ skip: true, subject: 'alice' });
      if (version === 'v1') {
        const err = await rejection(hydra.acceptLoginRequest(challenge, { subject: 'mallory' }), HydraError);
        expect(err).toMatchObject({ status: 400, error: 'invalid_request' });
        expect(err.errorDescription).toContain("Field 'subject' does not match subject from previous authentication.");
        expect(fake.accepted.login).toEqual([]);
      } else {
        const { redirect_to } = await hydra.acceptLoginRequest(challenge, { subject: 'mallory' });
        expect(redirect_to).toMatch(/^http:\/\/hydra\.test\/oauth2\/auth\?.*&prompt=login$/);
      }
    });
  });

  describe('consent', () => {
    it('gets, accepts (context only on v2) and shows the result in the consent sessions', async () => {
      const challenge = fake.addConsentRequest({ subject: 'alice' });
      const request = await hydra.getConsentRequest(challenge);
      expect(request).toMatchObject({ challenge, subject: 'alice', requested_scope: ['openid', 'offline_access', 'email', 'profile'] });
      expect(lastCall()).toMatchObject({ path: `${prefix}/oauth2/auth/requests/consent`, query: { consent_challenge: challenge } });

      const { redirect_to } = await hydra.acceptConsentRequest(challenge, {
        grant_scope: ['openid', 'email'],
        grant_access_token_audience: [],
        remember: true,
        remember_for: 0,
        session: { id_token: { email: 'alice@example.com' }, access_token: {} },
        context: { step: 'consent' },
      });
      expect(redirect_to).toMatch(/^http:\/\/hydra\.test\/oauth2\/auth\?consent_verifier=\w+$/);
      const { body } = fake.accepted.consent[0]!;
      expect(body).toMatchObject({ grant_scope: ['openid', 'email'], remember: true, session: { id_token: { email: 'alice@example.com' } } });
      if (version === 'v1') expect(body).not.toHaveProperty('context');
      else expect(body.context).toEqual({ step: 'consent' });

      const sessions = await hydra.listSubjectConsentSessions({ subject: 'alice' });
      expect(sessions.items).toHaveLength(1);
      expect(sessions.items[0]).toMatchObject({ grant_scope: ['openid', 'email'], remember: true, consent_request: { challenge } });
      expect(sessions.total).toBe(1);
      expect(lastCall()).toMatchObject({ method: 'GET', path: `${prefix}/oauth2/auth/sessions/consent`, query: { subject: 'alice' } });
    });

    it('rejects', async () => {
      const challenge = fake.addConsentRequest();
      const { redirect_to } = await hydra.rejectConsentRequest(challenge, { error: 'access_denied', status_code: 403 });
      expect(redirect_to).toContain('/oauth2/auth?consent_verifier=');
      expect(fake.rejected.consent).toEqual([{ challenge, body: { error: 'access_denied', status_code: 403 } }]);
    });
  });

  describe('logout', () => {
    it('gets and accepts a logout request', async () => {
      const challenge = fake.addLogoutRequest({ subject: 'alice', rp_initiated: false });
      expect(await hydra.getLogoutRequest(challenge)).toMatchObject({ challenge, subject: 'alice', rp_initiated: false, client: null });
      expect(lastCall()).toMatchObject({ path: `${prefix}/oauth2/auth/requests/logout`, query: { logout_challenge: challenge } });
      const { redirect_to } = await hydra.acceptLogoutRequest(challenge);
      expect(redirect_to).toMatch(/^http:\/\/hydra\.test\/oauth2\/sessions\/logout\?logout_verifier=\w+$/);
      expect(fake.accepted.logout).toEqual([{ challenge, body: undefined }]);
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/oauth2/auth/requests/logout/accept`, body: undefined });
    });

    it('rejects with 204 and no body; the challenge is gone afterwards', async () => {
      const challenge = fake.addLogoutRequest();
      await expect(hydra.rejectLogoutRequest(challenge)).resolves.toBeUndefined();
      expect(fake.rejected.logout).toEqual([{ challenge, body: undefined }]);
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/oauth2/auth/requests/logout/reject` });
      const err = await rejection(hydra.getLogoutRequest(challenge), HydraError);
      expect(err).toMatchObject({ status: 404, error: 'Unable to locate the resource', errorDescription: '' });
    });
  });

  describe('device authorization (Hydra v25.4+)', () => {
    it(version === 'v2' ? 'accepts a user code and answers the device verify redirect; 400 for a wrong code' : 'refuses the device accept, naming v25.4, without a request', async () => {
      if (version === 'v1') {
        const before = fake.calls.length;
        const err = await rejection(hydra.acceptUserCodeRequest('challenge', 'ABCD1234'), UnsupportedOperationError);
        expect(err).toMatchObject({ operation: 'acceptUserCodeRequest', apiVersion: 'v1' });
        expect(err.message).toContain('Hydra v25.4 or later');
        expect(fake.calls.length).toBe(before);
        return;
      }
      const challenge = fake.addDeviceChallenge();
      const code = fake.addUserCode();
      const { redirect_to } = await hydra.acceptUserCodeRequest(challenge, code);
      expect(redirect_to).toMatch(/^http:\/\/hydra\.test\/oauth2\/device\/verify\?client_id=tv-app&device_verifier=[0-9a-f]{32}$/);
      expect(lastCall()).toMatchObject({ method: 'PUT', path: '/admin/oauth2/auth/requests/device/accept', query: { device_challenge: challenge }, body: { user_code: code } });
      const err = await rejection(hydra.acceptUserCodeRequest(challenge, 'WRONG123'), HydraError);
      expect(err).toMatchObject({ status: 400, error: 'invalid_request' });
      expect(err.errorDescription).toContain("The 'user_code' session could not be found or has expired or is otherwise malformed.");
    });

    it('reports every call to onCall with its operation, duration and failure (the metrics hook)', async () => {
      const seen: Array<{ operation: string; seconds: number; error?: unknown }> = [];
      const observed = createHydraAdmin({ baseUrl: fake.url, apiVersion: version, timeoutMs: 2000, onCall: (call) => seen.push(call) });
      await observed.getLoginRequest(fake.addLoginRequest());
      await observed.getLoginRequest('unknown').catch(() => undefined);
      // An operation the layout lacks never leaves the process, and is not reported.
      await (version === 'v2' ? observed.flushInactiveOAuth2Tokens() : observed.acceptUserCodeRequest('c', 'x')).catch(() => undefined);
      expect(seen.map((call) => call.operation)).toEqual(['getLoginRequest', 'getLoginRequest']);
      expect(seen[0]!.error).toBeUndefined();
      expect(seen[0]!.seconds).toBeGreaterThan(0);
      expect(seen[1]!.error).toBeInstanceOf(HydraError);
    });
  });

  describe('OAuth2 clients', () => {
    const client1: OAuth2Client = {
      client_name: 'Shop',
      owner: 'team-a',
      redirect_uris: ['https://shop.example/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid offline_access',
      skip_consent: true, // v2 only
      access_token_strategy: 'opaque', // v2 only
      password_grant_access_token_lifespan: '1h', // v1 only
      authorization_code_grant_access_token_lifespan: '30m',
    };

    it('creates a client with a generated id and secret, sending only fields this version knows', async () => {
      const created = await hydra.createOAuth2Client(client1);
      expect(created.client_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.client_secret).toEqual(expect.any(String));
      expect(created).toMatchObject({ client_name: 'Shop', authorization_code_grant_access_token_lifespan: '30m' });
      const call = lastCall();
      expect(call).toMatchObject({ method: 'POST', path: `${prefix}/clients` });
      const sent = call.body as Record<string, unknown>;
      if (version === 'v1') {
        expect(sent).not.toHaveProperty('skip_consent');
        expect(sent).not.toHaveProperty('access_token_strategy');
        expect(sent.password_grant_access_token_lifespan).toBe('1h');
      } else {
        expect(sent).not.toHaveProperty('password_grant_access_token_lifespan');
        expect(sent).toMatchObject({ skip_consent: true, access_token_strategy: 'opaque' });
      }
      expect(fake.state.clients.get(created.client_id!)).toMatchObject({ client_name: 'Shop', client_secret: created.client_secret });
    });

    it('gets, replaces, patches and deletes a client', async () => {
      const { client_id: id = '' } = await hydra.createOAuth2Client({ client_id: 'shop', ...client1 });
      expect(id).toBe('shop');

      const got = await hydra.getOAuth2Client(id);
      expect(got).toMatchObject({ client_id: 'shop', client_name: 'Shop' });
      expect(got).not.toHaveProperty('client_secret');
      expect(lastCall()).toMatchObject({ method: 'GET', path: `${prefix}/clients/shop` });

      const replaced = await hydra.updateOAuth2Client(id, { client_name: 'Shop 2', redirect_uris: ['https://shop2.example/cb'] });
      expect(replaced).toMatchObject({ client_id: 'shop', client_name: 'Shop 2', owner: '' });
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/clients/shop`, body: { client_name: 'Shop 2' } });

      const patched = await hydra.patchOAuth2Client(id, [
        { op: 'replace', path: '/client_name', value: 'Shop 3' },
        { op: 'add', path: '/redirect_uris/-', value: 'https://shop3.example/cb' },
      ]);
      expect(patched.client_name).toBe('Shop 3');
      expect(patched.redirect_uris).toEqual(['https://shop2.example/cb', 'https://shop3.example/cb']);
      expect(lastCall()).toMatchObject({ method: 'PATCH', path: `${prefix}/clients/shop` });
      expect(fake.state.clients.get('shop')?.client_name).toBe('Shop 3');

      const denied = await rejection(hydra.patchOAuth2Client(id, [{ op: 'replace', path: '/client_id', value: 'other' }]), HydraError);
      expect(denied.status).toBe(400);

      await expect(hydra.deleteOAuth2Client(id)).resolves.toBeUndefined();
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/clients/shop` });
      expect(fake.state.clients.has('shop')).toBe(false);
      const gone = await rejection(hydra.getOAuth2Client(id), HydraError);
      expect(gone).toMatchObject({ operation: 'getOAuth2Client', status: 404, error: 'Unable to locate the resource' });
    });

    it('encodes ids in the path', async () => {
      await hydra.createOAuth2Client({ client_id: 'a b+c?', client_name: 'odd' });
      expect((await hydra.getOAuth2Client('a b+c?')).client_name).toBe('odd');
      expect(lastCall().path).toBe(`${prefix}/clients/a%20b%2Bc%3F`);
      // Hydra ≤ 2.3 routes on the decoded path, so an id with "/" cannot be reached at all.
      await hydra.createOAuth2Client({ client_id: 'a/b' });
      expect(await rejection(hydra.getOAuth2Client('a/b'), HydraError)).toMatchObject({ status: 404 });
    });

    it('pages through the list with the Link header and reads X-Total-Count', async () => {
      for (let i = 1; i <= 5; i++) await hydra.createOAuth2Client({ client_id: `c${i}`, client_name: i % 2 ? 'odd' : 'even', owner: 'team-a' });

      const first = await hydra.listOAuth2Clients({ owner: 'team-a', pageSize: 2 });
      expect(first.items.map((c) => c.client_id)).toEqual(['c1', 'c2']);
      expect(first.total).toBe(5);
      expect(first.prev).toBeUndefined();
      expect(first.next).toBeDefined();
      expect(first.first).toBeDefined();
      expect(first.items[0]).not.toHaveProperty('client_secret');
      if (version === 'v2') {
        expect(lastCall().query).toEqual({ owner: 'team-a', page_size: '2' });
        // v2.0–2.3 tokens are base64url({"offset":"N","v":2}) (contract §1).
        expect(decodeToken(first.next)).toEqual({ offset: '2', v: 2 });
      } else {
        expect(lastCall().query).toEqual({ owner: 'team-a', limit: '2' });
        expect(first.next).toBe('2');
      }

      const second = await hydra.listOAuth2Clients({ owner: 'team-a', pageSize: 2, pageToken: first.next });
      expect(second.items.map((c) => c.client_id)).toEqual(['c3', 'c4']);
      expect(second.prev).toBe(first.first);
      expect(lastCall().query).toEqual(
        version === 'v2' ? { owner: 'team-a', page_size: '2', page_token: first.next } : { owner: 'team-a', limit: '2', offset: '2' },
      );

      const last = await hydra.listOAuth2Clients({ owner: 'team-a', pageSize: 2, pageToken: second.next });
      expect(last.items.map((c) => c.client_id)).toEqual(['c5']);
      expect(last.next).toBeUndefined();
      expect(last.prev).toBe(first.next);

      const odd = await hydra.listOAuth2Clients({ client_name: 'odd' });
      expect(odd.items.map((c) => c.client_id)).toEqual(['c1', 'c3', 'c5']);
      expect(odd.total).toBe(3);
      expect(lastCall().query).toEqual({ client_name: 'odd' });
    });
  });

  describe('JSON Web Keys', () => {
    it('creates, reads, replaces and deletes keys and sets', async () => {
      // v1 stores a generated key pair as two keys, private:<kid> and public:<kid> (real v1.11.10).
      const kids = (kid: string) => (version === 'v1' ? [`private:${kid}`, `public:${kid}`] : [kid]);
      const created = await hydra.createJsonWebKeySet('signing', { alg: 'RS256', kid: 'k1', use: 'sig' });
      expect(created.keys.map((k) => k.kid)).toEqual(kids('k1'));
      expect(created.keys[0]).toMatchObject({ kty: 'RSA', kid: kids('k1')[0], alg: 'RS256', use: 'sig', e: 'AQAB' });
      expect(created.keys[0]?.d).toEqual(expect.any(String)); // Hydra returns the private part
      expect(lastCall()).toMatchObject({ method: 'POST', path: `${prefix}/keys/signing`, body: { alg: 'RS256', kid: 'k1', use: 'sig' } });

      await hydra.createJsonWebKeySet('signing', { alg: 'ES256', kid: 'k2', use: 'sig' });
      expect((await hydra.getJsonWebKeySet('signing')).keys.map((k) => k.kid)).toEqual([...kids('k1'), ...kids('k2')]);
      expect(lastCall()).toMatchObject({ method: 'GET', path: `${prefix}/keys/signing` });

      const k2 = kids('k2')[0]!;
      const one = await hydra.getJsonWebKey('signing', k2);
      expect(one.keys).toEqual([expect.objectContaining({ kid: k2, kty: 'EC', crv: 'P-256' })]);
      expect(lastCall()).toMatchObject({ method: 'GET', path: `${prefix}/keys/signing/${encodeURIComponent(k2)}` });

      const updated = await hydra.updateJsonWebKey('signing', k2, { ...one.keys[0]!, use: 'enc' });
      expect(updated).toMatchObject({ kid: k2, use: 'enc' });
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/keys/signing/${encodeURIComponent(k2)}`, body: { kid: k2, use: 'enc' } });
      expect(fake.state.keySets.get('signing')?.keys.find((k) => k.kid === k2)?.use).toBe('enc');

      for (const kid of kids('k1')) await hydra.deleteJsonWebKey('signing', kid);
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/keys/signing/${encodeURIComponent(kids('k1').at(-1)!)}` });
      expect(fake.state.keySets.get('signing')?.keys.map((k) => k.kid).sort()).toEqual(kids('k2').sort());

      const replaced = await hydra.updateJsonWebKeySet('signing', { keys: [ISSUER_KEY] });
      expect(replaced.keys.map((k) => k.kid)).toEqual(['issuer-key-1']);
      expect(lastCall()).toMatchObject({ method: 'PUT', path: `${prefix}/keys/signing`, body: { keys: [ISSUER_KEY] } });

      await hydra.deleteJsonWebKeySet('signing');
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/keys/signing` });
      expect(fake.state.keySets.has('signing')).toBe(false);
      const err = await rejection(hydra.getJsonWebKeySet('signing'), HydraError);
      expect(err).toMatchObject({ status: 404, error: 'Unable to locate the resource' });
    });
  });

  describe('tokens', () => {
    it("deletes a client's tokens", async () => {
      await hydra.deleteOAuth2Token('shop');
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/oauth2/tokens`, query: { client_id: 'shop' } });
      expect(fake.state.tokensDeletedFor).toEqual(['shop']);
    });

    it('introspects form-encoded; unknown tokens are inactive', async () => {
      fake.addToken('at-1', { active: true, sub: 'alice', client_id: 'shop', scope: 'openid email', ext: { plan: 'gold' } });
      const info = await hydra.introspectOAuth2Token({ token: 'at-1', scope: 'email' });
      expect(info).toMatchObject({ active: true, sub: 'alice', ext: { plan: 'gold' } });
      expect(lastCall()).toMatchObject({ method: 'POST', path: `${prefix}/oauth2/introspect`, body: { token: 'at-1', scope: 'email' } });
      expect(lastCall().headers['content-type']).toBe('application/x-www-form-urlencoded');

      expect(await hydra.introspectOAuth2Token({ token: 'at-1', scope: 'admin' })).toEqual({ active: false });
      expect(await hydra.introspectOAuth2Token({ token: 'nope' })).toEqual({ active: false });
      expect(lastCall().body).toEqual({ token: 'nope' });
    });

    it(version === 'v1' ? 'flushes inactive tokens' : 'refuses to flush, pointing to hydra janitor, without a request', async () => {
      const notAfter = '2026-01-01T00:00:00Z';
      if (version === 'v1') {
        await hydra.flushInactiveOAuth2Tokens({ notAfter });
        expect(lastCall()).toMatchObject({ method: 'POST', path: '/oauth2/flush', body: { notAfter } });
        expect(fake.state.flushed).toEqual([{ notAfter }]);
      } else {
        const before = fake.calls.length;
        const err = await rejection(hydra.flushInactiveOAuth2Tokens({ notAfter }), UnsupportedOperationError);
        expect(err.message).toContain('hydra janitor');
        expect(err).toMatchObject({ operation: 'flushInactiveOAuth2Tokens', apiVersion: 'v2' });
        expect(fake.calls.length).toBe(before);
      }
    });
  });

  describe('sessions', () => {
    it('revokes the consent of one client, then all', async () => {
      const grant = (client_id: string) => ({
        grant_scope: ['openid'],
        remember: true,
        consent_request: { challenge: `c-${client_id}`, client: { client_id } },
      });
      fake.addConsentSession('alice', grant('shop'));
      fake.addConsentSession('alice', grant('blog'));

      await hydra.revokeConsentSessions({ subject: 'alice', client: 'shop' });
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/oauth2/auth/sessions/consent`, query: { subject: 'alice', client: 'shop' } });
      expect(fake.state.consentSessions.get('alice')?.map((s) => s.consent_request?.client?.client_id)).toEqual(['blog']);

      await hydra.revokeConsentSessions({ subject: 'alice', all: true });
      expect(lastCall().query).toEqual({ subject: 'alice', all: 'true' });
      expect(fake.state.consentSessions.has('alice')).toBe(false);
      expect((await hydra.listSubjectConsentSessions({ subject: 'alice' })).items).toEqual([]);
    });

    it('pages through consent sessions', async () => {
      for (let i = 0; i < 3; i++) fake.addConsentSession('bob', { grant_scope: [`s${i}`] });
      const first = await hydra.listSubjectConsentSessions({ subject: 'bob', pageSize: 2 });
      expect(first.items.map((s) => s.grant_scope)).toEqual([['s0'], ['s1']]);
      expect(first.total).toBe(3);
      const second = await hydra.listSubjectConsentSessions({ subject: 'bob', pageSize: 2, pageToken: first.next });
      expect(second.items.map((s) => s.grant_scope)).toEqual([['s2']]);
      expect(second.next).toBeUndefined();
    });

    it('revokes the login sessions of a subject', async () => {
      await hydra.revokeAuthenticationSession('alice');
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/oauth2/auth/sessions/login`, query: { subject: 'alice' } });
      expect(fake.state.loginSessionsRevoked).toEqual(['alice']);
    });

    it("sends a revocation once more after a 5xx (Hydra v1.11 on SQLite answers one now and then), and nothing else", async () => {
      fake.setFault('error500-once');
      const before = fake.calls.length;
      await hydra.revokeAuthenticationSession('alice');
      expect(fake.calls.length - before).toBe(2);
      expect(fake.state.loginSessionsRevoked).toEqual(['alice']);

      fake.setFault('error500');
      await expect(hydra.revokeConsentSessions({ subject: 'alice', all: true })).rejects.toMatchObject({ status: 500 });
      fake.setFault('error500-once');
      const beforeDelete = fake.calls.length;
      // Deleting a client is not repeated: a second DELETE could answer 404 for a delete that worked.
      await expect(hydra.deleteOAuth2Client('shop')).rejects.toMatchObject({ status: 500 });
      expect(fake.calls.length - beforeDelete).toBe(1);
      fake.setFault('none');
    });
  });

  describe('trusted JWT-grant issuers', () => {
    const trust = (subject: string) => ({
      issuer: 'https://idp.example',
      subject,
      scope: ['openid'],
      jwk: ISSUER_KEY,
      expires_at: '2030-01-01T00:00:00Z',
    });

    it('trusts, gets, lists, refuses a duplicate and deletes', async () => {
      const grant = await hydra.trustJwtGrantIssuer(trust('alice'));
      expect(grant).toMatchObject({
        issuer: 'https://idp.example',
        subject: 'alice',
        allow_any_subject: false,
        scope: ['openid'],
        public_key: { set: 'https://idp.example', kid: 'issuer-key-1' },
        expires_at: '2030-01-01T00:00:00.000Z',
      });
      expect(lastCall()).toMatchObject({ method: 'POST', path: `${prefix}/trust/grants/jwt-bearer/issuers`, body: trust('alice') });
      expect(fake.state.issuers.get(grant.id)).toEqual(grant);

      expect(await hydra.getTrustedJwtGrantIssuer(grant.id)).toEqual(grant);
      expect(lastCall()).toMatchObject({ method: 'GET', path: `${prefix}/trust/grants/jwt-bearer/issuers/${grant.id}` });

      const duplicate = await rejection(hydra.trustJwtGrantIssuer(trust('alice')), HydraError);
      expect(duplicate).toMatchObject({ status: 409, error: 'Unable to insert or update resource because a resource with that value exists already' });

      await hydra.trustJwtGrantIssuer(trust('bob'));
      await hydra.trustJwtGrantIssuer({ ...trust('carol'), issuer: 'https://other.example' });
      const listed = await hydra.listTrustedJwtGrantIssuers({ issuer: 'https://idp.example', pageSize: 1 });
      expect(listed.items.map((g) => g.subject)).toEqual(['alice']);
      expect(listed.total).toBe(2);
      expect(listed.next).toBeDefined();
      const next = await hydra.listTrustedJwtGrantIssuers({ issuer: 'https://idp.example', pageSize: 1, pageToken: listed.next });
      expect(next.items.map((g) => g.subject)).toEqual(['bob']);
      expect(lastCall().query).toMatchObject({ issuer: 'https://idp.example' });

      await hydra.deleteTrustedJwtGrantIssuer(grant.id);
      expect(lastCall()).toMatchObject({ method: 'DELETE', path: `${prefix}/trust/grants/jwt-bearer/issuers/${grant.id}` });
      expect(fake.state.issuers.has(grant.id)).toBe(false);
      const gone = await rejection(hydra.getTrustedJwtGrantIssuer(grant.id), HydraError);
      expect(gone).toMatchObject({ status: 404, error: 'Unable to locate the resource' });
    });

    it('passes Hydra validation errors on as HydraError 400', async () => {
      const err = await rejection(hydra.trustJwtGrantIssuer({ ...trust('alice'), allow_any_subject: true }), HydraError);
      expect(err).toMatchObject({ status: 400, error: 'invalid_request' });
      expect(err.errorDescription).toContain("Both 'subject' and 'allow_any_subject'");
    });
  });

  describe('errors Hydra answers with', () => {
    it('404 for an unknown login challenge', async () => {
      const err = await rejection(hydra.getLoginRequest('unknown'), HydraError);
      expect(err).toMatchObject({
        operation: 'getLoginRequest',
        status: 404,
        error: 'Not Found',
        errorDescription: 'Unable to locate the requested resource',
        redirectTo: undefined,
      });
    });

    it('401 for an expired challenge, on GET and on accept', async () => {
      const challenge = fake.addLoginRequest();
      fake.expire(challenge);
      for (const call of [hydra.getLoginRequest(challenge), hydra.acceptLoginRequest(challenge, { subject: 'alice' })]) {
        const err = await rejection(call, HydraError);
        expect(err).toMatchObject({
          status: 401,
          error: 'request_unauthorized',
          errorDescription: 'The request could not be authorized. The login request has expired, please try again.',
        });
      }
    });

    it('400 for an empty subject and for fields Hydra does not know', async () => {
      const challenge = fake.addLoginRequest();
      const empty = await rejection(hydra.acceptLoginRequest(challenge, { subject: '' }), HydraError);
      expect(empty).toMatchObject({ status: 400, error: 'invalid_request' });
      expect(empty.errorDescription).toContain("Field 'subject' must not be empty.");

      // The client does not filter reject bodies, so an unknown field reaches Hydra ≤ 2.3 (§2).
      const unknown = await rejection(
        hydra.rejectLoginRequest(challenge, { error: 'access_denied', reason: 'x' } as unknown as { error: string }),
        HydraError,
      );
      expect(unknown).toMatchObject({ status: 400, error: 'invalid_request' });
      expect(unknown.errorDescription).toContain("Unable to decode body because: json: unknown field 'reason'");
    });

    it('410 with redirectTo for a handled challenge', async () => {
      const challenge = fake.addConsentRequest({ request_url: 'http://hydra.test/oauth2/auth?client_id=demo-client&state=s1' });
      fake.markHandled(challenge);
      const err = await rejection(hydra.getConsentRequest(challenge), HydraError);
      expect(err).toMatchObject({ status: 410, redirectTo: 'http://hydra.test/oauth2/auth?client_id=demo-client&state=s1' });
    });

    it('500 from a broken Hydra', async () => {
      fake.setFault('error500');
      const err = await rejection(hydra.getOAuth2Client('x'), HydraError);
      expect(err).toMatchObject({ status: 500, error: 'server_error' });
    });
  });

  describe('when Hydra is unavailable', () => {
    it('times out when Hydra never answers', async () => {
      fake.setFault('hang');
      const started = Date.now();
      const err = await rejection(client({ timeoutMs: 150 }).getLoginRequest('c'), HydraUnavailableError);
      expect(err).toMatchObject({ operation: 'getLoginRequest', kind: 'timeout' });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(fake.calls).toHaveLength(1); // the request did arrive
    });

    it('times out when Hydra answers too slowly', async () => {
      fake.setLatency(500);
      const err = await rejection(client({ timeoutMs: 100 }).getOAuth2Client('x'), HydraUnavailableError);
      expect(err.kind).toBe('timeout');
    });

    it('waits past a short deadline for a key set Hydra generates while the request waits', async () => {
      fake.setLatency(300);
      const slowHydra = client({ timeoutMs: 100 });
      const created = await slowHydra.createJsonWebKeySet('signing', { alg: 'RS256', kid: 'k1', use: 'sig' });
      // v1.11 answers with the private key, its kid prefixed with "private:" (contract).
      expect(created.keys[0]?.kid).toMatch(/^(private:)?k1$/);
      // Only key generation is given longer: reading the set back keeps the 100 ms deadline.
      expect((await rejection(slowHydra.getJsonWebKeySet('signing'), HydraUnavailableError)).kind).toBe('timeout');
    });

    it('is unreachable when the connection is refused', async () => {
      await fake.close();
      const err = await rejection(hydra.getLoginRequest('c'), HydraUnavailableError);
      expect(err).toMatchObject({ kind: 'unreachable' });
      expect(err.cause).toBeDefined();
    });

    it('is unreachable when the connection drops mid-response', async () => {
      fake.setFault('drop');
      const err = await rejection(hydra.getLoginRequest('c'), HydraUnavailableError);
      expect(err.kind).toBe('unreachable');
    });
  });

  it('sends the token as a Bearer header, also on the readiness probe', async () => {
    const withToken = client({ token: 'sekret' });
    await withToken.listOAuth2Clients();
    expect(lastCall().headers.authorization).toBe('Bearer sekret');
    expect(await withToken.isReady()).toBe(true);
    expect(lastCall()).toMatchObject({ method: 'GET', path: '/health/ready' });
    expect(lastCall().headers.authorization).toBe('Bearer sekret');

    await hydra.listOAuth2Clients();
    expect(lastCall().headers.authorization).toBeUndefined();
  });

  it('ignores a trailing slash on the base URL', async () => {
    const sub = client({ baseUrl: `${fake.url}/` });
    await sub.listOAuth2Clients();
    expect(lastCall().path).toBe(`${prefix}/clients`);
  });

  it('is ready only while Hydra answers its health probe', async () => {
    expect(await hydra.isReady()).toBe(true);
    fake.setFault('error500');
    expect(await hydra.isReady()).toBe(false);
    fake.setFault('hang');
    expect(await client({ timeoutMs: 100 }).isReady()).toBe(false);
    fake.setFault('none');
    await fake.close();
    expect(await hydra.isReady()).toBe(false);
  });
});
