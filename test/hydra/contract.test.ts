// Checks the admin client against Hydra's own OpenAPI specs (../shared/hydra-openapi): every
// operation's method and path exists in the layout it targets, and the requests the client really
// sends (captured by the fake Hydra) carry only declared query parameters and bodies that validate
// against the operation's request schema, with no field the spec does not declare (Hydra ≤ 2.3
// answers 400 to unknown fields on the flow bodies, contract §2).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS, createHydraAdmin, operationPath } from '../../src/hydra/client.js';
import type { OperationName } from '../../src/hydra/client.js';
import type { ApiVersion, JsonWebKey, OAuth2Client } from '../../src/hydra/types.js';
import { startFakeHydra } from '../support/fake-hydra.js';
import type { FakeHydra, RecordedCall } from '../support/fake-hydra.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// The shared folder is a sibling of the repository, here and in CI.
const SPEC_DIR = path.resolve(import.meta.dirname, '../../../shared/hydra-openapi');
const SPECS: Record<ApiVersion, string[]> = {
  v1: ['hydra-v1.11.10.json'],
  v2: ['hydra-v2.3.0.json', 'hydra-v26.2.0.json'],
};

type Json = Record<string, unknown>;
interface Parameter { in: string; name: string; $ref?: string }
interface OperationSpec { operationId: string; parameters?: Parameter[]; requestBody?: Json }
interface Spec { swagger?: string; openapi?: string; paths: Record<string, Record<string, OperationSpec>>; components?: Json; definitions?: Json }

/** Whether the Hydra release a spec file is from predates `since` ('v25.4'): the device grant is not in v2.3.0's spec. */
function predates(file: string, since: string | undefined): boolean {
  if (since === undefined) return false;
  const release = /v(\d+)\.(\d+)/.exec(file)!.slice(1).map(Number);
  const first = /v(\d+)\.(\d+)/.exec(since)!.slice(1).map(Number);
  return release[0]! < first[0]! || (release[0] === first[0] && release[1]! < first[1]!);
}
const sinceOf = (operation: OperationName) => (OPERATIONS[operation] as { since?: string }).since;

