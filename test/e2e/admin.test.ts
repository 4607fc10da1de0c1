import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, startStack, type Stack } from './support/app.js';
import { describeEachHydra, hydraTargets } from './support/hydra.js';
import { clientBody, decodeEntities, DEMO_USER, describeLanding, introspectAtHydra, OAuthDriver, toTestClient, type Landing, type TestClient } from './support/oauth.js';

/**
 * The admin router's JSON API (bearer ADMIN_TOKEN) and console against each real Hydra: v2.3.0
 * and v1.11.10, whose AdminApi the admin operations were specified from. Every call goes through
 * our /admin routes; Hydra's own admin API is only read as ground truth. Keys and sets are used
 * exactly as each Hydra returns them (v1 names a generated pair private:<kid> and public:<kid>).
 *
 * The login, consent and logout requests (get, accept, reject) are the flows' operations: see
 * flows.test.ts, which runs on both versions too.
 */

const targets = hydraTargets('e2e admin router (real Hydra)');

interface Jwk {
  kid: string;
  kty: string;
  alg?: string;
  use?: string;
  [member: string]: unknown;
}

function ids(list: unknown, key: string): unknown[] {
  expect(Array.isArray(list), `expected a JSON array, got ${JSON.stringify(list)}`).toBe(true);
  return (list as Record<string, unknown>[]).map((item) => item[key]);
}

const byKid = (keys: Jwk[]) => [...keys].sort((a, b) => a.kid.localeCompare(b.kid));

/**
 * What each Hydra generates, as tried on the real ones (v1: no RS384+, PS or ES384; v2: no HS).
 * RSA keys are 4096 bits and take seconds to generate, so one RSA alg per use stands for the family.
 */
const GENERATED: Record<'v1' | 'v2', Array<[alg: string, use: 'sig' | 'enc']>> = {
  v1: [
    ['RS256', 'sig'], ['ES256', 'sig'], ['ES512', 'sig'], ['EdDSA', 'sig'], ['HS256', 'sig'], ['HS512', 'sig'],
    ['RS256', 'enc'], ['ES256', 'enc'], ['EdDSA', 'enc'], ['HS256', 'enc'],
  ],
  v2: [
    ['RS256', 'sig'], ['PS256', 'sig'], ['ES256', 'sig'], ['ES384', 'sig'], ['ES512', 'sig'], ['EdDSA', 'sig'],
    ['RS256', 'enc'], ['ES256', 'enc'], ['EdDSA', 'enc'],
  ],
};

