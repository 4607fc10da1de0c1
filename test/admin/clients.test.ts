// OAuth2 clients through /admin, JSON and HTML, against the fake Hydra in both API layouts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiVersion, OAuth2Client } from '../../src/hydra/types.js';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, confirmForm, fieldValue, hydraCalls, links, signIn, type Browser } from './helpers.js';

describe.each(['v1', 'v2'] as const)('clients, Hydra %s layout', (version: ApiVersion) => {
  let app: TestApp;
  beforeEach(async () => {
    app = await adminApp(version);
  });
  afterEach(async () => {
    await app.close();
  });

  const stored = (id: string) => app.hydra.state.clients.get(id);

  describe('JSON API', () => {
    it('creates (secret once), reads, lists, replaces, patches and deletes a client', async () => {
      const created = await api(app.app).post('/admin/clients', {
        client_name: 'Billing',
        owner: 'team-a',
        redirect_uris: ['https://billing.example/cb', 'com.example.billing:/cb'],
        grant_types: ['authorization_code'],
        metadata: { tier: 'gold' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ client_name: 'Billing', owner: 'team-a', metadata: { tier: 'gold' } });
      expect(typeof created.body.client_secret).toBe('string');
      const id = created.body.client_id as string;
      expect(stored(id)?.redirect_uris).toEqual(['https://billing.example/cb', 'com.example.billing:/cb']);

      const fetched = await api(app.app).get(`/admin/clients/${id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body.client_id).toBe(id);
      expect(fetched.body).not.toHaveProperty('client_secret');

      await api(app.app).post('/admin/clients', { client_name: 'Other', owner: 'team-b' });
      const byName = await api(app.app).get('/admin/clients?client_name=Billing');
      expect(byName.status).toBe(200);
      expect(byName.body.map((c: OAuth2Client) => c.client_id)).toEqual([id]);
      const byOwner = await api(app.app).get('/admin/clients?owner=team-b');
      expect(byOwner.body.map((c: OAuth2Client) => c.client_name)).toEqual(['Other']);
      expect(hydraCalls(app, 'GET', '/clients').at(-1)?.query).toMatchObject({ owner: 'team-b' });

      const replaced = await api(app.app).put(`/admin/clients/${id}`, { client_name: 'Billing v2', redirect_uris: ['https://billing.example/cb2'] });
      expect(replaced.status).toBe(200);
      expect(stored(id)).toMatchObject({ client_name: 'Billing v2', redirect_uris: ['https://billing.example/cb2'], owner: '' });

      const patched = await api(app.app)
        .patch(`/admin/clients/${id}`, [{ op: 'replace', path: '/client_name', value: 'Billing v3' }])
        .set('Content-Type', 'application/json-patch+json');
      expect(patched.status).toBe(200);
      expect(patched.body.client_name).toBe('Billing v3');

      const deleted = await api(app.app).delete(`/admin/clients/${id}`);
      expect(deleted.status).toBe(204);
      expect(stored(id)).toBeUndefined();
    });

    it('maps Hydra errors: 404 unknown, 409 duplicate, 400 with Hydra\'s description', async () => {
      const unknown = await api(app.app).get('/admin/clients/nobody');
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({ error: 'not_found', error_description: expect.any(String) });
      expect((await api(app.app).delete('/admin/clients/nobody')).status).toBe(404);
      expect((await api(app.app).put('/admin/clients/nobody', { client_name: 'x' })).status).toBe(404);

      expect((await api(app.app).post('/admin/clients', { client_id: 'fixed-id' })).status).toBe(201);
      const duplicate = await api(app.app).post('/admin/clients', { client_id: 'fixed-id' });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error).toBe('conflict');
      expect(duplicate.body.error_description).toMatch(/exists already/);

      const shortSecret = await api(app.app).post('/admin/clients', { client_secret: 'abc' });
      expect(shortSecret.status).toBe(400);
      expect(shortSecret.body).toEqual({
        error: 'invalid_client_metadata',
        error_description: expect.stringContaining('at least 6 characters'),
      });

      const badPatch = await api(app.app).patch('/admin/clients/fixed-id', [{ op: 'remove', path: '/nothing/there' }]);
      expect(badPatch.status).toBe(400);
      expect(badPatch.body.error_description).toContain('patch path does not exist');
    });

    it('rejects malformed URIs and bodies itself, before calling Hydra', async () => {
      const before = app.hydra.calls.length;
      const cases: Array<[object | unknown[], RegExp]> = [
        [{ redirect_uris: ['javascript:alert(1)'] }, /redirect_uris\.0: must be an absolute URI/],
        [{ redirect_uris: ['/relative/callback'] }, /redirect_uris\.0/],
        [{ redirect_uris: ['https://app.example/cb#fragment'] }, /redirect_uris\.0/],
        [{ post_logout_redirect_uris: ['data:text/html,hi'] }, /post_logout_redirect_uris\.0/],
        [{ client_uri: 'javascript:alert(1)' }, /client_uri: must be an absolute http\(s\) URL/],
        [{ logo_uri: 'ftp://files.example/logo.png' }, /logo_uri/],
        [{ allowed_cors_origins: ['https://app.example/path'] }, /allowed_cors_origins\.0/],
        [{ grant_types: 'authorization_code' }, /grant_types/],
        [{ metadata: 'not an object' }, /metadata/],
        [['not', 'an', 'object'], /must be a JSON object/],
      ];
      for (const [body, message] of cases) {
        const res = await api(app.app).post('/admin/clients', body as object);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(res.body.error_description).toMatch(message);
      }
      expect((await api(app.app).put('/admin/clients/x', { tos_uri: 'nope' })).status).toBe(400);
      const patch = await api(app.app).patch('/admin/clients/x', [{ op: 'frobnicate', path: '/client_name' }]);
      expect(patch.status).toBe(400);
      expect((await api(app.app).patch('/admin/clients/x', [])).status).toBe(400);
      expect(app.hydra.calls.length).toBe(before);
    });

    it('passes paging through with its own Link URLs and X-Total-Count', async () => {
      for (let i = 0; i < 5; i++) await api(app.app).post('/admin/clients', { client_name: `paged-${i}`, owner: 'pager' });
      const seen: string[] = [];
      let url: string | undefined = '/admin/clients?owner=pager&page_size=2';
      let pages = 0;
      while (url) {
        const res = await api(app.app).get(url);
        expect(res.status).toBe(200);
        expect(res.headers['x-total-count']).toBe('5');
        expect(res.body.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.map((c: OAuth2Client) => c.client_name));
        const rel = links(res.headers.link);
        expect(rel.first).toMatch(/^\/admin\/clients\?owner=pager&page_size=2&page_token=/);
        if (pages > 0) expect(rel.prev).toMatch(/^\/admin\/clients\?/);
        url = rel.next;
        pages++;
      }
      expect(pages).toBe(3);
      expect(seen.sort()).toEqual(['paged-0', 'paged-1', 'paged-2', 'paged-3', 'paged-4']);
      // Hydra got its own paging parameters for this layout.
      const query = hydraCalls(app, 'GET', '/clients').at(-1)!.query;
      expect(query).toMatchObject(version === 'v2' ? { page_size: '2' } : { limit: '2', offset: '4' });
      expect((await api(app.app).get('/admin/clients?page_size=0')).status).toBe(400);
    });
  });

  describe('console', () => {
    let browser: Browser;
    beforeEach(async () => {
      browser = await signIn(app.app);
    });

    const formFor = (overrides: Record<string, string | string[]> = {}) => ({
      client_name: 'Console app',
      redirect_uris: 'https://console.example/cb\r\n\r\nhttps://console.example/cb2',
      post_logout_redirect_uris: 'https://console.example/bye',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: 'code',
      scope: 'openid  offline_access email',
      audience: 'https://api.example',
      token_endpoint_auth_method: 'client_secret_post',
      skip_consent: '1',
      metadata: '{"team": "payments"}',
      client_uri: 'https://console.example',
      logo_uri: '',
      policy_uri: 'https://console.example/privacy',
      tos_uri: '',
      other: '{"owner": "ops", "contacts": ["ops@example.com"]}',
      ...overrides,
    });

    it('lists clients in a table with filters and paging links', async () => {
      for (let i = 0; i < 3; i++) await api(app.app).post('/admin/clients', { client_name: `listed-${i}`, owner: 'table' });
      const page = await browser.get('/admin/clients?owner=table&page_size=2');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<table>');
      expect(page.text).toContain('listed-');
      expect(page.text).toContain('3 in total');
      const next = /<a href="([^"]*)" rel="next">Next<\/a>/.exec(page.text)?.[1];
      expect(next).toBeDefined();
      const second = await browser.get(next!.replaceAll('&amp;', '&'));
      expect(second.status).toBe(200);
      expect(second.text).toMatch(/rel="prev">Previous/);
      expect(second.text).not.toMatch(/rel="next"/);
      expect(fieldValue(page.text, 'owner')).toBe('table');
    });

    it('registers a client from the form and shows the secret once, with a warning', async () => {
      const form = await browser.get('/admin/clients?action=new');
      expect(form.status).toBe(200);
      for (const id of ['client_name', 'redirect_uris', 'post_logout_redirect_uris', 'response_types', 'scope', 'audience', 'token_endpoint_auth_method', 'metadata', 'logo_uri', 'policy_uri', 'tos_uri', 'client_uri', 'other']) {
        expect(form.text, id).toContain(`id="${id}"`);
      }
      expect(form.text).toContain('value="authorization_code" checked');
      expect(form.text.includes('id="skip_consent"')).toBe(version === 'v2');

      const res = await browser.submit('/admin/clients', formFor());
      expect(res.status).toBe(201);
      expect(res.text).toContain('shown only this once');
      const id = /<code id="client-id">([^<]*)<\/code>/.exec(res.text)![1]!;
      const secret = /<code class="secret" id="client-secret">([^<]*)<\/code>/.exec(res.text)![1]!;
      expect(secret).toBe(stored(id)?.client_secret);
      expect(stored(id)).toMatchObject({
        client_name: 'Console app',
        redirect_uris: ['https://console.example/cb', 'https://console.example/cb2'],
        post_logout_redirect_uris: ['https://console.example/bye'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: 'openid offline_access email',
        audience: ['https://api.example'],
        token_endpoint_auth_method: 'client_secret_post',
        metadata: { team: 'payments' },
        owner: 'ops',
        contacts: ['ops@example.com'],
        client_uri: 'https://console.example',
        policy_uri: 'https://console.example/privacy',
      });
      // v1.11 has no skip_consent and would reject it; the client leaves it out there.
      if (version === 'v2') expect(stored(id)?.skip_consent).toBe(true);
      else expect(hydraCalls(app, 'POST', '/clients').at(-1)?.body).not.toHaveProperty('skip_consent');

      // The client's page never shows the secret again.
      const detail = await browser.get(`/admin/clients/${id}`);
      expect(detail.status).toBe(200);
      expect(detail.text).not.toContain(secret);
    });

    it('keeps the input and shows an alert when the form is wrong, without calling Hydra', async () => {
      const before = app.hydra.calls.length;
      const bad = formFor({ client_name: 'Kept name', redirect_uris: 'not a uri\nhttps://ok.example/cb', other: '{"owner": "kept"}' });
      const res = await browser.submit('/admin/clients', bad);
      expect(res.status).toBe(400);
      expect(res.text).toContain('class="alert alert-error"');
      expect(res.text).toContain('redirect_uris.0: must be an absolute URI');
      expect(fieldValue(res.text, 'client_name')).toBe('Kept name');
      expect(fieldValue(res.text, 'redirect_uris')).toBe('not a uri\nhttps://ok.example/cb');
      expect(fieldValue(res.text, 'other')).toBe('{"owner": "kept"}');
      expect(res.text).toContain('value="client_secret_post" selected');

      const badJson = await browser.submit('/admin/clients', formFor({ other: '{"owner": ' }));
      expect(badJson.status).toBe(400);
      expect(badJson.text).toContain('Other fields (JSON): not valid JSON');
      const clash = await browser.submit('/admin/clients', formFor({ other: '{"client_name": "twice"}' }));
      expect(clash.status).toBe(400);
      expect(clash.text).toContain('client_name is set in the form above');
      expect(app.hydra.calls.length).toBe(before);
    });

    it("re-renders the form with Hydra's own description when Hydra refuses", async () => {
      const res = await browser.submit('/admin/clients', formFor({ other: '{"client_secret": "abc"}' }));
      expect(res.status).toBe(400);
      expect(res.text).toContain('at least 6 characters');
      expect(fieldValue(res.text, 'client_name')).toBe('Console app');
      await api(app.app).post('/admin/clients', { client_id: 'taken' });
      const conflict = await browser.submit('/admin/clients', formFor({ other: '{"client_id": "taken"}' }));
      expect(conflict.status).toBe(409);
      expect(conflict.text).toContain('exists already');
    });

    it('edits a client with the form (PUT), keeping fields the form does not show', async () => {
      const { body } = await api(app.app).post('/admin/clients', {
        client_name: 'Editable', owner: 'keep-me', redirect_uris: ['https://e.example/cb'], jwks_uri: 'https://e.example/jwks',
      });
      const id = body.client_id as string;
      const edit = await browser.get(`/admin/clients/${id}?action=edit`);
      expect(edit.status).toBe(200);
      expect(fieldValue(edit.text, 'client_name')).toBe('Editable');
      expect(fieldValue(edit.text, 'redirect_uris')).toBe('https://e.example/cb');
      const other = JSON.parse(fieldValue(edit.text, 'other')!);
      expect(other).toMatchObject({ owner: 'keep-me', jwks_uri: 'https://e.example/jwks' });
      expect(other).not.toHaveProperty('client_id');
      expect(other).not.toHaveProperty('created_at');

      const saved = await browser.submit(`/admin/clients/${id}`, {
        _method: 'PUT',
        ...formFor({ client_name: 'Edited', other: fieldValue(edit.text, 'other')! }),
      });
      expect(saved.status).toBe(303);
      expect(saved.headers.location).toBe(`/admin/clients/${id}?done=saved`);
      expect(stored(id)).toMatchObject({ client_name: 'Edited', owner: 'keep-me', jwks_uri: 'https://e.example/jwks' });
      expect(hydraCalls(app, 'PUT', `/clients/${id}`)).toHaveLength(1);
      const page = await browser.get(saved.headers.location!);
      expect(page.text).toContain('Saved.');

      const invalid = await browser.submit(`/admin/clients/${id}`, { _method: 'PUT', ...formFor({ tos_uri: 'javascript:alert(1)' }) });
      expect(invalid.status).toBe(400);
      expect(invalid.text).toContain('tos_uri: must be an absolute http(s) URL');
      expect(fieldValue(invalid.text, 'tos_uri')).toBe('javascript:alert(1)');
      expect(invalid.text).toContain('name="_method" value="PUT"');
    });

    it('round-trips the nulls a real Hydra v2.3 returns (skip_logout_consent, lifespans) through the edit form', async () => {
      // Seen from Hydra v2.3.0: unset fields come back as null, and must be accepted on the way back.
      app.hydra.state.clients.set('nully', {
        client_id: 'nully', client_name: 'Nully', redirect_uris: null, grant_types: null, response_types: null, metadata: null,
        skip_logout_consent: null as unknown as boolean, authorization_code_grant_access_token_lifespan: null, jwks: {},
      });
      const edit = await browser.get('/admin/clients/nully?action=edit');
      expect(edit.status).toBe(200);
      const other = fieldValue(edit.text, 'other')!;
      expect(JSON.parse(other)).toMatchObject({ skip_logout_consent: null, authorization_code_grant_access_token_lifespan: null });
      const saved = await browser.submit('/admin/clients/nully', { _method: 'PUT', ...formFor({ client_name: 'Nully', other }) });
      expect(saved.status).toBe(303);
      expect(hydraCalls(app, 'PUT', '/clients/nully').at(-1)?.body).toMatchObject({ authorization_code_grant_access_token_lifespan: null });
    });

    it('applies a JSON Patch from the client page, keeping the patch on error', async () => {
      const { body } = await api(app.app).post('/admin/clients', { client_name: 'Patchable' });
      const id = body.client_id as string;
      const ok = await browser.submit(`/admin/clients/${id}`, { _method: 'PATCH', patch: '[{"op":"replace","path":"/client_name","value":"Patched"}]' });
      expect(ok.status).toBe(303);
      expect(stored(id)?.client_name).toBe('Patched');
      const bad = await browser.submit(`/admin/clients/${id}`, { _method: 'PATCH', patch: '[{"op":"remove","path":"/missing/path"}]' });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain('patch path does not exist');
      expect(fieldValue(bad.text, 'patch')).toBe('[{"op":"remove","path":"/missing/path"}]');
    });

    it('deletes a client only after a confirmation page', async () => {
      const { body } = await api(app.app).post('/admin/clients', { client_name: 'Doomed' });
      const id = body.client_id as string;
      const confirm = await browser.get(`/admin/clients/${id}?action=delete`);
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('Delete client');
      expect(confirm.text).toContain('Doomed');
      expect(stored(id)).toBeDefined();
      const form = confirmForm(confirm.text);
      expect(form).toMatchObject({ action: `/admin/clients/${id}`, method: 'DELETE' });
      expect(form.fields._csrf).toBeTruthy();
      const done = await browser.agent.post(form.action).type('form').send(form.fields);
      expect(done.status).toBe(303);
      expect(done.headers.location).toBe('/admin/clients?done=deleted');
      expect(stored(id)).toBeUndefined();
      expect((await browser.get(`/admin/clients/${id}`)).status).toBe(404);
      expect((await browser.get('/admin/clients/unknown?action=delete')).status).toBe(404);
    });

    it('escapes hostile client data and links only http(s) URLs', async () => {
      const hostile: OAuth2Client = {
        client_id: 'evil"><img src=x onerror=alert(1)>',
        client_name: '<script>alert("name")</script>',
        client_uri: 'javascript:alert(document.cookie)',
        policy_uri: 'https://good.example/privacy',
        logo_uri: 'data:image/svg+xml,<svg onload=alert(1)>',
        owner: '<b>owner</b>',
        redirect_uris: ['https://x.example/cb'],
      };
      // Stored at Hydra directly, as another tool could have done: our own API would refuse the URIs.
      app.hydra.state.clients.set(hostile.client_id!, hostile);
      const list = await browser.get('/admin/clients');
      const detail = await browser.get(`/admin/clients/${encodeURIComponent(hostile.client_id!)}`);
      expect(detail.status).toBe(200);
      for (const page of [list.text, detail.text]) {
        expect(page).not.toContain('<script>alert');
        expect(page).not.toContain('<img src=x');
        expect(page).not.toContain('<b>owner</b>');
        expect(page).not.toMatch(/href="\s*javascript:/i);
        expect(page).not.toMatch(/(href|src)="data:/i);
      }
      expect(list.text).toContain('&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;');
      expect(detail.text).toContain('javascript:alert(document.cookie)'); // shown, as text
      expect(detail.text).toContain('<a href="https://good.example/privacy"');
    });
  });
});