const loadSpec = (file: string) => JSON.parse(readFileSync(path.join(SPEC_DIR, file), 'utf8')) as Spec;
const pointerTo = (...tokens: string[]) => tokens.map((t) => encodeURIComponent(t.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');
const PLACEHOLDERS = { id: '{id}', set: '{set}', kid: '{kid}' };
/** The spec's templated path of an operation, e.g. /admin/clients/{id}. */
const templatedPath = (operation: OperationName, version: ApiVersion) => decodeURIComponent(operationPath(operation, version, PLACEHOLDERS));

/** A spec with an ajv that resolves its `$ref`s against the whole document. */
function checker(file: string) {
  const spec = loadSpec(file);
  // Documented allowances for spec bugs, applied to our copy only:
  // v1.11's patchDocument says `value` is an object, but a JSON Patch value is any JSON value
  // (Hydra applies the patch to the client's JSON), so `replace /client_name "x"` is valid.
  const v1Patch = (spec.components?.schemas as Json | undefined)?.patchDocument as { properties?: { value?: Json } } | undefined;
  if (v1Patch?.properties?.value) delete v1Patch.properties.value.type;

  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(spec as unknown as Json, 'spec');
  const compiled = new Map<string, ValidateFunction>();
  const validator = (pointer: string) => {
    let validate = compiled.get(pointer);
    if (!validate) compiled.set(pointer, (validate = ajv.compile({ $ref: `spec#/${pointer}` })));
    return validate;
  };

  /** Follows a local `$ref` (one level at a time) inside the spec document. */
  const deref = (node: Json): Json => {
    let current = node;
    while (typeof current.$ref === 'string') {
      current = current.$ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<Json>((at, token) => at[token.replaceAll('~1', '/').replaceAll('~0', '~')] as Json, spec as unknown as Json);
    }
    return current;
  };

  /** Where the request schema of an operation lives, for OpenAPI 3 and for Swagger 2. */
  function bodySchema(specPath: string, method: string, contentType: string): { pointer: string; schema: Json } | undefined {
    const operation = spec.paths[specPath]?.[method];
    if (!operation) return undefined;
    if (operation.requestBody) {
      const content = deref(operation.requestBody).content as Record<string, { schema: Json }> | undefined;
      const type = Object.keys(content ?? {}).find((t) => contentType.startsWith(t));
      if (!type || !content?.[type]) return undefined;
      const pointer = typeof operation.requestBody.$ref === 'string'
        ? `${operation.requestBody.$ref.replace(/^#\//, '')}/${pointerTo('content', type, 'schema')}`
        : pointerTo('paths', specPath, method, 'requestBody', 'content', type, 'schema');
      return { pointer, schema: deref(content[type].schema) };
    }
    // Swagger 2.0: the body is a parameter.
    const index = (operation.parameters ?? []).findIndex((p) => p.in === 'body');
    if (index < 0) return undefined;
    const schema = (operation.parameters?.[index] as unknown as { schema: Json }).schema;
    return { pointer: pointerTo('paths', specPath, method, 'parameters', String(index), 'schema'), schema: deref(schema) };
  }

  /** Matches a concrete request path to the spec's templated one. */
  function specPathOf(requestPath: string): string | undefined {
    return Object.keys(spec.paths).find((template) => {
      const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      const pattern = new RegExp(`^${escaped.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      return pattern.test(requestPath);
    });
  }

  return { file, spec, validator, bodySchema, specPathOf, deref };
}

/** Drives every operation of the client with the fullest bodies we send, through a fake Hydra. */
async function captureRequests(version: ApiVersion, fake: FakeHydra): Promise<Map<OperationName, RecordedCall>> {
  const hydra = createHydraAdmin({ baseUrl: fake.url, apiVersion: version, timeoutMs: 5000 });
  const captured = new Map<OperationName, RecordedCall>();
  const run = async (operation: OperationName, call: () => Promise<unknown>) => {
    const before = fake.calls.length;
    await call();
    expect(fake.calls.length, `${operation} sent one request`).toBe(before + 1);
    captured.set(operation, fake.calls.at(-1)!);
  };

  const login = fake.addLoginRequest();
  const consent = fake.addConsentRequest({ subject: 'alice' });
  const logout = fake.addLogoutRequest();
  await run('getLoginRequest', () => hydra.getLoginRequest(login));
  await run('acceptLoginRequest', () =>
    hydra.acceptLoginRequest(login, {
      subject: 'alice', remember: true, remember_for: 3600, acr: '1', amr: ['pwd', 'otp'], context: { tenant: 'acme' },
      force_subject_identifier: 'pairwise-alice', extend_session_lifespan: true, identity_provider_session_id: 'idp-1',
    }));
  await run('rejectLoginRequest', () =>
    hydra.rejectLoginRequest(fake.addLoginRequest(), {
      error: 'access_denied', error_description: 'The resource owner denied the request', error_hint: 'hint', error_debug: 'debug', status_code: 403,
    }));
  await run('getConsentRequest', () => hydra.getConsentRequest(consent));
  await run('acceptConsentRequest', () =>
    hydra.acceptConsentRequest(consent, {
      grant_scope: ['openid', 'email'], grant_access_token_audience: ['https://api.example'], remember: true, remember_for: 0,
      session: { access_token: { plan: 'gold' }, id_token: { email: 'alice@example.com', email_verified: true } },
      context: { step: 'consent' },
    }));
  await run('rejectConsentRequest', () => hydra.rejectConsentRequest(fake.addConsentRequest(), { error: 'access_denied', status_code: 403 }));
  await run('getLogoutRequest', () => hydra.getLogoutRequest(logout));
  await run('acceptLogoutRequest', () => hydra.acceptLogoutRequest(logout));
  await run('rejectLogoutRequest', () => hydra.rejectLogoutRequest(fake.addLogoutRequest()));
  if (version === 'v2') {
    await run('acceptUserCodeRequest', () => hydra.acceptUserCodeRequest(fake.addDeviceChallenge(), fake.addUserCode({ userCode: 'aBcD3467' })));
  }

  const client: OAuth2Client = {
    client_id: 'shop', client_name: 'Shop', client_secret: 'a-long-enough-secret', redirect_uris: ['https://shop.example/cb'],
    post_logout_redirect_uris: ['https://shop.example/bye'], grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'], scope: 'openid offline_access email', audience: ['https://api.example'], owner: 'team-a',
    policy_uri: 'https://shop.example/policy', tos_uri: 'https://shop.example/tos', client_uri: 'https://shop.example',
    logo_uri: 'https://shop.example/logo.png', allowed_cors_origins: ['https://shop.example'], contacts: ['ops@shop.example'],
    subject_type: 'public', token_endpoint_auth_method: 'client_secret_post', frontchannel_logout_uri: 'https://shop.example/fc',
    frontchannel_logout_session_required: true, backchannel_logout_uri: 'https://shop.example/bc', backchannel_logout_session_required: true,
    metadata: { team: 'a' }, access_token_strategy: 'opaque', skip_consent: false, skip_logout_consent: false,
    authorization_code_grant_access_token_lifespan: '1h', refresh_token_grant_refresh_token_lifespan: '720h',
    password_grant_access_token_lifespan: '1h', password_grant_refresh_token_lifespan: '720h',
  };
  await run('createOAuth2Client', () => hydra.createOAuth2Client(client));
  await run('getOAuth2Client', () => hydra.getOAuth2Client('shop'));
  await run('listOAuth2Clients', () => hydra.listOAuth2Clients({ client_name: 'Shop', owner: 'team-a', pageSize: 10, pageToken: undefined }));
  const page = await hydra.listOAuth2Clients({ pageSize: 1 });
  await run('listOAuth2Clients', () => hydra.listOAuth2Clients({ pageSize: 1, pageToken: page.first }));
  await run('updateOAuth2Client', () => hydra.updateOAuth2Client('shop', { ...client, client_name: 'Shop 2' }));
  await run('patchOAuth2Client', () =>
    hydra.patchOAuth2Client('shop', [
      { op: 'replace', path: '/client_name', value: 'Shop 3' },
      { op: 'add', path: '/redirect_uris/-', value: 'https://shop.example/cb2' },
      { op: 'remove', path: '/tos_uri' },
    ]));
  await run('deleteOAuth2Client', () => hydra.deleteOAuth2Client('shop'));

  let created: JsonWebKey | undefined;
  await run('createJsonWebKeySet', async () => {
    // RS256: real v1 generates EC keys without the alg its own spec calls required (contract §8).
    created = (await hydra.createJsonWebKeySet('signing', { alg: 'RS256', kid: 'k1', use: 'sig' })).keys[0];
  });
  await run('getJsonWebKeySet', () => hydra.getJsonWebKeySet('signing'));
  // By the kid Hydra gave the key (v1 stores a generated pair as private:k1 and public:k1).
  await run('getJsonWebKey', () => hydra.getJsonWebKey('signing', created!.kid));
  await run('updateJsonWebKey', () => hydra.updateJsonWebKey('signing', created!.kid, { ...created!, use: 'sig' }));
  await run('updateJsonWebKeySet', () => hydra.updateJsonWebKeySet('signing', { keys: [created!] }));
  await run('deleteJsonWebKey', () => hydra.deleteJsonWebKey('signing', created!.kid));
  await hydra.createJsonWebKeySet('signing', { alg: 'ES256', kid: 'k2', use: 'sig' });
  await run('deleteJsonWebKeySet', () => hydra.deleteJsonWebKeySet('signing'));

  await run('deleteOAuth2Token', () => hydra.deleteOAuth2Token('shop'));
  if (version === 'v1') await run('flushInactiveOAuth2Tokens', () => hydra.flushInactiveOAuth2Tokens({ notAfter: '2026-01-01T00:00:00Z' }));
  await run('introspectOAuth2Token', () => hydra.introspectOAuth2Token({ token: 'some-token', scope: 'openid email' }));

  await run('listSubjectConsentSessions', () => hydra.listSubjectConsentSessions({ subject: 'alice', pageSize: 5, ...(version === 'v2' ? { login_session_id: 'ls-1' } : {}) }));
  await run('revokeConsentSessions', () => hydra.revokeConsentSessions({ subject: 'alice', client: 'shop' }));
  await hydra.revokeConsentSessions({ subject: 'alice', all: true });
  await run('revokeAuthenticationSession', () => hydra.revokeAuthenticationSession('alice'));

  const { kty, crv, x, y } = created!;
  const publicKey = { kty, crv, x, y, kid: 'issuer-key', alg: 'ES256', use: 'sig' } as JsonWebKey;
  let grantId = '';
  await run('trustJwtGrantIssuer', async () => {
    grantId = (await hydra.trustJwtGrantIssuer({
      issuer: 'https://idp.example', subject: 'alice', scope: ['openid'], jwk: publicKey, expires_at: '2030-01-01T00:00:00Z',
    })).id;
  });
  await run('getTrustedJwtGrantIssuer', () => hydra.getTrustedJwtGrantIssuer(grantId));
  await run('listTrustedJwtGrantIssuers', () => hydra.listTrustedJwtGrantIssuers({ issuer: 'https://idp.example', pageSize: 5 }));
  await run('deleteTrustedJwtGrantIssuer', () => hydra.deleteTrustedJwtGrantIssuer(grantId));
  return captured;
}

// Spec quirks in query parameters, each checked against the contract (§1).
const QUERY_ALLOWANCES: Record<string, Record<string, string[]>> = {
  // v2.3.0's spec documents the trusted-issuer list with the Go struct's MaxItems/DefaultItems
  // instead of page_size/page_token, which is what the handler reads (contract §1).
  'hydra-v2.3.0.json': { listTrustedJwtGrantIssuers: ['page_size', 'page_token'] },
};

describe.each(['v1', 'v2'] as const)('the %s client against the OpenAPI specs', (version) => {
  const specs = SPECS[version].map(checker);
  const operations = Object.keys(OPERATIONS) as OperationName[];
  let fake: FakeHydra;
  let captured: Map<OperationName, RecordedCall>;

  beforeAll(async () => {
    fake = await startFakeHydra({ apiVersion: version });
    captured = await captureRequests(version, fake);
  });
  afterAll(async () => {
    await fake.close();
  });

  describe.each(specs)('$file', (checked) => {
    it.each(operations)('%s: method and path exist in the spec (or are absent where the layout lacks them)', (operation) => {
      const { method, only } = OPERATIONS[operation] as { method: string; only?: ApiVersion };
      if (only && only !== version) {
        // Flush is v1 only: no spec of the other layout may have it under either path form.
        const v1Path = OPERATIONS[operation].path;
        expect(checked.spec.paths[v1Path]).toBeUndefined();
        expect(checked.spec.paths[`/admin${v1Path}`]).toBeUndefined();
        return;
      }
      const specPath = templatedPath(operation, version);
      if (predates(checked.file, sinceOf(operation))) {
        // The device grant arrived in v25.4: v2.3.0's spec must not have it either.
        expect(checked.spec.paths[specPath], `${specPath} is not in ${checked.file}`).toBeUndefined();
        return;
      }
      expect(Object.keys(checked.spec.paths), `${specPath} in ${checked.file}`).toContain(specPath);
      expect(checked.spec.paths[specPath]?.[method.toLowerCase()]?.operationId, `${method} ${specPath}`).toBeTruthy();
    });

    it.each(operations.filter((op) => (!('only' in OPERATIONS[op]) || OPERATIONS[op].only === version) && !predates(checked.file, sinceOf(op))))(
      '%s: the request sent validates against the spec',
      (operation) => {
        const call = captured.get(operation);
        expect(call, `${operation} was captured`).toBeDefined();
        const specPath = checked.specPathOf(call!.path);
        expect(specPath, `${call!.path} matches a path of ${checked.file}`).toBe(templatedPath(operation, version));
        const method = call!.method.toLowerCase();
        const spec = checked.spec.paths[specPath!]![method]!;

        // Query parameters: every one we send is declared (required ones we always send).
        const declared = (spec.parameters ?? []).map((p) => checked.deref(p as unknown as Json) as unknown as Parameter);
        const queryNames = declared.filter((p) => p.in === 'query').map((p) => p.name);
        const allowed = [...queryNames, ...(QUERY_ALLOWANCES[checked.file]?.[operation] ?? [])];
        for (const name of Object.keys(call!.query)) expect(allowed, `${operation}: query parameter ${name}`).toContain(name);
        for (const p of declared.filter((p) => p.in === 'query' && (p as unknown as { required?: boolean }).required)) {
          expect(Object.keys(call!.query), `${operation}: required query parameter ${p.name}`).toContain(p.name);
        }

        // Body: validates against the request schema, with no undeclared top-level field.
        if (call!.body === undefined) {
          expect((spec.requestBody as { required?: boolean } | undefined)?.required ?? false, `${operation} needs a body`).toBe(false);
          return;
        }
        const contentType = String(call!.headers['content-type'] ?? '');
        const located = checked.bodySchema(specPath!, method, contentType);
        expect(located, `${operation}: ${checked.file} declares a ${contentType} body`).toBeDefined();
        const validate = checked.validator(located!.pointer);
        expect(validate(call!.body) ? [] : validate.errors, `${operation} body against ${checked.file}`).toEqual([]);
        const properties = Object.keys((located!.schema.properties as Json | undefined) ?? {});
        const items = located!.schema.items ? checked.deref(located!.schema.items as Json) : undefined;
        const bodies = Array.isArray(call!.body) ? call!.body : [call!.body];
        const known = items ? Object.keys((items.properties as Json | undefined) ?? {}) : properties;
        for (const body of bodies as Json[]) {
          for (const field of Object.keys(body)) expect(known, `${operation}: field ${field} is declared`).toContain(field);
        }
      },
    );
  });

  it('captured and validated every body the brief names', () => {
    const bodies = ['acceptLoginRequest', 'acceptConsentRequest', 'rejectLoginRequest', 'createOAuth2Client', 'patchOAuth2Client', 'createJsonWebKeySet', 'trustJwtGrantIssuer'];
    if (version === 'v1') bodies.push('flushInactiveOAuth2Tokens');
    for (const operation of bodies) expect(captured.get(operation as OperationName)?.body, operation).toBeDefined();
  });

  it('validation catches a body Hydra would refuse (the check is not vacuous)', () => {
    for (const checked of specs) {
      const located = checked.bodySchema(templatedPath('acceptLoginRequest', version), 'put', 'application/json')!;
      const validate = checked.validator(located.pointer);
      expect(validate({ remember: true }), `${checked.file}: subject is required`).toBe(false);
      expect(validate({ subject: 'a', remember_for: 'forever' }), `${checked.file}: remember_for is an integer`).toBe(false);
      const known = Object.keys(located.schema.properties as Json);
      // v1.11 does not know the v2-only login fields, which is why the client drops them.
      expect(known.includes('extend_session_lifespan')).toBe(version === 'v2');
    }
  });
});

/**
 * The device accept (Hydra v25.4+) against the v26.2.0 spec in both directions: the operation is
 * Hydra's acceptUserCodeRequest, and every answer the fake gives (the redirect, and each error a
 * real Hydra's handler returns) validates against the spec's response schemas.
 */
describe('acceptUserCodeRequest against hydra-v26.2.0.json', () => {
  const checked = checker('hydra-v26.2.0.json');
  const specPath = '/admin/oauth2/auth/requests/device/accept';
  let fake: FakeHydra;
  beforeAll(async () => {
    fake = await startFakeHydra({ apiVersion: 'v2' });
  });
  afterAll(() => fake.close());

  const responseValidator = (status: '200' | 'default') => {
    const operation = checked.spec.paths[specPath]!.put! as unknown as { responses: Record<string, Json> };
    expect(operation.responses[status], `${status} response`).toBeDefined();
    return checked.validator(pointerTo('paths', specPath, 'put', 'responses', status, 'content', 'application/json', 'schema'));
  };
  const put = (query: string, body?: string) =>
    fetch(`${fake.url}${specPath}${query}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });

  it('is the spec operation acceptUserCodeRequest, and the client sends it there with {user_code}', async () => {
    expect(checked.spec.paths[specPath]?.put?.operationId).toBe('acceptUserCodeRequest');
    expect(templatedPath('acceptUserCodeRequest', 'v2')).toBe(specPath);
    const hydra = createHydraAdmin({ baseUrl: fake.url, apiVersion: 'v2', timeoutMs: 5000 });
    const code = fake.addUserCode();
    const { redirect_to } = await hydra.acceptUserCodeRequest(fake.addDeviceChallenge(), code);
    const call = fake.calls.at(-1)!;
    expect(call).toMatchObject({ method: 'PUT', path: specPath, body: { user_code: code } });
    expect(Object.keys(call.query)).toEqual(['device_challenge']);
    expect(redirect_to).toMatch(/^http:\/\/hydra\.test\/oauth2\/device\/verify\?client_id=tv-app&device_verifier=[0-9a-f]{32}$/);
  });

  it('answers 200 with a body that validates as oAuth2RedirectTo', async () => {
    const res = await put(`?device_challenge=${encodeURIComponent(fake.addDeviceChallenge())}`, JSON.stringify({ user_code: fake.addUserCode() }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    const validate = responseValidator('200');
    expect(validate(body) ? [] : validate.errors).toEqual([]);
    expect(Object.keys(body)).toEqual(['redirect_to']);
  });

  it('answers each error as Hydra does, every one a valid errorOAuth2 body', async () => {
    const acceptedBefore = fake.accepted.device.length;
    const challenge = () => `?device_challenge=${encodeURIComponent(fake.addDeviceChallenge())}`;
    const expired = fake.addDeviceChallenge();
    fake.expire(expired);
    const used = fake.addUserCode();
    fake.useUserCode(used);
    const old = fake.addUserCode();
    fake.expireUserCode(old);
    const cases: Array<[string, Response, number, string, RegExp]> = [
      ['no challenge', await put('', JSON.stringify({ user_code: fake.addUserCode() })), 400, 'invalid_request', /'device_challenge' is not defined/],
      ['bad JSON', await put(challenge(), '{'), 400, 'invalid_request', /Unable to decode request body/],
      ['empty user_code', await put(challenge(), JSON.stringify({ user_code: '' })), 400, 'invalid_request', /'user_code' must not be empty/],
      ['unknown challenge', await put('?device_challenge=garbage', JSON.stringify({ user_code: fake.addUserCode() })), 404, 'Not Found', /Unable to locate/],
      ['expired challenge', await put(`?device_challenge=${expired}`, JSON.stringify({ user_code: fake.addUserCode() })), 401, 'request_unauthorized', /device request has expired/],
      ['wrong code', await put(challenge(), JSON.stringify({ user_code: 'NOPE1234' })), 400, 'invalid_request', /'user_code' session could not be found/],
      ['used code', await put(challenge(), JSON.stringify({ user_code: used })), 400, 'invalid_request', /'user_code' session could not be found/],
      ['expired code', await put(challenge(), JSON.stringify({ user_code: old })), 400, 'invalid_request', /'user_code' session could not be found/],
    ];
    const validate = responseValidator('default');
    for (const [name, res, status, error, description] of cases) {
      expect(res.status, name).toBe(status);
      const body = (await res.json()) as Record<string, string>;
      expect(validate(body) ? [] : validate.errors, name).toEqual([]);
      // Hydra's wire shape is exactly these two fields (contract §3).
      expect(Object.keys(body).sort(), name).toEqual(['error', 'error_description']);
      expect(body.error, name).toBe(error);
      expect(body.error_description, name).toMatch(description);
    }
    expect(fake.accepted.device).toHaveLength(acceptedBefore);
  });

  it('is not in the v2.3.0 or v1.11.10 specs, and the v1 client refuses it without a request', async () => {
    for (const file of ['hydra-v2.3.0.json', 'hydra-v1.11.10.json']) {
      const paths = Object.keys(loadSpec(file).paths);
      expect(paths.filter((p) => p.includes('device')), file).toEqual([]);
    }
    const v1 = createHydraAdmin({ baseUrl: fake.url, apiVersion: 'v1', timeoutMs: 5000 });
    const before = fake.calls.length;
    await expect(v1.acceptUserCodeRequest('c', 'CODE')).rejects.toThrow(/acceptUserCodeRequest is not available on Hydra v1: the device authorization grant needs Hydra v25.4/);
    expect(fake.calls.length).toBe(before);
  });
});
