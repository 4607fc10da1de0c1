// Issue #11 item 8: the admin JSON API takes JSON bodies only (415 otherwise, in Hydra's error
// shape), refuses JSON nested deeper than 32 levels with 400, and the console's forms still work.
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestedDeeperThan, textNestedDeeperThan } from '../../src/admin/bodies.js';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, signIn, TEST_ADMIN_TOKEN } from './helpers.js';

/** `levels` nested objects: nest(1) is {"a":1}. */
const nest = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const arrays = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

describe('admin API bodies', () => {
  let app: TestApp;
  let id: string;
  beforeAll(async () => {
    app = await adminApp('v2');
  });
  afterAll(() => app.close());
  beforeEach(async () => {
    const created = await api(app.app).post('/admin/clients', { client_name: 'Billing', redirect_uris: ['https://billing.example/cb'], scope: 'openid email' });
    expect(created.status).toBe(201);
    id = created.body.client_id;
    app.hydra.calls.length = 0;
  });

  const raw = (method: 'post' | 'put' | 'patch', path: string, type: string | undefined, body: string) => {
    const test = request(app.app)[method](path).set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`).set('Accept', 'application/json');
    if (type !== undefined) test.set('Content-Type', type);
    return test.send(body);
  };

  it('answers 415 to a PUT, POST or PATCH whose body is not JSON, and Hydra is never called', async () => {
    const before = structuredClone(app.hydra.state.clients.get(id));
    const clients = app.hydra.state.clients.size;
    const cases = [
      ['put', `/admin/clients/${id}`, 'text/plain', '{"client_name":"x"}'],
      ['put', `/admin/clients/${id}`, 'application/x-www-form-urlencoded', 'client_name=x'],
      ['post', '/admin/clients', 'text/plain', 'hello'],
      ['post', '/admin/clients', 'multipart/form-data; boundary=x', '--x--'],
      ['patch', `/admin/clients/${id}`, 'text/plain', '[{"op":"replace","path":"/client_name","value":"x"}]'],
      ['post', '/admin/keys/set-a', 'text/plain', '{"alg":"RS256","kid":"k","use":"sig"}'],
      ['post', '/admin/tokens/introspect', 'text/plain', 'token=abc'],
    ] as const;
    for (const [method, path, type, body] of cases) {
      const res = await raw(method, path, type, body);
      expect(res.status, `${method} ${path} ${type}`).toBe(415);
      expect(res.body).toEqual({ error: 'unsupported_media_type', error_description: expect.stringContaining('must be JSON') });
    }
    // A body without any Content-Type is refused too.
    const untyped = await request(app.app)
      .put(`/admin/clients/${id}`)
      .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
      .set('Accept', 'application/json')
      .set('Content-Type', '')
      .send(Buffer.from('{"client_name":"x"}'));
    expect(untyped.status).toBe(415);
    expect(app.hydra.calls).toEqual([]);
    expect(app.hydra.state.clients.get(id)).toEqual(before); // not wiped
    expect(app.hydra.state.clients.size).toBe(clients);
  });

  it('still takes JSON in its several spellings, introspection as a form, and POSTs without a body', async () => {
    expect((await raw('put', `/admin/clients/${id}`, 'application/json; charset=utf-8', '{"client_name":"Billing 2"}')).status).toBe(200);
    expect(app.hydra.state.clients.get(id)?.client_name).toBe('Billing 2');
    const patch = '[{"op":"replace","path":"/client_name","value":"Billing 3"}]';
    expect((await raw('patch', `/admin/clients/${id}`, 'application/json-patch+json', patch)).status).toBe(200);
    expect(app.hydra.state.clients.get(id)?.client_name).toBe('Billing 3');
    const form = await raw('post', '/admin/tokens/introspect', 'application/x-www-form-urlencoded', 'token=unknown-token');
    expect(form.status).toBe(200);
    expect(form.body).toEqual({ active: false });
    // No body at all is not a body of the wrong type: the route decides (here: token is required).
    expect((await api(app.app).post('/admin/tokens/introspect')).status).toBe(400);
  });

  it('answers 400, not a 500 stack overflow, to JSON nested 5000 levels deep', async () => {
    const cases = [
      ['put', `/admin/clients/${id}`, `{"client_name":"x","metadata":{"deep":${nest(5000)}}}`],
      ['post', '/admin/clients', `{"client_name":"x","metadata":{"deep":${arrays(5000)}}}`],
      ['post', '/admin/clients', arrays(5000)],
      ['patch', `/admin/clients/${id}`, `[{"op":"add","path":"/metadata","value":${nest(5000)}}]`],
    ] as const;
    for (const [method, path, body] of cases) {
      const res = await raw(method, path, 'application/json', body);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The JSON body is nested more than 32 levels deep.' });
    }
    expect(app.hydra.calls).toEqual([]);
  });

  it('takes 32 levels and refuses 33', async () => {
    // The body object is level 1, metadata level 2: nest(30) inside it makes 32.
    const at = (levels: number) => raw('put', `/admin/clients/${id}`, 'application/json', `{"client_name":"x","metadata":${nest(levels - 1)}}`);
    expect((await at(32)).status).toBe(200);
    expect((await at(33)).status).toBe(400);
  });

  it('counts depth without recursion', () => {
    expect(MAX_JSON_DEPTH).toBe(32);
    expect(nestedDeeperThan(JSON.parse(nest(31)), 32)).toBe(false); // 31 objects + nothing below
    expect(nestedDeeperThan(JSON.parse(nest(32)), 32)).toBe(false);
    expect(nestedDeeperThan(JSON.parse(nest(33)), 32)).toBe(true);
    expect(nestedDeeperThan(JSON.parse(arrays(100_000)), 32)).toBe(true);
    expect(nestedDeeperThan({ a: [1, 2, { b: 'c' }], d: null }, 3)).toBe(false);
    expect(nestedDeeperThan({ a: [1, 2, { b: 'c' }], d: null }, 2)).toBe(true);
  });

  it("refuses 5000 levels in the console's JSON fields with 400 too (JSON Patch, metadata), and takes 32", async () => {
    const browser = await signIn(app.app);
    const patch = (value: string) => browser.submit(`/admin/clients/${id}`, { _method: 'PATCH', patch: `[{"op":"add","path":"/metadata","value":${value}}]` });
    const deep = await patch(nest(5000));
    expect(deep.status).toBe(400);
    expect(deep.text).toContain('nested more than 32 levels deep');
    expect((await patch(nest(30))).status).toBe(303); // 32 with the patch's array and operation
    expect((await patch(nest(31))).status).toBe(400);
    const metadata = await browser.submit(`/admin/clients/${id}`, { _method: 'PUT', client_name: 'x', metadata: `{"a":${arrays(5000)}}` });
    expect(metadata.status).toBe(400);
    // Brackets inside JSON strings are text, not depth.
    expect(textNestedDeeperThan(`{"name":"${'['.repeat(100)}"}`, 32)).toBe(false);
    expect(textNestedDeeperThan(`{"name":"\\\\"}${'['.repeat(40)}`, 32)).toBe(true);
  });

  it("the console's urlencoded forms keep working", async () => {
    const browser = await signIn(app.app);
    const created = await browser.submit('/admin/clients', { client_name: 'From the console', redirect_uris: 'https://console.example/cb' });
    expect(created.status).toBe(201);
    expect(created.text).toContain('From the console');
    const edited = await browser.submit(`/admin/clients/${id}`, { _method: 'PUT', client_name: 'Edited in the console', redirect_uris: 'https://billing.example/cb' });
    expect(edited.status).toBe(303);
    expect(app.hydra.state.clients.get(id)?.client_name).toBe('Edited in the console');
  });
});
