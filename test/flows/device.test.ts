import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isDeviceRequestUrl, normaliseUserCode } from '../../src/flows/device.js';
import { skipsConsent } from '../../src/flows/consent.js';
import { redactUrl } from '../../src/http/logging.js';
import type { ConsentRequest, OAuth2Client } from '../../src/hydra/types.js';
import { agentWithForm, buildTestApp, formFields, type TestApp } from '../support/test-app.js';

/**
 * The device verification screen (Hydra v25.4+ urls.device.verification / urls.device.success)
 * against the fake Hydra, which serves the device accept as the v26.2.0 spec and Hydra's handler
 * describe it (no real Hydra with the device grant can be built here).
 */

const PUBLIC = 'http://hydra.test';
const VERIFY_URL = /^http:\/\/hydra\.test\/oauth2\/device\/verify\?client_id=tv-app&device_verifier=[0-9a-f]{32}$/;

async function deviceForm(t: TestApp, query = '') {
  const challenge = t.hydra.addDeviceChallenge();
  const form = await agentWithForm(t.app, `/device?device_challenge=${encodeURIComponent(challenge)}${query}`);
  const submit = (userCode: string | undefined, csrf = form.csrf) =>
    form.agent.post('/device').type('form').send({ _csrf: csrf, challenge, ...(userCode === undefined ? {} : { user_code: userCode }), action: 'accept' });
  return { ...form, challenge, submit };
}

