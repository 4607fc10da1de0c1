// What comes from Hydra and from whoever registered a client, on its way into a page: redirect
// URIs into the CSP's form-action (origins only), and long texts cut to a page's worth.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HydraError } from '../../src/hydra/errors.js';
import { describeError } from '../../src/http/errors.js';
import { clip, MAX_SHOWN_TEXT } from '../../src/http/text.js';
import { cspSourceFor } from '../../src/http/urls.js';
import { buildTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/test-app.js';

function directives(csp: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

const HOSTILE_REDIRECTS = [
  'https://rp.example;sandbox',
  'https://rp.example/cb;script-src *',
  'https://rp.example%3Bscript-src%20*/cb',
  'https://*.evil.example/cb',
  'https://a.example,script-src/cb',
  "https://a.example'unsafe-inline'/cb",
  'com.example.app:/cb;sandbox allow-scripts',
  'https://ok.example:8443/cb?x=1;y',
];

describe('CSP form-action: a redirect URI contributes its origin, and only when it is one', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ hydra: { publicUrl: 'https://auth.example.org' } });
  });
  afterAll(() => t.close());

  it('cspSourceFor keeps the origin of a well-formed URL and drops anything that would inject a directive or a wildcard', () => {
    expect(cspSourceFor('https://rp.example/cb;script-src *')).toBe('https://rp.example');
    expect(cspSourceFor('HTTPS://RP.Example:443/cb')).toBe('https://rp.example');
    expect(cspSourceFor('http://[::1]:8080/cb')).toBe('http://[::1]:8080');
    expect(cspSourceFor('https://bücher.example/cb')).toBe('https://xn--bcher-kva.example');
    expect(cspSourceFor('com.example.app:/cb;sandbox allow-scripts')).toBe('com.example.app:');
    for (const bad of ['https://rp.example;sandbox', 'https://rp.example%3Bscript-src%20*/cb', 'https://*.evil.example/cb', 'https://a.example,script-src/cb', "https://a.example'unsafe-inline'/cb", 'javascript:alert(1)']) {
      expect(cspSourceFor(bad), bad).toBeUndefined();
    }
  });

  it('login, consent and logout pages: form-action names exactly the safe origins, and no other directive appears', async () => {
    const client = { client_id: 'hostile', client_name: 'Hostile', redirect_uris: HOSTILE_REDIRECTS, post_logout_redirect_uris: HOSTILE_REDIRECTS };
    const pages = [
      `/login?login_challenge=${t.hydra.addLoginRequest({ client })}`,
      `/consent?consent_challenge=${t.hydra.addConsentRequest({ client })}`,
      `/logout?logout_challenge=${t.hydra.addLogoutRequest({ client })}`,
    ];
    for (const page of pages) {
      const res = await request(t.app).get(page);
      expect(res.status, page).toBe(200);
      const csp = res.headers['content-security-policy'] as string;
      const d = directives(csp);
      expect(d.get('form-action'), page).toEqual(expect.arrayContaining(["'self'", 'https://rp.example', 'com.example.app:', 'https://ok.example:8443']));
      expect(d.get('form-action')!.every((source) => /^('self'|https?:\/\/[a-z0-9.:[\]-]+|[a-z][a-z0-9+.-]*:)$/.test(source)), `${page}: ${csp}`).toBe(true);
      expect([...d.keys()].sort(), page).toEqual(['base-uri', 'default-src', 'form-action', 'frame-ancestors', 'img-src', 'style-src']);
      expect(csp).not.toMatch(/sandbox|script-src|unsafe-inline|\*|,/);
    }
  });
});

describe('long text from Hydra is cut when shown', () => {
  const huge = 'x'.repeat(2 * 1024 * 1024);

  it('clip: at most MAX_SHOWN_TEXT characters and an ellipsis, never half a surrogate pair', () => {
    expect(MAX_SHOWN_TEXT).toBe(2000);
    expect(clip('short')).toBe('short');
    expect(clip('x'.repeat(2000))).toBe('x'.repeat(2000));
    expect(clip(huge)).toBe(`${'x'.repeat(2000)}…`);
    expect(clip(`${'x'.repeat(1998)}😀`)).toBe(`${'x'.repeat(1998)}😀`);
    expect(clip(`${'x'.repeat(1999)}😀tail`)).toBe(`${'x'.repeat(1999)}…`);
  });

  it("describeError: Hydra's 2 MB error_description becomes 2,000 characters, and a 2 MB error code becomes the usual code", () => {
    const view = describeError(new HydraError('getOAuth2Client', 400, 'invalid_request', huge), false);
    expect(view.message).toHaveLength(2001);
    expect(describeError(new HydraError('getOAuth2Client', 400, huge, ''), false)).toMatchObject({ code: 'invalid_request' });
    expect(describeError(new HydraError('getOAuth2Client', 400, huge, ''), false).message).toHaveLength(2001);
  });

  describe('against a Hydra that answers with a 2 MB description', () => {
    let server: Server;
    let t: TestApp;
    let description: string;
    beforeAll(async () => {
      server = createServer((_req, res) => {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request', error_description: description }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t = await buildTestApp({ env: { HYDRA_ADMIN_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
    });
    afterAll(async () => {
      await t.close();
      await new Promise((resolve) => server.close(resolve));
    });

    it('gives a small page on the flows and a small error in the admin API, whether Hydra says 2 MB or 900 kB', async () => {
      for (const size of [2 * 1024 * 1024, 900 * 1024]) {
        description = `Hydra says: ${'y'.repeat(size)}`;
        const page = await request(t.app).get('/consent?consent_challenge=abc');
        // 400 with Hydra's words cut, or 502 where a Hydra answer this big is refused outright.
        expect([400, 502]).toContain(page.status);
        expect(page.text.length, String(size)).toBeLessThan(12_000);
        if (page.status === 400) expect(page.text).toContain(`Hydra says: ${'y'.repeat(100)}`);
        const api = await request(t.app).get('/admin/clients/abc').set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`);
        expect([400, 502]).toContain(api.status);
        expect(JSON.stringify(api.body).length).toBeLessThan(2200);
      }
      // A 900 kB answer is not too big for any cap: it must have been cut, not refused.
      const page = await request(t.app).get('/consent?consent_challenge=abc');
      expect(page.status).toBe(400);
      expect(page.text).toContain('y…');
    });
  });

  it("the /error page: Hydra's error_description and hint are cut to 2,000 characters", async () => {
    const t = await buildTestApp();
    try {
      const res = await request(t.app).get(`/error?error=invalid_request&error_description=${'d'.repeat(5000)}&error_hint=${'h'.repeat(5000)}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain(`${'d'.repeat(2000)}…`);
      expect(res.text).not.toContain('d'.repeat(2001));
      expect(res.text).toContain(`${'h'.repeat(2000)}…`);
      expect(res.text).not.toContain('h'.repeat(2001));
    } finally {
      await t.close();
    }
  });

  it("a client's 500 kB name is shown cut on the consent page", async () => {
    const t = await buildTestApp();
    try {
      const challenge = t.hydra.addConsentRequest({ client: { client_id: 'long', client_name: 'N'.repeat(500 * 1024) }, requested_access_token_audience: ['a'.repeat(100_000)] });
      const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
      expect(res.status).toBe(200);
      expect(res.text.length).toBeLessThan(20_000);
      expect(res.text).toContain(`${'N'.repeat(2000)}…`);
    } finally {
      await t.close();
    }
  });
});
