// The second step of a sign-in through createApp with the real SQL store (a temporary SQLite
// file) and the fake Hydra: TOTP codes are computed here from the secret, as an app would.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMfa, type Mfa } from '../../src/mfa/service.js';
import { totpCode } from '../../src/mfa/totp.js';
import type { Account } from '../../src/users/accounts.js';
import { openAccountStore, type SqlAccountStore } from '../../src/users/sql/store.js';
import { agentWithForm, buildTestApp, formFields, type TestApp } from '../support/test-app.js';

const PASSWORD = 'correct horse battery staple';
const by = { actor: 'test' };
const ACR1 = 'urn:hlc:acr:1fa';
const ACR2 = 'urn:hlc:acr:2fa';

interface Env {
  t: TestApp;
  store: SqlAccountStore;
  file: string;
  dir: string;
}

async function setUp(env: Record<string, string> = {}): Promise<Env> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hlc-mfa-'));
  const file = path.join(dir, 'accounts.db');
  const store = await openAccountStore({ dialect: 'sqlite', file });
  const t = await buildTestApp({
    env: { LOGIN_RATE_LIMIT_PER_IP: '1000', LOGIN_RATE_LIMIT_PER_ACCOUNT: '5', ...env },
    deps: { users: store, accounts: store, factors: store.factors },
  });
  return { t, store, file, dir };
}

async function tearDown(e: Env) {
  await e.t.close();
  await e.store.close();
  await rm(e.dir, { recursive: true, force: true });
}

/**
 * Enrols TOTP for `account` as /account does. `mfa` runs 30 s behind, so the confirming code is the
 * previous step's and the current one is still unused for the sign-in that follows.
 */
async function enrolTotp(mfa: Mfa, account: Account): Promise<string> {
  const enrolment = await mfa.beginTotp(account.id, account.email);
  expect(await mfa.confirmTotp(account.id, enrolment.sealed, totpCode(enrolment.secret, Date.now() - 30_000), 'Phone', by)).toBe(true);
  return enrolment.secret;
}

/** GET /login, POST the password: the agent, the response, and the challenge. */
async function password(t: TestApp, email: string, overrides: Parameters<TestApp['hydra']['addLoginRequest']>[0] = {}) {
  const challenge = t.hydra.addLoginRequest(overrides);
  const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
  const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email, password: PASSWORD, action: 'accept' });
  return { agent, res, challenge };
}

/** The hidden fields of a rendered step, as the form posts them. */
function form(html: string) {
  const { csrf, challenge } = formFields(html);
  return { _csrf: csrf, challenge };
}