describe('device verification: /device and /device/success', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { HYDRA_PUBLIC_URL: PUBLIC } });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    t.hydra.calls.length = 0;
  });

  it('answers 400 without calling Hydra when the device_challenge is missing, empty or repeated', async () => {
    for (const path of ['/device', '/device?device_challenge=', '/device?device_challenge=a&device_challenge=b']) {
      const res = await request(t.app).get(path);
      expect(res.status, path).toBe(400);
      expect(res.text).toContain('needs a device_challenge');
    }
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('renders the code form, pre-filled from ?user_code=, with CSRF and no-store, and submits nothing by itself', async () => {
    const { page } = await deviceForm(t, '&user_code=abCD-3467');
    expect(page.text).toContain('Sign in on a device');
    expect(page.text).toContain('id="user_code" name="user_code" value="abCD-3467"');
    expect(page.text).toContain('name="_csrf"');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(String(page.headers['set-cookie'])).toMatch(/hlc_csrf=[\w-]{24}; Path=\/; HttpOnly; SameSite=Lax/);
    // The POST ends at Hydra's verify endpoint: its origin may be a form target.
    expect(page.headers['content-security-policy']).toMatch(/form-action 'self' http:\/\/hydra\.test/);
    // A complete verification URI is only a pre-fill (RFC 8628 §5.4): Hydra is not called.
    expect(t.hydra.calls).toHaveLength(0);
    expect(t.hydra.accepted.device).toHaveLength(0);
  });

  it('accepts the code with spaces and dashes dropped, case kept, and follows Hydra to /oauth2/device/verify', async () => {
    const code = t.hydra.addUserCode({ userCode: 'abcdEFG3' });
    const { submit, challenge } = await deviceForm(t);
    const res = await submit(' abcd-EFG 3 ');
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(VERIFY_URL);
    const call = t.hydra.calls.at(-1)!;
    expect(call).toMatchObject({ method: 'PUT', path: '/admin/oauth2/auth/requests/device/accept', query: { device_challenge: challenge } });
    expect(call.body).toEqual({ user_code: code });
  });

  it('re-renders the page with the input kept and a clear message for a wrong code (Hydra compares case exactly)', async () => {
    t.hydra.addUserCode({ userCode: 'abcdEFG4' });
    const { submit, csrf } = await deviceForm(t);
    const res = await submit('ABCDEFG4');
    expect(res.status).toBe(400);
    expect(res.text).toContain('role="alert"');
    expect(res.text).toContain('That code is not valid. Check it against the one on your device');
    expect(res.text).toContain('value="ABCDEFG4"');
    // A fresh token, and the same challenge to try again with.
    const again = formFields(res.text);
    expect(again.csrf).not.toBe(csrf);
    expect(t.hydra.accepted.device.some((r) => r.body.user_code === 'ABCDEFG4')).toBe(false);
    // The right code on that very page still works.
    expect((await submit('abcdEFG4', again.csrf)).status).toBe(302);
  });

  it('treats a used or expired code as wrong, as Hydra answers both with the same 400', async () => {
    const used = t.hydra.addUserCode();
    t.hydra.useUserCode(used);
    const expired = t.hydra.addUserCode();
    t.hydra.expireUserCode(expired);
    for (const code of [used, expired]) {
      const { submit } = await deviceForm(t);
      const res = await submit(code);
      expect(res.status, code).toBe(400);
      expect(res.text).toContain('If it has expired, start again on the device to get a new one.');
    }
  });

  it('asks for a code without calling Hydra when none was typed', async () => {
    const { submit } = await deviceForm(t);
    for (const typed of ['', ' - - ', undefined]) {
      const res = await submit(typed);
      expect(res.status).toBe(400);
      expect(res.text).toContain('Enter the code your device shows.');
    }
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('shows a page for an expired device sign-in (Hydra 401) and for an unknown one (404)', async () => {
    const { agent, csrf, challenge } = await deviceForm(t);
    t.hydra.expire(challenge);
    const expired = await agent.post('/device').type('form').send({ _csrf: csrf, challenge, user_code: t.hydra.addUserCode() });
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('This device sign-in has expired');
    expect(expired.text).toContain('Start again on your device');

    const unknown = await agent.post('/device').type('form').send({ _csrf: csrf, challenge: 'not-a-challenge', user_code: t.hydra.addUserCode() });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('This device sign-in was not found');

    const json = await agent.post('/device').set('Accept', 'application/json').type('form').send({ _csrf: csrf, challenge, user_code: 'x' });
    expect(json.status).toBe(410);
    expect(json.body).toEqual({ error: 'expired', error_description: expect.stringContaining('Start again on your device') });
  });

  it('refuses a POST without a valid CSRF token, before Hydra is called', async () => {
    const { submit } = await deviceForm(t);
    const res = await submit(t.hydra.addUserCode(), 'forged');
    expect(res.status).toBe(403);
    const bare = await request(t.app).post('/device').type('form').send({ challenge: 'c', user_code: 'x' });
    expect(bare.status).toBe(403);
    expect(t.hydra.calls).toHaveLength(0);
  });

  it('renders /device/success without echoing the client_id Hydra appends', async () => {
    const res = await request(t.app).get('/device/success?client_id=%3Cb%3EFree%20money%3C%2Fb%3E');
    expect(res.status).toBe(200);
    expect(res.text).toContain('Your device is signed in');
    expect(res.text).not.toContain('Free money');
    expect(t.hydra.calls).toHaveLength(0);
  });
});

describe('device verification: configuration and limits', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('without HYDRA_PUBLIC_URL moves on through a page, as form-action cannot name Hydra', async () => {
    t = await buildTestApp();
    const code = t.hydra.addUserCode();
    const { submit } = await deviceForm(t);
    const res = await submit(code);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/id="continue"/);
    expect(res.text).toMatch(/http:\/\/hydra\.test\/oauth2\/device\/verify\?client_id=tv-app&amp;device_verifier=/);
  });

  it('upper-cases the code with DEVICE_USER_CODE_UPPERCASE (Hydra\'s medium preset)', async () => {
    t = await buildTestApp({ env: { HYDRA_PUBLIC_URL: PUBLIC, DEVICE_USER_CODE_UPPERCASE: 'true' } });
    t.hydra.addUserCode({ userCode: 'BCDFGHJK' });
    const { submit } = await deviceForm(t);
    const res = await submit('bcdf-ghjk');
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.device.at(-1)!.body).toEqual({ user_code: 'BCDFGHJK' });
  });

  it('limits wrong codes per IP: accepted codes do not count, and past the limit even a right code is a 429', async () => {
    t = await buildTestApp({ env: { HYDRA_PUBLIC_URL: PUBLIC, LOGIN_RATE_LIMIT_PER_IP: '2', LOGIN_RATE_LIMIT_WINDOW: '60' } });
    const { submit } = await deviceForm(t);
    expect((await submit(t.hydra.addUserCode())).status).toBe(302);
    expect((await submit('wrong-1')).status).toBe(400);
    expect((await submit('')).status).toBe(400); // nothing typed: no guess, not counted
    expect((await submit('wrong-2')).status).toBe(400);
    const limited = await submit(t.hydra.addUserCode());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(t.hydra.accepted.device).toHaveLength(1);
    // The login limits are counters of their own.
    const login = t.hydra.addLoginRequest();
    expect((await request(t.app).get(`/login?login_challenge=${login}`)).status).toBe(200);
  });

  it('answers 501 on the v1 layout, which has no device grant, without calling Hydra', async () => {
    t = await buildTestApp({ hydra: { apiVersion: 'v1' } });
    const res = await request(t.app).get('/device?device_challenge=abc');
    expect(res.status).toBe(501);
    expect(res.text).toContain('Hydra v25.4 or later');
    expect(t.hydra.calls).toHaveLength(0);
  });
});

