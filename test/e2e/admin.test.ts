import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/app.js';
import { hydraBinaryOrSkip } from './support/hydra.js';
import { clientBody, DEMO_USER, describeLanding, introspectAtHydra, toTestClient, type TestClient } from './support/oauth.js';

/**
 * The admin router's JSON API (bearer ADMIN_TOKEN) against a real Hydra v2.3.0: every call goes
 * through our /admin routes; Hydra's own admin API is only read as ground truth.
 */

const bin = hydraBinaryOrSkip('e2e admin router (real Hydra)');

function ids(list: unknown, key: string): unknown[] {
  expect(Array.isArray(list), `expected a JSON array, got ${JSON.stringify(list)}`).toBe(true);
  return (list as Record<string, unknown>[]).map((item) => item[key]);
}

describe.skipIf(!bin)('admin router against a real Hydra', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function createClient(name: string): Promise<TestClient> {
    const created = await stack.admin('POST', '/admin/clients', clientBody({ client_name: name }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return toTestClient(created.body);
  }

  it('answers 401 JSON without the bearer token', async () => {
    const res = await fetch(`${stack.app.baseUrl}/admin/clients`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toHaveProperty('error');
  });

  it('clients: create (secret shown once), run a flow with it, list, patch, fetch, delete', async () => {
    const name = `e2e-admin-${randomUUID()}`;
    const created = await stack.admin('POST', '/admin/clients', clientBody({ client_name: name }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.client_name).toBe(name);
    expect(typeof created.body.client_secret).toBe('string');
    const client = toTestClient(created.body);

    // The client really works with Hydra.
    const { tokens } = await stack.driver().authorizeAndExchange({ client, scope: 'openid email' });
    expect(tokens.claims?.sub).toBe(DEMO_USER.email);

    const listed = await stack.admin('GET', `/admin/clients?client_name=${encodeURIComponent(name)}`);
    expect(listed.status).toBe(200);
    expect(ids(listed.body, 'client_id')).toEqual([client.client_id]);

    const patched = await stack.admin('PATCH', `/admin/clients/${client.client_id}`, [
      { op: 'replace', path: '/client_name', value: `${name}-renamed` },
      { op: 'add', path: '/redirect_uris/-', value: 'http://127.0.0.1:9/second' },
    ]);
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.client_name).toBe(`${name}-renamed`);
    expect(patched.body.redirect_uris).toEqual([client.redirect_uri, 'http://127.0.0.1:9/second']);

    const fetched = await stack.admin('GET', `/admin/clients/${client.client_id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.client_name).toBe(`${name}-renamed`);
    expect(fetched.body.client_secret ?? '').toBe('');

    const deleted = await stack.admin('DELETE', `/admin/clients/${client.client_id}`);
    expect(deleted.status).toBe(204);
    const gone = await stack.admin('GET', `/admin/clients/${client.client_id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toHaveProperty('error');
    const hydraSays = await fetch(`${stack.hydra.adminUrl}/admin/clients/${client.client_id}`);
    expect(hydraSays.status).toBe(404);
  });

  it('JSON Web Keys: generate a set, fetch it and one key, delete it', async () => {
    const set = `e2e-set-${randomUUID()}`;
    const generated = await stack.admin('POST', `/admin/keys/${set}`, { alg: 'RS256', kid: 'e2e-key-1', use: 'sig' });
    expect(generated.status, JSON.stringify(generated.body)).toBe(201);
    expect(ids(generated.body.keys, 'kid')).toEqual(['e2e-key-1']);

    const fetched = await stack.admin('GET', `/admin/keys/${set}`);
    expect(fetched.status).toBe(200);
    expect(ids(fetched.body.keys, 'kid')).toContain('e2e-key-1');
    expect(fetched.body.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });

    const one = await stack.admin('GET', `/admin/keys/${set}/e2e-key-1`);
    expect(one.status).toBe(200);
    expect(ids(one.body.keys, 'kid')).toEqual(['e2e-key-1']);

    const deleted = await stack.admin('DELETE', `/admin/keys/${set}`);
    expect(deleted.status).toBe(204);
    const gone = await stack.admin('GET', `/admin/keys/${set}`);
    expect(gone.status).toBe(404);
  });

  it('trusted JWT-grant issuers: trust with a generated key, list, reject a duplicate, delete', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: `e2e-trust-${randomUUID()}`, alg: 'RS256', use: 'sig' };
    const issuer = `https://issuer-${randomUUID()}.e2e.example`;
    const body = {
      issuer,
      allow_any_subject: true,
      scope: ['openid', 'email'],
      jwk,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
    };
    const trusted = await stack.admin('POST', '/admin/trust/issuers', body);
    expect(trusted.status, JSON.stringify(trusted.body)).toBe(201);
    expect(trusted.body).toMatchObject({ issuer, allow_any_subject: true, scope: ['openid', 'email'] });
    expect(trusted.body.public_key).toMatchObject({ set: issuer, kid: jwk.kid });
    const id = trusted.body.id as string;

    const listed = await stack.admin('GET', `/admin/trust/issuers?issuer=${encodeURIComponent(issuer)}`);
    expect(listed.status).toBe(200);
    expect(ids(listed.body, 'id')).toEqual([id]);

    const duplicate = await stack.admin('POST', '/admin/trust/issuers', body);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toHaveProperty('error');

    expect((await stack.admin('GET', `/admin/trust/issuers/${id}`)).status).toBe(200);
    const deleted = await stack.admin('DELETE', `/admin/trust/issuers/${id}`);
    expect(deleted.status).toBe(204);
    expect((await stack.admin('GET', `/admin/trust/issuers/${id}`)).status).toBe(404);
    const after = await stack.admin('GET', `/admin/trust/issuers?issuer=${encodeURIComponent(issuer)}`);
    expect(ids(after.body, 'id')).toEqual([]);
  });

  it('introspects a token from a flow; revoking the consent sessions makes it inactive', async () => {
    const client = await createClient('e2e-admin-consent');
    const { tokens } = await stack.driver().authorizeAndExchange({ client, scope: 'openid email', rememberConsent: true });

    const active = await stack.admin('POST', '/admin/tokens/introspect', { token: tokens.access_token });
    expect(active.status, JSON.stringify(active.body)).toBe(200);
    expect(active.body).toMatchObject({ active: true, sub: DEMO_USER.email, client_id: client.client_id });
    expect(active.body.scope.split(' ').sort()).toEqual(['email', 'openid']);

    const sessions = await stack.admin('GET', `/admin/sessions/consent?subject=${encodeURIComponent(DEMO_USER.email)}`);
    expect(sessions.status).toBe(200);
    expect(Array.isArray(sessions.body)).toBe(true);
    const ours = (sessions.body as any[]).filter((s) => s.consent_request?.client?.client_id === client.client_id);
    expect(ours).toHaveLength(1);
    expect([...ours[0].grant_scope].sort()).toEqual(['email', 'openid']);

    const revoked = await stack.admin(
      'DELETE',
      `/admin/sessions/consent?subject=${encodeURIComponent(DEMO_USER.email)}&client=${encodeURIComponent(client.client_id)}`,
    );
    expect(revoked.status).toBe(204);

    const inactive = await stack.admin('POST', '/admin/tokens/introspect', { token: tokens.access_token });
    expect(inactive.status).toBe(200);
    expect(inactive.body).toEqual({ active: false });
    expect((await introspectAtHydra(stack.hydra.adminUrl, tokens.access_token)).active).toBe(false);
  });

  it('revoking login sessions makes the next authorization show the login screen', async () => {
    const client = await createClient('e2e-admin-login');
    const d = stack.driver();
    await d.authorizeAndExchange({ client, scope: 'openid', rememberLogin: true });
    // Premise: the session is remembered, so login is skipped.
    const before = await d.startAuthorization({ client, scope: 'openid' });
    expect(before.landing.kind, describeLanding(before.landing)).toBe('consent');

    const revoked = await stack.admin('DELETE', `/admin/sessions/login?subject=${encodeURIComponent(DEMO_USER.email)}`);
    expect(revoked.status).toBe(204);

    const after = await d.startAuthorization({ client, scope: 'openid' });
    expect(after.landing.kind, describeLanding(after.landing)).toBe('login');
  });

  it('flush answers 501 on Hydra v2 and points to hydra janitor', async () => {
    const res = await stack.admin('POST', '/admin/tokens/flush', { notAfter: new Date().toISOString() });
    expect(res.status).toBe(501);
    expect(JSON.stringify(res.body)).toContain('janitor');
  });
});