describe('second factor at sign-in', () => {
  let e: Env;
  let mfa: Mfa;
  beforeAll(async () => {
    e = await setUp();
    mfa = createMfa(e.t.deps.config, e.store.factors, () => Date.now() - 30_000);
  });
  afterAll(() => tearDown(e));

  it('accepts a password-only account at once with acr one-factor and amr pwd', async () => {
    await e.store.create({ email: 'plain@example.com', password: PASSWORD }, by);
    const { res, challenge } = await password(e.t, 'plain@example.com');
    expect(res.status).toBe(302);
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { amr: ['pwd'], acr: ACR1 } });
  });

  it('asks for a TOTP code after the password, accepts it once with amr pwd+otp+mfa, and refuses it reused', async () => {
    const account = await e.store.create({ email: 'totp@example.com', password: PASSWORD }, by);
    const secret = await enrolTotp(mfa, account);
    const before = e.t.hydra.accepted.login.length;
    const { agent, res, challenge } = await password(e.t, 'totp@example.com');
    expect(res.status).toBe(200);
    expect(res.text).toContain('Two-step verification');
    expect(String(res.headers['set-cookie'])).toMatch(/hlc_login_mfa=[^;]+; Max-Age=600; Path=\/login; Expires=[^;]+; HttpOnly; SameSite=Lax/);
    expect(e.t.hydra.accepted.login.length).toBe(before);

    const code = totpCode(secret);
    const ok = await agent.post('/login/factor').type('form').send({ ...form(res.text), code });
    expect(ok.status).toBe(302);
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { subject: account.subject, amr: ['pwd', 'otp', 'mfa'], acr: ACR2, context: { second_factor: 'totp' } } });

    // The same code on a new sign-in: refused (each code once), and audited.
    const second = await password(e.t, 'totp@example.com');
    const reused = await second.agent.post('/login/factor').type('form').send({ ...form(second.res.text), code });
    expect(reused.status).toBe(401);
    expect(reused.text).toContain('already used');
    const trail = (await e.store.auditTrail(account.id)).items.map((event) => `${event.action}:${event.detail}`);
    expect(trail).toContain('factor.failed:totp:reused-code');
    expect(trail).toContain('factor.used:totp');
    expect(trail).toContain('factor.added:totp');
  });

  it('keeps the TOTP secret encrypted at rest', async () => {
    const account = await e.store.create({ email: 'sealed@example.com', password: PASSWORD }, by);
    const secret = await enrolTotp(mfa, account);
    const db = new BetterSqlite3(e.file, { readonly: true });
    const row = db.prepare('select secret from factors where user_id = ?').get(account.id) as { secret: string };
    db.close();
    expect(row.secret).toMatch(/^v1\./);
    expect(row.secret).not.toContain(secret);
  });

  it('takes a recovery code once', async () => {
    const account = await e.store.create({ email: 'recovery@example.com', password: PASSWORD }, by);
    await enrolTotp(mfa, account);
    const codes = await mfa.regenerateRecoveryCodes(account.id, by);
    expect(codes).toHaveLength(10);
    const first = await password(e.t, 'recovery@example.com');
    const ok = await first.agent.post('/login/factor').type('form').send({ ...form(first.res.text), code: codes[3]!.toLowerCase() });
    expect(ok.status).toBe(302);
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge: first.challenge, body: { amr: ['pwd', 'otp', 'mfa'], acr: ACR2, context: { second_factor: 'recovery-code' } } });
    expect(await e.store.factors.recoveryCodesLeft(account.id)).toBe(9);
    const again = await password(e.t, 'recovery@example.com');
    const refused = await again.agent.post('/login/factor').type('form').send({ ...form(again.res.text), code: codes[3] });
    expect(refused.status).toBe(401);
  });

  it('refuses the second step posted without the password step, and a state made for another challenge (audited)', async () => {
    const account = await e.store.create({ email: 'bound@example.com', password: PASSWORD }, by);
    const secret = await enrolTotp(mfa, account);
    // Straight to the second step: a CSRF token from the login page, but no password step.
    const other = e.t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(e.t.app, `/login?login_challenge=${other}`);
    const direct = await agent.post('/login/factor').type('form').send({ _csrf: csrf, challenge: other, code: totpCode(secret) });
    expect(direct.status).toBe(403);

    // A valid password step for one challenge, its state replayed against another.
    const { agent: a2, res } = await password(e.t, 'bound@example.com');
    const { csrf: csrf2 } = formFields(res.text);
    const foreign = e.t.hydra.addLoginRequest();
    const before = e.t.hydra.accepted.login.length;
    const wrong = await a2.post('/login/factor').type('form').send({ _csrf: csrf2, challenge: foreign, code: totpCode(secret) });
    expect(wrong.status).toBe(403);
    expect(e.t.hydra.accepted.login.length).toBe(before);
    const trail = (await e.store.auditTrail(account.id)).items.map((event) => `${event.action}:${event.detail}`);
    expect(trail).toContain('factor.refused:other-challenge');
  });

  it('limits wrong codes per account like passwords', async () => {
    const account = await e.store.create({ email: 'guess@example.com', password: PASSWORD }, by);
    await enrolTotp(mfa, account);
    const { agent, res } = await password(e.t, 'guess@example.com');
    const fields = form(res.text);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const attempt = await agent.post('/login/factor').type('form').send({ ...fields, code: String(100000 + i) });
      statuses.push(attempt.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('rejects with unmet_authentication_requirements when acr_values ask for two factors and the person has none', async () => {
    await e.store.create({ email: 'single@example.com', password: PASSWORD }, by);
    const { res, challenge } = await password(e.t, 'single@example.com', { oidc_context: { acr_values: [ACR2] } });
    expect(res.status).toBe(302);
    expect(e.t.hydra.rejected.login.at(-1)).toMatchObject({ challenge, body: { error: 'unmet_authentication_requirements' } });
  });

  it('refuses a phishing-resistant acr request from a person with an authenticator app but no passkey, even after the code', async () => {
    const account = await e.store.create({ email: 'nopasskey@example.com', password: PASSWORD }, by);
    await enrolTotp(mfa, account);
    const { res, challenge } = await password(e.t, 'nopasskey@example.com', { oidc_context: { acr_values: ['urn:hlc:acr:phr'] } });
    expect(res.status).toBe(302);
    expect(e.t.hydra.rejected.login.at(-1)).toMatchObject({ challenge, body: { error: 'unmet_authentication_requirements' } });
    expect((await e.store.auditTrail(account.id)).items.map((event) => `${event.action}:${event.detail}`)).toContain('factor.refused:no-passkey-for-acr');
  });

  it('steps up a remembered one-factor session (skip) when a client asks for two factors', async () => {
    const account = await e.store.create({ email: 'stepup@example.com', password: PASSWORD }, by);
    const sessionId = 'hydra-login-session-1';
    // A one-factor sign-in: its level is kept by Hydra's session_id.
    const first = await password(e.t, 'stepup@example.com', { session_id: sessionId });
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge: first.challenge, body: { acr: ACR1 } });
    expect(await e.store.factors.loginLevel(sessionId)).toEqual({ subject: account.subject, level: 1, amr: ['pwd'] });

    // Skip, no acr asked... then the person adds a factor, and a client asks for two.
    const secret = await enrolTotp(mfa, account);
    const challenge = e.t.hydra.addLoginRequest({ skip: true, subject: account.subject, session_id: sessionId, oidc_context: { acr_values: [ACR2] } });
    const agent = request.agent(e.t.app);
    const page = await agent.get(`/login?login_challenge=${challenge}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Two-step verification');
    const ok = await agent.post('/login/factor').type('form').send({ ...form(page.text), code: totpCode(secret) });
    expect(ok.status).toBe(302);
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { subject: account.subject, amr: ['pwd', 'otp', 'mfa'], acr: ACR2 } });
    expect(await e.store.factors.loginLevel(sessionId)).toMatchObject({ level: 2 });

    // The session now has two factors: the next skip is accepted at once at that level.
    const later = e.t.hydra.addLoginRequest({ skip: true, subject: account.subject, session_id: sessionId, oidc_context: { acr_values: [ACR2] } });
    const skip = await request(e.t.app).get(`/login?login_challenge=${later}`);
    expect(skip.status).toBe(302);
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge: later, body: { acr: ACR2, amr: ['pwd', 'otp', 'mfa'] } });
  });
});

describe('MFA=required: enrolment at sign-in', () => {
  let e: Env;
  beforeAll(async () => {
    e = await setUp({ MFA: 'required' });
  });
  afterAll(() => tearDown(e));

  it('takes a person without a factor through TOTP enrolment, shows ten recovery codes once, then accepts with two factors', async () => {
    const account = await e.store.create({ email: 'new@example.com', password: PASSWORD }, by);
    const { agent, res, challenge } = await password(e.t, 'new@example.com');
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toMatch(/img-src [^;]*data:/);
    expect(res.text).toMatch(/<img id="totp-qr" src="data:image\/svg\+xml;base64,/);
    const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(res.text)![1]!.replace(/ /g, '');
    const wrong = await agent.post('/login/enrol').type('form').send({ ...form(res.text), code: '000000' === totpCode(secret) ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    const confirmed = await agent.post('/login/enrol').type('form').send({ ...form(wrong.text), code: totpCode(secret) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.text.match(/<li><code>[A-Z2-9]{5}-[A-Z2-9]{5}<\/code><\/li>/g)).toHaveLength(10);
    const done = await agent.post('/login/enrol/continue').type('form').send(form(confirmed.text));
    expect(done.status).toBe(302);
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { amr: ['pwd', 'otp', 'mfa'], acr: ACR2 } });
    expect((await e.store.factors.list(account.id)).map((f) => f.kind)).toEqual(['totp']);
  });

  it('does not let the continue step be posted before enrolment', async () => {
    await e.store.create({ email: 'skipper@example.com', password: PASSWORD }, by);
    const { agent, res } = await password(e.t, 'skipper@example.com');
    const early = await agent.post('/login/enrol/continue').type('form').send(form(res.text));
    expect(early.status).toBe(403);
  });
});

describe('MFA=off', () => {
  let e: Env;
  beforeAll(async () => {
    e = await setUp({ MFA: 'off' });
  });
  afterAll(() => tearDown(e));

  it('never asks for a factor and refuses a two-factor acr request', async () => {
    await e.store.create({ email: 'off@example.com', password: PASSWORD }, by);
    const plain = await password(e.t, 'off@example.com');
    expect(e.t.hydra.accepted.login.at(-1)).toMatchObject({ challenge: plain.challenge, body: { acr: ACR1, amr: ['pwd'] } });
    const asked = await password(e.t, 'off@example.com', { oidc_context: { acr_values: [ACR2] } });
    expect(e.t.hydra.rejected.login.at(-1)).toMatchObject({ challenge: asked.challenge, body: { error: 'unmet_authentication_requirements' } });
    const { agent, csrf } = await agentWithForm(e.t.app, `/login?login_challenge=${e.t.hydra.addLoginRequest()}`);
    expect((await agent.post('/login/factor').type('form').send({ _csrf: csrf })).status).toBe(404);
  });
});

describe('passkey plumbing (the ceremonies themselves run in test/e2e/passkeys.test.ts)', () => {
  let e: Env;
  beforeAll(async () => {
    e = await setUp();
  });
  afterAll(() => tearDown(e));

  it("gives the login page script-src 'self' and connect-src 'self' (for the passkey script) and no inline script; other pages none", async () => {
    const challenge = e.t.hydra.addLoginRequest();
    const page = await request(e.t.app).get(`/login?login_challenge=${challenge}`);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/connect-src 'self'(;|$)/);
    expect(page.text).toContain('autocomplete="username webauthn"');
    expect(page.text).toContain('id="passkey-signin"');
    // Every <script> has a src on this origin: nothing inline.
    expect(page.text.match(/<script[^>]*>/g)).toEqual(['<script src="/assets/vendor/simplewebauthn-browser.js">', '<script src="/assets/passkeys.js">']);
    const home = await request(e.t.app).get('/');
    expect(String(home.headers['content-security-policy'])).not.toMatch(/script-src/);
    const bundle = await request(e.t.app).get('/assets/vendor/simplewebauthn-browser.js');
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-type']).toMatch(/javascript/);
    expect(bundle.text).toContain('SimpleWebAuthnBrowser');
  });

  it('hands out discoverable-credential options bound to the challenge, and refuses an assertion without them (audited)', async () => {
    const challenge = e.t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(e.t.app, `/login?login_challenge=${challenge}`);
    const options = await agent.post('/login/passkey/options').type('form').set('Accept', 'application/json').send({ _csrf: csrf, challenge });
    expect(options.status).toBe(200);
    expect(options.body).toMatchObject({ rpId: 'localhost', userVerification: 'required', allowCredentials: [] });
    expect(String(options.headers['set-cookie'])).toMatch(/hlc_login_wa=[^;]+; Max-Age=600; Path=\/login; .*HttpOnly; SameSite=Strict/);

    const fresh = e.t.hydra.addLoginRequest();
    const other = await agentWithForm(e.t.app, `/login?login_challenge=${fresh}`);
    const refused = await other.agent
      .post('/login/passkey')
      .type('form')
      .set('Accept', 'application/json')
      .send({ _csrf: other.csrf, challenge: fresh, credential: JSON.stringify({ id: 'x', response: {} }) });
    expect(refused.status).toBe(403);
    expect(e.t.hydra.accepted.login).toHaveLength(0);
  });
});