describe('consent in a device sign-in', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  const tv: OAuth2Client = { client_id: 'tv-app', client_name: 'TV App', token_endpoint_auth_method: 'none', redirect_uris: [] };
  const deviceUrl = `${PUBLIC}/oauth2/device/verify?client_id=tv-app`;

  it('says it is a device sign-in and shows the client', async () => {
    const challenge = t.hydra.addConsentRequest({ request_url: deviceUrl, client: tv });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('id="device-sign-in"');
    expect(res.text).toContain('You are signing in to <strong>TV App</strong> on another device');
    expect(res.text).toContain('<code>tv-app</code>');
    expect(res.text).not.toContain('An application requests access to your data!');
    // The usual consent page for a browser flow.
    const browser = await request(t.app).get(`/consent?consent_challenge=${t.hydra.addConsentRequest()}`);
    expect(browser.text).toContain('An application requests access to your data!');
    expect(browser.text).not.toContain('device-sign-in');
  });

  it('never skips consent on the skip_consent hint for a public device client', async () => {
    const challenge = t.hydra.addConsentRequest({ request_url: deviceUrl, client: { ...tv, skip_consent: true } });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('id="device-sign-in"');
    expect(t.hydra.accepted.consent.some((r) => r.challenge === challenge)).toBe(false);
  });

  it('still honours what Hydra says: skip=true is accepted with no screen', async () => {
    const challenge = t.hydra.addConsentRequest({ request_url: deviceUrl, client: tv, skip: true });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.consent.at(-1)?.challenge).toBe(challenge);
  });

  it('skips on the hint for a confidential device client and for a public browser client, as before', () => {
    const base = { challenge: 'c', skip: false, requested_scope: ['openid'] } satisfies ConsentRequest;
    const confidential = { ...tv, token_endpoint_auth_method: 'client_secret_basic', skip_consent: true };
    expect(skipsConsent({ ...base, request_url: deviceUrl, client: confidential })).toBe(true);
    expect(skipsConsent({ ...base, request_url: `${PUBLIC}/oauth2/auth?client_id=tv-app`, client: { ...tv, skip_consent: true } })).toBe(true);
    expect(skipsConsent({ ...base, request_url: deviceUrl, client: { ...tv, skip_consent: true } })).toBe(false);
    expect(skipsConsent({ ...base, request_url: deviceUrl, client: tv }, 'tv-app')).toBe(false);
    expect(skipsConsent({ ...base, request_url: deviceUrl, client: tv, skip: true })).toBe(true);
  });
});

describe('device helpers', () => {
  it('normalises user codes only as far as Hydra\'s codes allow', () => {
    expect(normaliseUserCode(' abCD-3467 ')).toBe('abCD3467');
    expect(normaliseUserCode('ab cd\t34 67')).toBe('abcd3467');
    expect(normaliseUserCode('ＡＢ–cd')).toBe('ABcd'); // full-width letters, an en dash
    expect(normaliseUserCode('abcd-efgh', true)).toBe('ABCDEFGH');
  });

  it('recognises a device flow by Hydra\'s verify endpoint in request_url', () => {
    expect(isDeviceRequestUrl('http://hydra.test/oauth2/device/verify?client_id=tv')).toBe(true);
    expect(isDeviceRequestUrl('https://auth.example.com/hydra/oauth2/device/verify?client_id=tv')).toBe(true);
    expect(isDeviceRequestUrl('/oauth2/device/verify?client_id=tv')).toBe(true);
    expect(isDeviceRequestUrl('http://hydra.test/oauth2/auth?client_id=tv&redirect_uri=/oauth2/device/verify')).toBe(false);
    expect(isDeviceRequestUrl(undefined)).toBe(false);
    expect(isDeviceRequestUrl('')).toBe(false);
  });

  it('keeps user codes and device challenges out of access logs', () => {
    expect(redactUrl('/device?device_challenge=abc&user_code=SECRET12')).toBe('/device?device_challenge=[redacted]&user_code=[redacted]');
  });
});
