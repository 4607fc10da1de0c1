// What the operator sees when Hydra is down, slow or failing: 502/504 with a clear message, as
// JSON for the API and as a page for the console. Hydra's own 4xx mapping is in each resource test.
import { afterEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app.js';
import { adminApp, api, signIn } from './helpers.js';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('when Hydra is not well', () => {
  it('answers 502 when Hydra cannot be reached', async () => {
    app = await adminApp();
    const browser = await signIn(app.app);
    await app.hydra.close();
    const json = await api(app.app).get('/admin/clients');
    expect(json.status).toBe(502);
    expect(json.body).toEqual({ error: 'bad_gateway', error_description: expect.stringContaining('could not be reached') });
    const html = await browser.get('/admin/clients');
    expect(html.status).toBe(502);
    expect(html.text).toContain('could not be reached');
  });

  it('answers 502 when Hydra fails with a 5xx, and does not re-render forms for it', async () => {
    app = await adminApp('v1');
    const browser = await signIn(app.app);
    app.hydra.setFault('error500');
    expect((await api(app.app).post('/admin/clients', { client_name: 'x' })).status).toBe(502);
    const form = await browser.submit('/admin/clients', { client_name: 'x', other: '{}' });
    expect(form.status).toBe(502);
    expect(form.text).not.toContain('id="client_name"');
  });

  it('answers 504 when Hydra does not answer in time', async () => {
    app = await adminApp('v2', { HYDRA_TIMEOUT_MS: '200' });
    app.hydra.setFault('hang');
    const res = await api(app.app).get('/admin/keys/any');
    expect(res.status).toBe(504);
    expect(res.body.error).toBe('gateway_timeout');
  });

  it('answers 404 JSON for unknown admin API paths and 404 pages in the console', async () => {
    app = await adminApp();
    expect((await api(app.app).get('/admin/nothing')).status).toBe(404);
    const browser = await signIn(app.app);
    const page = await browser.get('/admin/nothing');
    expect(page.status).toBe(404);
    expect(page.text).toContain('Page not found');
  });
});
