// Self-test of the fake Hydra over raw HTTP: the behaviours of the contract that the client tests
// (test/hydra/client.test.ts) do not reach through the client.
import { SignJWT, importJWK, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHydra } from './fake-hydra.js';
import type { FakeHydra } from './fake-hydra.js';

let fake: FakeHydra;
afterEach(async () => {
  await fake?.close();
});

async function call(method: string, path: string, body?: unknown, form = false) {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

const errorShape = { error: expect.any(String), error_description: expect.any(String) };

describe('routing', () => {
  it('v2 serves the admin API under /admin only, health unprefixed', async () => {
    fake = await startFakeHydra();
    expect(fake.apiVersion).toBe('v2');
    expect((await call('GET', '/admin/clients')).status).toBe(200);
    const unprefixed = await call('GET', '/clients');
    expect(unprefixed.status).toBe(404);
    expect(Object.keys(unprefixed.body!).sort()).toEqual(['error', 'error_description']);
    expect(await call('GET', '/health/alive')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await call('GET', '/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect((await call('POST', '/admin/oauth2/flush', {})).status).toBe(404); // removed in v2
    expect((await call('POST', '/admin/clients/x')).status).toBe(405);
  });

  it('v1 serves unprefixed paths, 404 under /admin, and has flush', async () => {
    fake = await startFakeHydra({ apiVersion: 'v1' });
    expect((await call('GET', '/clients')).status).toBe(200);
    expect((await call('GET', '/admin/clients')).status).toBe(404);
    expect((await call('GET', '/health/ready')).status).toBe(200);
    expect(await call('POST', '/oauth2/flush', { notAfter: '2026-01-01T00:00:00Z' })).toMatchObject({ status: 204 });
    expect(await call('POST', '/oauth2/flush')).toMatchObject({ status: 204 });
    expect(fake.state.flushed).toEqual([{ notAfter: '2026-01-01T00:00:00Z' }, {}]);
  });
});

describe('login, consent and logout requests', () => {
  it('takes `challenge` in place of `<kind>_challenge`, and 400s without either', async () => {
    fake = await startFakeHydra();
    const challenge = fake.addLoginRequest();
    expect(challenge.length).toBeGreaterThan(100); // v2.2+ challenges are long AEAD strings
    expect(await call('GET', `/admin/oauth2/auth/requests/login?challenge=${challenge}`)).toMatchObject({ status: 200, body: { challenge } });
    const missing = await call('GET', '/admin/oauth2/auth/requests/login');
    expect(missing).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(missing.body).toEqual(errorShape);
  });

  it('answers 404 in the two shapes Hydra uses', async () => {
    fake = await startFakeHydra();
    const login = fake.addLoginRequest();
    expect(await call('GET', `/admin/oauth2/auth/requests/consent?consent_challenge=${login}`)).toMatchObject({
      status: 404,
      body: { error: 'Not Found', error_description: 'Unable to locate the requested resource' },
    });
    expect(await call('GET', '/admin/oauth2/auth/requests/logout?logout_challenge=nope')).toMatchObject({
      status: 404,
      body: { error: 'Unable to locate the resource', error_description: '' },
    });
  });

  it('v1 refuses the v2-only login fields, v2 takes them', async () => {
    const accept = (extra: Record<string, unknown>) =>
      call('PUT', `/oauth2/auth/requests/login/accept?login_challenge=${fake.addLoginRequest()}`, { subject: 'a', ...extra });
    fake = await startFakeHydra({ apiVersion: 'v1' });
    const refused = await accept({ extend_session_lifespan: true });
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(refused.body?.error_description).toContain("Unable to decode body because: json: unknown field 'extend_session_lifespan'");
    expect(fake.accepted.login).toEqual([]);
    await fake.close();

    fake = await startFakeHydra({ apiVersion: 'v2' });
    const path = (c: string) => `/admin/oauth2/auth/requests/login/accept?login_challenge=${c}`;
    expect((await call('PUT', path(fake.addLoginRequest()), { subject: 'a', extend_session_lifespan: true, identity_provider_session_id: 'x' })).status).toBe(200);
    expect((await call('PUT', path(fake.addLoginRequest()), { subject: 'a', nope: 1 })).status).toBe(400);
    expect((await call('PUT', path(fake.addLoginRequest()), { subject: 'a', remember: 'yes' })).body?.error_description).toContain('cannot unmarshal string');
    expect((await call('PUT', path(fake.addLoginRequest()), '{"subject":')).body?.error).toBe('invalid_request');
  });

  it('answers bad consent bodies with the unrecognizable error, v1 refusing context', async () => {
    fake = await startFakeHydra({ apiVersion: 'v1' });
    const unrecognizable = { status: 400, body: { error: 'error', error_description: 'The error is unrecognizable' } };
    const path = (c: string) => `/oauth2/auth/requests/consent/accept?consent_challenge=${c}`;
    expect(await call('PUT', path(fake.addConsentRequest()), { grant_scope: ['openid'], context: {} })).toMatchObject(unrecognizable);
    expect(await call('PUT', path(fake.addConsentRequest()), 'not json')).toMatchObject(unrecognizable);
    expect(await call('PUT', path(fake.addConsentRequest()), { session: { id_token: {}, refresh_token: {} } })).toMatchObject(unrecognizable);
    expect(await call('PUT', `/oauth2/auth/requests/consent/reject?consent_challenge=${fake.addConsentRequest()}`, { why: 'x' })).toMatchObject(unrecognizable);
    expect((await call('PUT', path(fake.addConsentRequest()), { grant_scope: ['openid'], handled_at: null })).status).toBe(200);
  });

  it('v1 answers 409 to a second decision on a login; v2 answers again', async () => {
    fake = await startFakeHydra({ apiVersion: 'v1' });
    let challenge = fake.addLoginRequest();
    expect((await call('PUT', `/oauth2/auth/requests/login/accept?login_challenge=${challenge}`, { subject: 'a' })).status).toBe(200);
    expect(await call('PUT', `/oauth2/auth/requests/login/reject?login_challenge=${challenge}`, { error: 'access_denied' })).toMatchObject({
      status: 409,
      body: { error: 'Unable to insert or update resource because a resource with that value exists already' },
    });
    await fake.close();
    fake = await startFakeHydra();
    challenge = fake.addLoginRequest();
    for (let i = 0; i < 2; i++) {
      expect((await call('PUT', `/admin/oauth2/auth/requests/login/accept?login_challenge=${challenge}`, { subject: 'a' })).status).toBe(200);
    }
    expect(fake.accepted.login).toHaveLength(2);
  });

  it('expires and marks handled per challenge; logout reject is a bodiless 204', async () => {
    fake = await startFakeHydra({ publicUrl: 'https://auth.example/' });
    const consent = fake.addConsentRequest();
    fake.expire(consent);
    expect(await call('PUT', `/admin/oauth2/auth/requests/consent/reject?consent_challenge=${consent}`, {})).toMatchObject({
      status: 401,
      body: { error: 'request_unauthorized', error_description: 'The request could not be authorized. The consent request has expired, please try again.' },
    });
    const logout = fake.addLogoutRequest();
    fake.markHandled(logout);
    expect(await call('GET', `/admin/oauth2/auth/requests/logout?logout_challenge=${logout}`)).toMatchObject({
      status: 410,
      body: { redirect_to: 'https://auth.example/oauth2/sessions/logout' },
    });
    const other = fake.addLogoutRequest();
    expect((await call('PUT', `/admin/oauth2/auth/requests/logout/accept?logout_challenge=${other}`)).body?.redirect_to).toMatch(
      /^https:\/\/auth\.example\/oauth2\/sessions\/logout\?logout_verifier=/,
    );
    const rejected = await call('PUT', `/admin/oauth2/auth/requests/logout/reject?logout_challenge=${other}`);
    expect(rejected).toMatchObject({ status: 204, body: undefined });
    expect(() => fake.expire('unknown')).toThrow(/no flow/);
  });
});

describe('clients', () => {
  it('validates bodies and redirect URIs, and fills Hydra defaults', async () => {
    fake = await startFakeHydra();
    expect((await call('POST', '/admin/clients', [])).status).toBe(400);
    expect((await call('POST', '/admin/clients', 'nope')).status).toBe(400);
    const relative = await call('POST', '/admin/clients', { redirect_uris: ['/callback'] });
    expect(relative).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
    const pub = await call('POST', '/admin/clients', { token_endpoint_auth_method: 'none', client_secret: 'ignored-secret' });
    expect(pub.status).toBe(201);
    expect(pub.body).not.toHaveProperty('client_secret');
    expect(pub.body).toMatchObject({ scope: 'offline_access offline openid', redirect_uris: [], skip_consent: false });
    expect(pub.body?.created_at).toEqual(expect.any(String));
    expect((await call('POST', '/admin/clients', { client_id: pub.body?.client_id })).status).toBe(409);
    expect((await call('PATCH', `/admin/clients/${String(pub.body?.client_id)}`, { op: 'replace' })).status).toBe(400);
    expect((await call('PATCH', `/admin/clients/${String(pub.body?.client_id)}`, [{ op: 'test', path: '/owner', value: 'x' }])).status).toBe(400);
    expect((await call('PATCH', '/admin/clients/missing', [])).status).toBe(404);
  });

  it('sends relative Link URLs with the paging parameters of the layout', async () => {
    fake = await startFakeHydra({ apiVersion: 'v1' });
    for (let i = 0; i < 3; i++) await call('POST', '/clients', { client_id: `c${i}` });
    const { headers } = await call('GET', '/clients?limit=1&offset=1');
    expect(headers.get('x-total-count')).toBe('3');
    expect(headers.get('link')).toBe(
      '</clients?limit=1&offset=0>; rel="first",</clients?limit=1&offset=2>; rel="next",' +
        '</clients?limit=1&offset=0>; rel="prev",</clients?limit=1&offset=2>; rel="last"',
    );
    expect((await call('GET', '/clients?limit=9999')).body).toHaveLength(3); // clamped to 500, not refused
  });
});

describe('JSON Web Keys', () => {
  it.each(['RS256', 'ES256', 'EdDSA'])('generates a real %s key pair', async (alg) => {
    fake = await startFakeHydra();
    const created = await call('POST', '/admin/keys/set1', { alg, kid: 'k', use: 'sig' });
    expect(created.status).toBe(201);
    const [jwk] = (created.body as unknown as { keys: Array<Record<string, string>> }).keys;
    expect(jwk).toMatchObject({ kid: 'k', alg, use: 'sig', d: expect.any(String) });
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk!;
    const jwt = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg }).sign(await importJWK(jwk!, alg));
    await expect(jwtVerify(jwt, await importJWK(publicJwk, alg))).resolves.toMatchObject({ payload: { sub: 'x' } });
  });

  it('requires alg, kid and use, and knows only real algorithms', async () => {
    fake = await startFakeHydra();
    expect((await call('POST', '/admin/keys/s', { alg: 'RS256', use: 'sig' })).status).toBe(400);
    expect((await call('POST', '/admin/keys/s', { alg: 'XX999', kid: 'k', use: 'sig' })).status).toBe(400);
    expect((await call('GET', '/admin/keys/s')).status).toBe(404);
    expect((await call('GET', '/admin/keys/s/k')).status).toBe(404);
  });
});

describe('trusted issuers, sessions and tokens', () => {
  const jwk = { kty: 'EC', crv: 'P-256', kid: 'k', alg: 'ES256', use: 'sig', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
  const grant = { issuer: 'https://idp.example', scope: ['openid'], jwk, expires_at: '2030-01-01T00:00:00Z' };

  it('validates trusted issuers and keeps their key in a set named after the issuer', async () => {
    fake = await startFakeHydra();
    const path = '/admin/trust/grants/jwt-bearer/issuers';
    expect((await call('POST', path, grant)).body?.error_description).toContain("One of 'subject' or 'allow_any_subject'");
    expect((await call('POST', path, { ...grant, subject: 'a', jwk: { ...jwk, d: 'private' } })).status).toBe(400);
    expect((await call('POST', path, { ...grant, subject: 'a', expires_at: undefined })).status).toBe(400);
    expect((await call('POST', path, { ...grant, subject: 'a', scope: 'openid' })).status).toBe(400);
    const created = await call('POST', path, { ...grant, allow_any_subject: true });
    expect(created).toMatchObject({ status: 201, body: { subject: '', allow_any_subject: true, public_key: { set: 'https://idp.example', kid: 'k' } } });
    expect(fake.state.keySets.get('https://idp.example')?.keys).toEqual([jwk]);
    // ...which Hydra ≤ 2.3 cannot serve: it routes on the decoded path, where %2F is a "/".
    expect((await call('GET', `/admin/keys/${encodeURIComponent('https://idp.example')}`)).status).toBe(404);
    expect((await call('DELETE', `${path}/${String(created.body?.id)}`)).status).toBe(204);
    expect(fake.state.keySets.has('https://idp.example')).toBe(false);
  });

  it('needs a subject for consent sessions, and client or all to revoke them', async () => {
    fake = await startFakeHydra();
    expect((await call('GET', '/admin/oauth2/auth/sessions/consent')).status).toBe(400);
    expect((await call('DELETE', '/admin/oauth2/auth/sessions/consent?subject=a')).status).toBe(400);
    expect((await call('DELETE', '/admin/oauth2/auth/sessions/login')).status).toBe(400);
    expect((await call('DELETE', '/admin/oauth2/auth/sessions/login?sid=s1')).status).toBe(204);
    expect(fake.state.loginSessionsRevoked).toEqual(['sid:s1']);
  });

  it('introspects form bodies; an empty one is a 400; deleted tokens turn inactive', async () => {
    fake = await startFakeHydra();
    fake.addToken('t', { active: true, client_id: 'shop', scope: 'openid' });
    expect((await call('POST', '/admin/oauth2/introspect', '', true)).status).toBe(400);
    expect((await call('POST', '/admin/oauth2/introspect', 'token=t', true)).body).toMatchObject({ active: true });
    expect((await call('DELETE', '/admin/oauth2/tokens')).status).toBe(400);
    expect((await call('DELETE', '/admin/oauth2/tokens?client_id=shop')).status).toBe(204);
    expect((await call('POST', '/admin/oauth2/introspect', 'token=t', true)).body).toEqual({ active: false });
  });
});

describe('faults', () => {
  it('error500 fails every route, health included', async () => {
    fake = await startFakeHydra();
    fake.setFault('error500');
    expect(await call('GET', '/health/ready')).toMatchObject({ status: 500, body: { error: 'server_error' } });
    fake.setFault('none');
    expect((await call('GET', '/health/ready')).status).toBe(200);
  });

  it('drop cuts the response after the headers', async () => {
    fake = await startFakeHydra();
    fake.setFault('drop');
    const response = await fetch(`${fake.url}/health/alive`);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('latency delays answers; close() ends hanging requests', async () => {
    fake = await startFakeHydra();
    fake.setLatency(150);
    const started = Date.now();
    await call('GET', '/health/alive');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    fake.setLatency(0);
    fake.setFault('hang');
    const hanging = fetch(`${fake.url}/health/alive`).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fake.close();
    expect(await hanging).toBe('failed');
    expect(fake.calls.map((c) => c.path)).toEqual(['/health/alive', '/health/alive']);
  });
});
