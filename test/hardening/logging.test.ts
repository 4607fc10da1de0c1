import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from '../../src/http/logging.js';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

/** Everything the app logs at the most verbose level, as the JSON lines an operator would ship. */
function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { logger: createLogger({ level: 'trace', destination: stream }), text: () => text };
}

describe('logs', () => {
  const log = capture();
  let t: TestApp;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    t = await buildTestApp({ deps: { logger: log.logger }, env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '1', LOG_LEVEL: 'trace' } });

    // A full login + consent, with a failed and a rate-limited attempt on another account first.
    const login = t.hydra.addLoginRequest();
    const consent = t.hydra.addConsentRequest();
    secrets.loginChallenge = login;
    secrets.consentChallenge = consent;
    secrets.password = 'foobar';
    secrets.wrongPassword = 'Wr0ng-Pa55word!';
    secrets.bearer = 'bearer-value-0123456789';

    const { agent, csrf, page } = await agentWithForm(t.app, `/login?login_challenge=${login}`);
    secrets.csrfToken = csrf;
    const csrfCookie = /hlc_csrf=([^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
    secrets.csrfCookie = csrfCookie;
    secrets.csrfCookieDecoded = decodeURIComponent(csrfCookie);

    const attempt = (email: string, password: string) =>
      agent.post('/login').type('form').send({ _csrf: csrf, challenge: login, email, password, action: 'accept' });
    expect((await attempt('victim@bar.com', secrets.wrongPassword)).status).toBe(401);
    secrets.limitedPassword = 'Gu3ss-while-l1mited';
    expect((await attempt('victim@bar.com', secrets.limitedPassword)).status).toBe(429);
    const accepted = await attempt('foo@bar.com', secrets.password);
    expect(accepted.status).toBe(302);
    secrets.loginVerifier = new URL(accepted.headers.location!).searchParams.get('login_verifier')!;

    const page2 = await agent.get(`/consent?consent_challenge=${consent}`).set('Authorization', `Bearer ${secrets.bearer}`).set('X-Request-Id', 'trace-me-123');
    expect(page2.status).toBe(200);
    expect(page2.headers['x-request-id']).toBe('trace-me-123');
    const granted = await agent.post('/consent').type('form').send({ _csrf: csrf, challenge: consent, grant_scope: ['openid', 'email'], action: 'accept' });
    expect(granted.status).toBe(302);
    secrets.consentVerifier = new URL(granted.headers.location!).searchParams.get('consent_verifier')!;
    // A session cookie, as the admin console and the demo send it.
    secrets.sessionCookie = 's%3Asession-id-value-4242.signature-value';
    await request(t.app).get('/').set('Cookie', `hlc_session=${secrets.sessionCookie}`);
    // A GET that carries secrets in its query, as the demo callback would.
    await request(t.app).get(`/error?error=x&code=auth-code-value-987&state=state-value-654&login_challenge=${login}`);
  });
  afterAll(() => t.close());

  it('are JSON lines with a request id that is also returned in X-Request-Id', async () => {
    const lines = log.text().trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    expect(lines.length).toBeGreaterThan(8);
    const access = lines.filter((line) => line.req && line.res);
    expect(access.length).toBeGreaterThan(5);
    for (const line of access) expect(line.req.id).toEqual(expect.any(String));
    expect(access.some((line) => line.req.id === 'trace-me-123')).toBe(true);
    const res = await request(t.app).get('/health/alive');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // A forged id that is not a plain token is replaced, not echoed.
    const forged = await request(t.app).get('/health/alive').set('X-Request-Id', 'bad id <script>');
    expect(forged.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('record a failed login and the rate limit, without the password or the address', () => {
    const lines = log.text().trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    const failure = lines.find((line) => line.event === 'login_failed');
    expect(failure).toMatchObject({ account: expect.any(String) });
    // One access line per refused request, carrying the cause.
    const limited = lines.filter((line) => line.res?.statusCode === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]).toMatchObject({ level: 40, err: { message: expect.stringContaining('Too many failed sign-in attempts') } });
    for (const address of ['foo@bar.com', 'victim@bar.com']) expect(log.text()).not.toContain(address);
  });

  it('never contain challenges, verifiers, codes, passwords, CSRF tokens, cookies or bearer tokens', () => {
    const text = log.text();
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThan(5);
      expect(text.includes(value), `${name} leaked into the logs`).toBe(false);
    }
    for (const value of ['auth-code-value-987', 'state-value-654']) expect(text).not.toContain(value);
    expect(text).toContain('[redacted]');
  });
});

describe('redactUrl', () => {
  it('replaces the values of secret parameters and keeps every other byte of the URL', () => {
    expect(redactUrl('/login')).toBe('/login');
    expect(redactUrl('/login?login_challenge=abc')).toBe('/login?login_challenge=[redacted]');
    expect(redactUrl('/cb?code=c1&state=s1&scope=openid%20email&code=c2')).toBe('/cb?code=[redacted]&state=[redacted]&scope=openid%20email&code=[redacted]');
    expect(redactUrl('/x?a=1&&b&consent_verifier=v&client_secret=s')).toBe('/x?a=1&&b&consent_verifier=[redacted]&client_secret=[redacted]');
    expect(redactUrl('/x?error=access_denied&error_hint=h')).toBe('/x?error=access_denied&error_hint=[redacted]');
    expect(redactUrl('/language?lang=de&return_to=%2Fconsent%3Fconsent_challenge%3Dabc')).toBe('/language?lang=de&return_to=[redacted]');
    expect(redactUrl(undefined)).toBe('');
  });

  it('compares keys decoded, so an encoded key hides nothing, and gives up on a key it cannot decode', () => {
    expect(redactUrl('/login?login%5Fchallenge=abc')).toBe('/login?login%5Fchallenge=[redacted]');
    expect(redactUrl('/login?%6C%6F%67%69%6E_challenge=abc&x=1')).toBe('/login?%6C%6F%67%69%6E_challenge=[redacted]&x=1');
    expect(redactUrl('/login?bad%E0%A4%A=abc&login_challenge=secret')).toBe('/login?[unparsable]');
  });
});