describeEachHydra(targets, 'admin router against a real Hydra', (target) => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ hydra: target });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function createClient(name: string, overrides: Record<string, unknown> = {}): Promise<TestClient> {
    const created = await stack.admin('POST', '/admin/clients', clientBody({ client_name: name, ...overrides }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return toTestClient(created.body);
  }

  /** A cookie-jar browser signed in to the console with the admin token. */
  async function signInToConsole(): Promise<OAuthDriver> {
    const d = stack.driver();
    const login = await d.follow(`${stack.app.baseUrl}/admin/login`);
    expect(login.status, describeLanding(login)).toBe(200);
    const signedIn = await d.submit(login, 'sign-in', { set: { token: ADMIN_TOKEN } });
    expect(signedIn.url.pathname, describeLanding(signedIn)).toBe('/admin/clients');
    return d;
  }

  /** The hrefs of a console page, entities decoded. */
  function hrefs(page: Landing): string[] {
    return [...page.html.matchAll(/href="([^"]*)"/g)].map((m) => decodeEntities(m[1]!));
  }

  // The kids one generate call leaves in Hydra: v1 stores a key pair as private:<kid> + public:<kid>.
  const generatedKids = (alg: string, kid: string) =>
    target.apiVersion === 'v1' && !alg.startsWith('HS') ? [`private:${kid}`, `public:${kid}`] : [kid];

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
    const hydraSays = await fetch(`${stack.hydra.adminApiUrl}/clients/${client.client_id}`);
    expect(hydraSays.status).toBe(404);
  });

  it('clients: update replaces the whole client (read back, changed, put back); the list pages', async () => {
    const owner = `e2e-owner-${randomUUID()}`;
    const clients = [await createClient('e2e-page-1', { owner }), await createClient('e2e-page-2', { owner }), await createClient('e2e-page-3', { owner })];

    // Update: the client as Hydra returns it, two fields changed, sent back whole.
    const read = await stack.admin('GET', `/admin/clients/${clients[0]!.client_id}`);
    expect(read.status).toBe(200);
    const body = { ...read.body, client_name: 'e2e-updated', redirect_uris: [clients[0]!.redirect_uri, 'http://127.0.0.1:9/updated'] };
    const updated = await stack.admin('PUT', `/admin/clients/${clients[0]!.client_id}`, body);
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ client_id: clients[0]!.client_id, client_name: 'e2e-updated', owner });
    expect((await stack.admin('GET', `/admin/clients/${clients[0]!.client_id}`)).body.redirect_uris).toEqual(body.redirect_uris);
    // An update without a secret keeps the secret: the client still signs in.
    const { tokens } = await stack.driver().authorizeAndExchange({ client: clients[0]!, scope: 'openid' });
    expect(tokens.claims?.sub).toBe(DEMO_USER.email);

    // Paging, through our Link header, in whichever paging this Hydra speaks (offset or token).
    const seen: unknown[] = [];
    let next: string | undefined = `/admin/clients?owner=${encodeURIComponent(owner)}&page_size=2`;
    for (let page = 0; next !== undefined && page < 5; page++) {
      const res = await stack.admin('GET', next);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((res.body as unknown[]).length).toBeLessThanOrEqual(2);
      seen.push(...ids(res.body, 'client_id'));
      next = /<([^>]*)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      if ((res.body as unknown[]).length === 0) break;
    }
    expect([...new Set(seen)].sort()).toEqual(clients.map((c) => c.client_id).sort());
  });

  it.each(GENERATED[target.apiVersion])('JSON Web Keys %s/%s: generate, then get → update with the same body → get, for each key and the set', async (alg, use) => {
    const set = `e2e-${alg}-${use}-${randomUUID()}`;
    const generated = await stack.admin('POST', `/admin/keys/${set}`, { alg, kid: 'e2e-key', use });
    expect(generated.status, JSON.stringify(generated.body)).toBe(201);
    const kids = generatedKids(alg, 'e2e-key');
    expect(ids(generated.body.keys, 'kid')).toEqual(kids);

    const fetched = await stack.admin('GET', `/admin/keys/${set}`);
    expect(fetched.status).toBe(200);
    const keys = fetched.body.keys as Jwk[];
    expect(keys.map((k) => k.kid).sort()).toEqual([...kids].sort());
    expect(keys.every((k) => k.use === use)).toBe(true);

    for (const key of keys) {
      const path = `/admin/keys/${set}/${encodeURIComponent(key.kid)}`;
      const one = await stack.admin('GET', path);
      expect(one.status, `${key.kid}: ${JSON.stringify(one.body)}`).toBe(200);
      expect(one.body.keys).toEqual([key]);
      const put = await stack.admin('PUT', path, one.body.keys[0]);
      expect(put.status, `${key.kid}: ${JSON.stringify(put.body)}`).toBe(200);
      expect(put.body).toEqual(key);
      expect((await stack.admin('GET', path)).body.keys).toEqual([key]);
    }

    const putSet = await stack.admin('PUT', `/admin/keys/${set}`, fetched.body);
    expect(putSet.status, JSON.stringify(putSet.body)).toBe(200);
    // v1 answers a set in no particular order.
    expect(byKid((await stack.admin('GET', `/admin/keys/${set}`)).body.keys)).toEqual(byKid(keys));

    const first = encodeURIComponent(kids[0]!);
    expect((await stack.admin('DELETE', `/admin/keys/${set}/${first}`)).status).toBe(204);
    expect((await stack.admin('GET', `/admin/keys/${set}/${first}`)).status).toBe(404);
    expect((await stack.admin('DELETE', `/admin/keys/${set}`)).status).toBe(204);
    expect((await stack.admin('GET', `/admin/keys/${set}`)).status).toBe(404);
  });

  // Only registered on v2, so a CI run on both versions has nothing skipped.
  if (target.apiVersion === 'v2') {
    it('JSON Web Keys HS256 on v2: generating is refused, an uploaded secret makes the same round trip', async () => {
      const set = `e2e-hs-${randomUUID()}`;
      const refused = await stack.admin('POST', `/admin/keys/${set}`, { alg: 'HS256', kid: 'e2e-key', use: 'sig' });
      expect(refused.status).toBe(400);
      expect(refused.body.error_description).toContain('Unsupported key algorithm');

      const secret = { kty: 'oct', kid: 'e2e-key', alg: 'HS256', use: 'sig', k: 'pBWEiPGxW09P2IuMLzv5xw' };
      expect((await stack.admin('PUT', `/admin/keys/${set}/e2e-key`, secret)).status).toBe(200);
      const read = await stack.admin('GET', `/admin/keys/${set}/e2e-key`);
      expect(read.body.keys).toEqual([secret]);
      expect((await stack.admin('PUT', `/admin/keys/${set}/e2e-key`, read.body.keys[0])).body).toEqual(secret);
      const whole = await stack.admin('GET', `/admin/keys/${set}`);
      expect((await stack.admin('PUT', `/admin/keys/${set}`, whole.body)).status).toBe(200);
      expect((await stack.admin('GET', `/admin/keys/${set}`)).body).toEqual({ keys: [secret] });
      expect((await stack.admin('DELETE', `/admin/keys/${set}`)).status).toBe(204);
    });
  }

  it('console: a generated key is listed and linked by the kid Hydra gave it; its page replaces it with the same key', async () => {
    const d = await signInToConsole();
    const set = `e2e-console-${randomUUID()}`;
    const empty = await d.follow(`${stack.app.baseUrl}/admin/keys/${set}`);
    expect(empty.status, describeLanding(empty)).toBe(404);
    const created = await d.submit(empty, 'generate', { set: { kid: 'c1', alg: 'ES256', use: 'sig' } });
    expect(created.status, describeLanding(created)).toBe(200);
    expect(created.url.search).toBe('?done=created');

    const kids = generatedKids('ES256', 'c1');
    const links = hrefs(created);
    for (const kid of kids) expect(links).toContain(`/admin/keys/${set}/${encodeURIComponent(kid)}`);
    for (const kid of kids) {
      const page = await d.follow(`${stack.app.baseUrl}/admin/keys/${set}/${encodeURIComponent(kid)}`);
      expect(page.status, describeLanding(page)).toBe(200);
      expect(decodeEntities(page.html)).toContain(kid);
      // Replace it with itself, private material included, as the API returns it.
      const key = (await stack.admin('GET', `/admin/keys/${set}/${encodeURIComponent(kid)}`)).body.keys[0];
      const saved = await d.submit(page, 'replace', { set: { jwk: JSON.stringify(key) } });
      expect(saved.status, describeLanding(saved)).toBe(200);
      expect(saved.url.search).toBe('?done=saved');
      expect((await stack.admin('GET', `/admin/keys/${set}/${encodeURIComponent(kid)}`)).body.keys).toEqual([key]);
    }
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

  it("trusted issuers' keys: Hydra cannot serve a set named after an issuer URL, so the console links the key only when it can", async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: `e2e-issuer-key-${randomUUID()}`, alg: 'ES256', use: 'sig' };
    const trust = async (issuer: string) => {
      const res = await stack.admin('POST', '/admin/trust/issuers', {
        issuer, subject: 'svc', scope: ['openid'], jwk, expires_at: new Date(Date.now() + 3600_000).toISOString(),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id as string;
    };
    const d = await signInToConsole();

    // An issuer URL: the key's set name holds "/", which Hydra has no route for (either version).
    const urlIssuer = `https://issuer-${randomUUID()}.e2e.example/realm`;
    const urlId = await trust(urlIssuer);
    const atHydra = await fetch(`${stack.hydra.adminApiUrl}/keys/${encodeURIComponent(urlIssuer)}/${jwk.kid}`);
    await atHydra.body?.cancel();
    expect(atHydra.status).toBe(404);
    const viaUs = await stack.admin('GET', `/admin/keys/${encodeURIComponent(urlIssuer)}/${jwk.kid}`);
    expect(viaUs.status).toBe(404);
    expect(viaUs.body.error_description).toContain('no route for a set name that contains "/"');
    const urlPage = await d.follow(`${stack.app.baseUrl}/admin/trust/issuers/${urlId}`);
    expect(urlPage.status, describeLanding(urlPage)).toBe(200);
    expect(hrefs(urlPage).filter((href) => href.startsWith('/admin/keys/'))).toEqual([]);
    expect(decodeEntities(urlPage.html)).toContain('cannot look up a set whose name contains "/"');

    // A plain issuer name: linked, and the link opens the key Hydra stored.
    const plainIssuer = `e2e-issuer-${randomUUID()}`;
    const plainId = await trust(plainIssuer);
    const plainPage = await d.follow(`${stack.app.baseUrl}/admin/trust/issuers/${plainId}`);
    const keyLink = hrefs(plainPage).find((href) => href.startsWith('/admin/keys/'));
    expect(keyLink).toBe(`/admin/keys/${plainIssuer}/${jwk.kid}`);
    const keyPage = await d.follow(`${stack.app.baseUrl}${keyLink}`);
    expect(keyPage.status, describeLanding(keyPage)).toBe(200);
    expect(keyPage.html).toContain(jwk.x);

    for (const id of [urlId, plainId]) expect((await stack.admin('DELETE', `/admin/trust/issuers/${id}`)).status).toBe(204);
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
    expect((await introspectAtHydra(stack.hydra, tokens.access_token)).active).toBe(false);
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

  it("deleting a client's tokens ends its access tokens; its refresh tokens live on (both versions delete access tokens only)", async () => {
    const client = await createClient('e2e-admin-tokens');
    const d = stack.driver();
    const { tokens } = await d.authorizeAndExchange({ client, scope: 'openid offline_access' });
    expect(tokens.refresh_token).toBeTruthy();
    expect((await introspectAtHydra(stack.hydra, tokens.access_token)).active).toBe(true);

    const deleted = await stack.admin('DELETE', `/admin/tokens?client_id=${encodeURIComponent(client.client_id)}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
    expect((await stack.admin('POST', '/admin/tokens/introspect', { token: tokens.access_token })).body).toEqual({ active: false });
    // Hydra's DeleteAccessTokens (v1.11.10 and v2.3.0) deletes from the access-token table only.
    expect((await introspectAtHydra(stack.hydra, tokens.refresh_token!)).active).toBe(true);
    const refreshed = await d.refresh(client, tokens.refresh_token!);
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  });

  if (target.apiVersion === 'v1') {
    it('flush: Hydra v1 flushes inactive tokens (204) and active ones stay active', async () => {
      const client = await createClient('e2e-admin-flush');
      const { tokens } = await stack.driver().authorizeAndExchange({ client, scope: 'openid' });
      const flushed = await stack.admin('POST', '/admin/tokens/flush', { notAfter: new Date().toISOString() });
      expect(flushed.status, JSON.stringify(flushed.body)).toBe(204);
      expect((await stack.admin('POST', '/admin/tokens/flush', {})).status).toBe(204);
      expect((await introspectAtHydra(stack.hydra, tokens.access_token)).active).toBe(true);
    });
  } else {
    it('flush answers 501 on Hydra v2 and points to hydra janitor', async () => {
      const res = await stack.admin('POST', '/admin/tokens/flush', { notAfter: new Date().toISOString() });
      expect(res.status).toBe(501);
      expect(JSON.stringify(res.body)).toContain('janitor');
    });
  }
});
