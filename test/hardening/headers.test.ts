import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../support/test-app.js';

function directives(csp: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

describe('security headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ hydra: { publicUrl: 'https://auth.example.org:8443' } });
  });
  afterAll(() => t.close());

  it('puts a strict CSP on every kind of page: no script, no inline style, no framing, no plugins, no <base>', async () => {
    const challenge = t.hydra.addLoginRequest();
    const pages = [`/login?login_challenge=${challenge}`, '/', '/no-such-page', '/error?error=x', '/health/alive', '/login'];
    for (const path of pages) {
      const res = await request(t.app).get(path);
      const csp = res.headers['content-security-policy'];
      expect(csp, path).toBeDefined();
      expect(csp, path).not.toContain('unsafe-inline');
      expect(csp, path).not.toContain('unsafe-eval');
      const d = directives(csp);
      // default-src 'none' is also the policy for script-src, object-src, connect-src, font-src…
      expect(d.get('default-src'), path).toEqual(["'none'"]);
      expect(d.has('script-src'), path).toBe(false);
      expect(d.has('object-src'), path).toBe(false);
      expect(d.get('style-src'), path).toEqual(["'self'"]);
      expect(d.get('img-src'), path).toEqual(["'self'", 'https:', 'http:']);
      expect(d.get('frame-ancestors'), path).toEqual(["'none'"]);
      expect(d.get('base-uri'), path).toEqual(["'none'"]);
      expect(res.headers['x-frame-options'], path).toBe('DENY');
      expect(res.headers['referrer-policy'], path).toBe('no-referrer');
      expect(res.headers['x-content-type-options'], path).toBe('nosniff');
      expect(res.headers['x-powered-by'], path).toBeUndefined();
      // http BASE_URL (the default): no HSTS, which browsers ignore over http anyway.
      expect(res.headers['strict-transport-security'], path).toBeUndefined();
    }
  });

  it("widens form-action on a flow page to exactly Hydra's public origin and the client's redirect origins", async () => {
    const challenge = t.hydra.addLoginRequest({
      client: {
        client_id: 'c1',
        client_name: 'App',
        redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/other', 'http://localhost:8080/cb'],
      },
    });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(200);
    const formAction = directives(res.headers['content-security-policy']).get('form-action');
    expect(formAction).toEqual(["'self'", 'https://auth.example.org:8443', 'https://app.example.com', 'http://localhost:8080']);

    // Pages without a form keep the default.
    const home = await request(t.app).get('/');
    expect(directives(home.headers['content-security-policy']).get('form-action')).toEqual(["'self'"]);
  });

  it('widens form-action on the consent page too', async () => {
    const challenge = t.hydra.addConsentRequest();
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(200);
    const formAction = directives(res.headers['content-security-policy']).get('form-action');
    expect(formAction).toEqual(["'self'", 'https://auth.example.org:8443', 'http://127.0.0.1:3000']);
  });

  it("widens form-action on the logout page with HYDRA_PUBLIC_URL, as Hydra v2 sends that request_url as a path", async () => {
    const app = await buildTestApp({ env: { HYDRA_PUBLIC_URL: 'https://auth.example.org:8443/' } });
    try {
      const challenge = app.hydra.addLogoutRequest({
        request_url: '/oauth2/sessions/logout?post_logout_redirect_uri=x',
        rp_initiated: true,
        client: { client_id: 'c1', post_logout_redirect_uris: ['https://app.example.com/bye'] },
      });
      const res = await request(app.app).get(`/logout?logout_challenge=${challenge}`);
      expect(res.status).toBe(200);
      const formAction = directives(res.headers['content-security-policy']).get('form-action');
      expect(formAction).toEqual(["'self'", 'https://auth.example.org:8443', 'https://app.example.com']);
    } finally {
      await app.close();
    }
  });

  it('sends HSTS only when BASE_URL is https', async () => {
    const https = await buildTestApp({ env: { BASE_URL: 'https://login.example.com' } });
    try {
      const res = await request(https.app).get('/');
      expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d{7,}/);
      expect(directives(res.headers['content-security-policy']).has('upgrade-insecure-requests')).toBe(true);
    } finally {
      await https.close();
    }
  });
});
