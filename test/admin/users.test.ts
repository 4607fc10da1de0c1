// Users through /admin, JSON and HTML: the real SQL account store on a temporary SQLite file and
// the fake Hydra (a real HTTP server), both through createApp. Disabling and deleting revoke the
// subject's sessions at Hydra (asserted on what the fake recorded), and a disabled user is turned
// away at POST /login exactly like a wrong password.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConsentSession } from '../../src/hydra/types.js';
import { openAccountStore, type SqlAccountStore } from '../../src/users/sql/store.js';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';
import { adminApp, api, confirmForm, decodeEntities, fieldValue, hydraCalls, links, signIn, TEST_ADMIN_TOKEN, type Browser } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const BASE_URL = 'http://login.example.test';
const LINK = new RegExp(`^${BASE_URL.replace(/\./g, '\\.')}/account/set-password\\?token=([A-Za-z0-9_-]{43})$`);
const WRONG = 'The email address or password is incorrect.';

let dir: string;
let store: SqlAccountStore;
let t: TestApp;
let seq = 0;
/** A fresh address per call: the store is shared by every test of the file. */
const email = (name = 'user') => `${name}-${++seq}@users.example`;

function consent(subject: string, clientId: string): ConsentSession {
  return {
    grant_scope: ['openid'],
    remember: true,
    remember_for: 3600,
    handled_at: '2030-01-02T03:04:05Z',
    consent_request: { challenge: `c-${clientId}-${seq}`, subject, client: { client_id: clientId } },
  };
}

/** A sign-in through the real login flow: POST /login with the page's CSRF token. */
async function signInAsUser(address: string, password: string) {
  const challenge = t.hydra.addLoginRequest();
  const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
  return agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: address, password });
}

const revocations = (subject: string) => ({
  consent: hydraCalls(t, 'DELETE', '/oauth2/auth/sessions/consent').filter((call) => call.query.subject === subject).map((call) => call.query),
  login: t.hydra.state.loginSessionsRevoked.filter((s) => s === subject),
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hlc-admin-users-'));
  store = await openAccountStore({ dialect: 'sqlite', file: join(dir, 'accounts.db') });
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  t = await buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, BASE_URL }, users: store, deps: { accounts: store } });
});
afterEach(async () => {
  await t.close();
});

describe('users JSON API', () => {
  it('creates a user with a password (201, id, Location), reads it, and the user signs in', async () => {
    const address = email('alice');
    const created = await api(t.app).post('/admin/users', { email: address, password: PASSWORD, name: 'Alice Example', given_name: 'Alice', email_verified: true });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email: address, name: 'Alice Example', given_name: 'Alice', email_verified: true, disabled: false, has_password: true });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body).not.toHaveProperty('set_password_url');
    expect(created.body).not.toHaveProperty('password');
    expect(created.body).not.toHaveProperty('password_hash');
    expect(created.headers.location).toBe(`/admin/users/${created.body.id}`);

    const fetched = await api(t.app).get(`/admin/users/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(created.body);

    const login = await signInAsUser(address, PASSWORD);
    expect(login.status).toBe(302);
    expect(t.hydra.accepted.login.at(-1)?.body.subject).toBe(created.body.subject);
  });

  it('creates a user without a password: a one-time set-password link, once; a new link voids the old one', async () => {
    const created = await api(t.app).post('/admin/users', { email: email('link'), name: 'Link User' });
    expect(created.status).toBe(201);
    expect(created.body.has_password).toBe(false);
    const first = LINK.exec(created.body.set_password_url)?.[1];
    expect(first).toBeDefined();
    expect(Date.parse(created.body.set_password_expires_at)).toBeGreaterThan(Date.now() + 24 * 3600 * 1000);
    expect((await store.peekToken(first!, 'set-password'))?.id).toBe(created.body.id);
    // The link is not part of the user: reading it again does not show it.
    expect((await api(t.app).get(`/admin/users/${created.body.id}`)).body).not.toHaveProperty('set_password_url');

    const reset = await api(t.app).post(`/admin/users/${created.body.id}/set-password-link`);
    expect(reset.status).toBe(201);
    expect(Object.keys(reset.body).sort()).toEqual(['expires_at', 'url']);
    const second = LINK.exec(reset.body.url)?.[1];
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(await store.peekToken(first!, 'set-password')).toBeUndefined();
    expect((await store.peekToken(second!, 'set-password'))?.id).toBe(created.body.id);

    const short = await api(t.app).post(`/admin/users/${created.body.id}/set-password-link`, { expires_in: 3600 });
    expect(short.status).toBe(201);
    expect(Math.abs(Date.parse(short.body.expires_at) - Date.now() - 3600_000)).toBeLessThan(60_000);
    expect((await api(t.app).post(`/admin/users/${created.body.id}/set-password-link`, { expires_in: 5 })).status).toBe(400);
  });

  it('refuses bad input with 400 and Hydra-style errors, creating nothing', async () => {
    const address = email('bad');
    const common = await api(t.app).post('/admin/users', { email: address, password: 'password1' });
    expect(common.status).toBe(400);
    expect(common.body).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/too common/) });
    const short = await api(t.app).post('/admin/users', { email: address, password: 'abc' });
    expect(short.status).toBe(400);
    expect(short.body.error_description).toMatch(/at least 8 characters/);
    const cases: Array<[object, RegExp]> = [
      [{ email: 'not-an-address', password: PASSWORD }, /not an email address/],
      [{ password: PASSWORD }, /email/],
      [{ email: address, name: 42 }, /name: must be a string/],
      [{ email: address, is_admin: true }, /is_admin/],
      [{ email: address, website: 'javascript:alert(1)' }, /http\(s\) URL/],
      [{ email: address, birthdate: 'yesterday' }, /YYYY-MM-DD/],
    ];
    for (const [body, message] of cases) {
      const res = await api(t.app).post('/admin/users', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error_description).toMatch(message);
    }
    expect((await api(t.app).post('/admin/users', [1, 2])).status).toBe(400);
    expect((await api(t.app).post('/admin/users', 'email=x').set('Content-Type', 'text/plain')).status).toBe(415);
    expect(await store.getByEmail(address)).toBeUndefined();
  });

  it('answers 409 for an email address that differs only in case or Unicode form', async () => {
    const tag = ++seq;
    const created = await api(t.app).post('/admin/users', { email: `José.${tag}@Example.com`, password: PASSWORD });
    expect(created.status).toBe(201);
    for (const variant of [`josé.${tag}@example.com`, `jose\u0301.${tag}@EXAMPLE.com`, `ｊｏｓé.${tag}@example.com`, ` JOSÉ.${tag}@example.com `]) {
      const duplicate = await api(t.app).post('/admin/users', { email: variant, password: PASSWORD });
      expect(duplicate.status, variant).toBe(409);
      expect(duplicate.body).toEqual({ error: 'conflict', error_description: 'An account with this email address already exists.' });
    }
    const other = await api(t.app).post('/admin/users', { email: email('other') });
    const moved = await api(t.app).patch(`/admin/users/${other.body.id}`, { email: `JOSE\u0301.${tag}@example.com` });
    expect(moved.status).toBe(409);
  });

  it('answers 404 for an unknown id on every route', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const res of [
      await api(t.app).get(`/admin/users/${id}`),
      await api(t.app).get('/admin/users/not-a-uuid'),
      await api(t.app).patch(`/admin/users/${id}`, { name: 'x' }),
      await api(t.app).delete(`/admin/users/${id}`),
      await api(t.app).get(`/admin/users/${id}/audit`),
      await api(t.app).post(`/admin/users/${id}/set-password-link`),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: 'not_found', error_description: 'There is no user with this id.' });
    }
    expect(t.hydra.calls.filter((call) => call.path.includes('/sessions/'))).toHaveLength(0);
  });

  it('searches by email or name, case-insensitively, and pages with a Link header', async () => {
    const tag = `srch${++seq}x`;
    for (const name of ['a', 'b', 'c', 'd']) await api(t.app).post('/admin/users', { email: `${name}.${tag}@users.example` });
    await api(t.app).post('/admin/users', { email: email('byname'), name: `Zed ${tag.toUpperCase()} Person` });
    await api(t.app).post('/admin/users', { email: email('unrelated') });

    const all = await api(t.app).get(`/admin/users?search=${tag.toUpperCase()}`);
    expect(all.status).toBe(200);
    expect(all.body).toHaveLength(5);
    expect(all.body.map((u: { email: string }) => u.email)).toContain(`a.${tag}@users.example`);
    expect(all.body.some((u: { name?: string }) => u.name === `Zed ${tag.toUpperCase()} Person`)).toBe(true);

    const seen: string[] = [];
    let next: string | undefined = `/admin/users?search=${tag}&page_size=2`;
    const sizes: number[] = [];
    while (next) {
      const page = await api(t.app).get(next);
      expect(page.status).toBe(200);
      sizes.push(page.body.length);
      seen.push(...page.body.map((u: { email: string }) => u.email));
      const rel = links(page.headers.link);
      if (sizes.length > 1) expect(rel.first).toBe(`/admin/users?search=${tag}&page_size=2`);
      next = rel.next;
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(new Set(seen).size).toBe(5);
    expect([...seen].sort()).toEqual(seen); // ordered by address

    expect((await api(t.app).get('/admin/users?page_size=500')).status).toBe(400);
    expect((await api(t.app).get(`/admin/users?search=${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('edits profile claims with PATCH: set, remove with null, validated; the password is not patchable', async () => {
    const created = await api(t.app).post('/admin/users', { email: email('edit'), name: 'Before', nickname: 'b' });
    const id = created.body.id as string;
    const patched = await api(t.app).patch(`/admin/users/${id}`, { name: 'After', website: 'https://after.example/', nickname: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'After', website: 'https://after.example/' });
    expect(patched.body).not.toHaveProperty('nickname');
    expect((await store.get(id))?.profile).toMatchObject({ name: 'After', website: 'https://after.example/' });

    const badUrl = await api(t.app).patch(`/admin/users/${id}`, { picture: 'data:image/png;base64,AAAA' });
    expect(badUrl.status).toBe(400);
    const password = await api(t.app).patch(`/admin/users/${id}`, { password: PASSWORD });
    expect(password.status).toBe(400);
    expect(password.body.error_description).toMatch(/set-password-link/);
    expect((await api(t.app).patch(`/admin/users/${id}`, { disabled: 'yes' })).status).toBe(400);
  });

  it('revokes the consent sessions, then the login sessions: never both at once (Hydra on SQLite refuses the race)', async () => {
    const created = await api(t.app).post('/admin/users', { email: email('seq'), password: PASSWORD });
    const { id, subject } = created.body as { id: string; subject: string };
    t.hydra.setLatency(40);
    expect((await api(t.app).patch(`/admin/users/${id}`, { disabled: true })).status).toBe(200);
    const revoking = t.hydra.calls.filter((call) => call.method === 'DELETE' && call.query.subject === subject);
    expect(revoking.map((call) => call.path)).toEqual(['/admin/oauth2/auth/sessions/consent', '/admin/oauth2/auth/sessions/login']);
    expect(revoking.map((call) => call.concurrent)).toEqual([0, 0]);
  });

  it('disables with PATCH {"disabled": true}: Hydra revokes consent and login sessions; sign-in fails like a wrong password', async () => {
    const address = email('dis');
    const created = await api(t.app).post('/admin/users', { email: address, password: PASSWORD });
    const { id, subject } = created.body as { id: string; subject: string };
    t.hydra.addConsentSession(subject, consent(subject, 'app-1'));
    t.hydra.addConsentSession(subject, consent(subject, 'app-2'));
    expect((await signInAsUser(address, PASSWORD)).status).toBe(302);

    const disabled = await api(t.app).patch(`/admin/users/${id}`, { disabled: true });
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabled).toBe(true);
    expect(revocations(subject).consent).toEqual([{ subject, all: 'true' }]);
    expect(revocations(subject).login).toEqual([subject]);
    expect(t.hydra.state.consentSessions.has(subject)).toBe(false);

    const asDisabled = await signInAsUser(address, PASSWORD);
    const asWrong = await signInAsUser(address, 'not the password at all');
    expect(asDisabled.status).toBe(401);
    expect(asWrong.status).toBe(401);
    expect(asDisabled.text).toContain(WRONG);
    expect(asWrong.text).toContain(WRONG);

    const audit = await api(t.app).get(`/admin/users/${id}/audit`);
    const actions = audit.body.map((e: { action: string; detail: string | null }) => `${e.action}${e.detail ? `:${e.detail}` : ''}`);
    expect(actions.slice(0, 4)).toEqual(['login.failed:wrong-password', 'login.failed:disabled', 'sessions.revoked:disabled', 'account.disabled']);

    // Enabling restores sign-in and does not call Hydra.
    const callsBefore = t.hydra.calls.length;
    const enabled = await api(t.app).patch(`/admin/users/${id}`, { disabled: false });
    expect(enabled.body.disabled).toBe(false);
    expect(t.hydra.calls.length).toBe(callsBefore);
    expect((await signInAsUser(address, PASSWORD)).status).toBe(302);
  });

  it('when Hydra fails to revoke, the disable stands and the answer is a 502 naming it; repeating the PATCH retries', async () => {
    const created = await api(t.app).post('/admin/users', { email: email('fail'), password: PASSWORD });
    const { id, subject } = created.body as { id: string; subject: string };
    t.hydra.setFault('error500');
    const res = await api(t.app).patch(`/admin/users/${id}`, { disabled: true });
    t.hydra.setFault('none');
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('bad_gateway');
    expect(res.body.error_description).toMatch(/^The user was disabled, but Hydra could not revoke their consent sessions and login sessions: /);
    expect(res.body.error_description).toContain(subject);
    expect((await store.get(id))?.disabled).toBe(true);
    expect((await store.auditTrail(id)).items[0]).toMatchObject({ action: 'sessions.revoke_failed', actor: 'admin' });

    const retry = await api(t.app).patch(`/admin/users/${id}`, { disabled: true });
    expect(retry.status).toBe(200);
    expect(revocations(subject).login).toEqual([subject]);
    expect((await store.auditTrail(id)).items.map((e) => e.action).filter((a) => a === 'account.disabled')).toHaveLength(1);
  });

  it('deletes (204): sessions revoked at Hydra, gone afterwards, its subject never reused, its audit trail kept', async () => {
    const address = email('del');
    const created = await api(t.app).post('/admin/users', { email: address, password: PASSWORD });
    const { id, subject } = created.body as { id: string; subject: string };
    t.hydra.addConsentSession(subject, consent(subject, 'app-1'));
    const deleted = await api(t.app).delete(`/admin/users/${id}`);
    expect(deleted.status).toBe(204);
    expect(revocations(subject)).toEqual({ consent: [{ subject, all: 'true' }], login: [subject] });
    expect((await api(t.app).get(`/admin/users/${id}`)).status).toBe(404);
    expect((await signInAsUser(address, PASSWORD)).text).toContain(WRONG);
    expect((await api(t.app).post('/admin/users', { email: address, subject })).status).toBe(409);
    const trail = (await store.auditTrail(id)).items.map((e) => e.action);
    expect(trail.slice(0, 2)).toEqual(['sessions.revoked', 'account.deleted']);
  });

  it("lists a user's audit events, newest first, with actor admin and the request IP, paged", async () => {
    const created = await api(t.app).post('/admin/users', { email: email('audit'), name: 'Audit' });
    const id = created.body.id as string;
    for (const name of ['One', 'Two', 'Three']) await api(t.app).patch(`/admin/users/${id}`, { name });
    const all = await api(t.app).get(`/admin/users/${id}/audit`);
    expect(all.status).toBe(200);
    // account.created, token.created (the link), 3 × account.updated
    expect(all.body.map((e: { action: string }) => e.action)).toEqual(['account.updated', 'account.updated', 'account.updated', 'token.created', 'account.created']);
    for (const event of all.body) {
      expect(event).toMatchObject({ actor: 'admin', user_id: id, ip: expect.stringContaining('127.0.0.1') });
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);
      expect(JSON.stringify(event)).not.toContain('@users.example');
    }
    const first = await api(t.app).get(`/admin/users/${id}/audit?page_size=2`);
    expect(first.body).toHaveLength(2);
    const next = links(first.headers.link).next!;
    const second = await api(t.app).get(next);
    expect(second.body.map((e: { id: number }) => e.id)).toEqual(all.body.slice(2, 4).map((e: { id: number }) => e.id));
  });
});

describe('users console', () => {
  let browser: Browser;
  beforeEach(async () => {
    browser = await signIn(t.app);
  });

  /** Creates through the API; the console tests start from there. */
  async function existing(overrides: object = {}): Promise<{ id: string; subject: string; email: string }> {
    const res = await api(t.app).post('/admin/users', { email: email('console'), password: PASSWORD, ...overrides });
    expect(res.status).toBe(201);
    return res.body;
  }

  it('has a Users section in the nav, lists and searches users, with everything escaped', async () => {
    const tag = `cons${++seq}q`;
    const user = await existing({ email: `${tag}@users.example`, name: '<script>alert(1)</script>' });
    const page = await browser.get(`/admin/users?search=${tag}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<a href="/admin/users" aria-current="page">Users</a>');
    expect(page.text).toContain(`href="/admin/users/${user.id}"`);
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toContain('<script>');
    expect(fieldValue(page.text, 'search')).toBe(tag);
    const none = await browser.get('/admin/users?search=nobody-matches-this');
    expect(none.text).toContain('No users match this search.');

    const detail = await browser.get(`/admin/users/${user.id}`);
    expect(detail.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(detail.text).not.toContain('<script>');
  });

  it('pages the list with Next links', async () => {
    const tag = `cpage${++seq}q`;
    for (const name of ['a', 'b', 'c']) await existing({ email: `${name}.${tag}@users.example`, password: undefined });
    const first = await browser.get(`/admin/users?search=${tag}&page_size=2`);
    expect(first.text).toContain(`a.${tag}@users.example`);
    expect(first.text).not.toContain(`c.${tag}@users.example`);
    const next = decodeEntities(/<a href="([^"]*)" rel="next">/.exec(first.text)![1]!);
    const second = await browser.get(next);
    expect(second.text).toContain(`c.${tag}@users.example`);
    expect(second.text).toContain('rel="first"');
  });

  it('creates a user with a one-time link, shown once as a URL under BASE_URL', async () => {
    const form = await browser.get('/admin/users?action=new');
    expect(form.status).toBe(200);
    expect(form.text).toContain('name="_csrf"');
    const address = email('clink');
    const created = await browser.submit('/admin/users', { email: address, name: 'Console Link', credential: 'link', password: '' });
    expect(created.status).toBe(201);
    const url = decodeEntities(/<code class="secret" id="set-password-url">([^<]*)<\/code>/.exec(created.text)![1]!);
    const token = LINK.exec(url)?.[1];
    expect(token).toBeDefined();
    const account = await store.getByEmail(address);
    expect(account).toMatchObject({ has_password: false, profile: { name: 'Console Link' } });
    expect((await store.peekToken(token!, 'set-password'))?.id).toBe(account!.id);
    // The user page does not show it again.
    expect((await browser.get(`/admin/users/${account!.id}`)).text).not.toContain(token!);
  });

  it('creates a user with a password; the user page shows the audit events', async () => {
    const address = email('cpw');
    const created = await browser.submit('/admin/users', { email: address, name: 'Console Pw', credential: 'password', password: PASSWORD });
    expect(created.status).toBe(303);
    const account = await store.getByEmail(address);
    expect(created.headers.location).toBe(`/admin/users/${account!.id}?done=created`);
    const page = await browser.get(created.headers.location!);
    expect(page.text).toContain('Created.');
    expect(page.text).toMatch(/Account created <code>account\.created<\/code><\/td>\s*<td>admin<\/td>\s*<td>[^<]*127\.0\.0\.1<\/td>/);
    expect((await signInAsUser(address, PASSWORD)).status).toBe(302);
  });

  it('re-renders the form with the input kept (never the password) on a common password, a duplicate or bad input', async () => {
    const address = email('cdup');
    const common = await browser.submit('/admin/users', { email: address, name: 'Kept Name', credential: 'password', password: 'password1' });
    expect(common.status).toBe(400);
    expect(common.text).toContain('too common');
    expect(fieldValue(common.text, 'email')).toBe(address);
    expect(fieldValue(common.text, 'name')).toBe('Kept Name');
    expect(common.text).toMatch(/id="credential_password" name="credential" value="password" checked/);
    expect(common.text).not.toContain('password1');
    expect(await store.getByEmail(address)).toBeUndefined();

    await existing({ email: address });
    const duplicate = await browser.submit('/admin/users', { email: address.toUpperCase(), given_name: 'Dup', credential: 'link' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.text).toContain('An account with this email address already exists.');
    expect(fieldValue(duplicate.text, 'email')).toBe(address.toUpperCase());
    expect(fieldValue(duplicate.text, 'given_name')).toBe('Dup');

    const bad = await browser.submit('/admin/users', { email: email('cbad'), birthdate: 'soon', credential: 'link' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('birthdate must be YYYY-MM-DD or YYYY.');
    expect(fieldValue(bad.text, 'birthdate')).toBe('soon');
    const noEmail = await browser.submit('/admin/users', { email: '', credential: 'link' });
    expect(noEmail.status).toBe(400);
    expect(noEmail.text).toContain('email: is required');
  });

  it('refuses a form without the CSRF token', async () => {
    const address = email('csrf');
    const res = await browser.agent.post('/admin/users').type('form').send({ email: address, credential: 'link' });
    expect(res.status).toBe(403);
    expect(await store.getByEmail(address)).toBeUndefined();
  });

  it('edits the profile claims; bad input re-renders the form with it', async () => {
    const user = await existing({ name: 'Old Name' });
    const form = await browser.get(`/admin/users/${user.id}?action=edit`);
    expect(fieldValue(form.text, 'name')).toBe('Old Name');
    expect(fieldValue(form.text, 'email')).toBe(user.email);
    const saved = await browser.submit(`/admin/users/${user.id}`, { _method: 'PATCH', email: user.email, name: 'New Name', locale: 'en-GB' });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe(`/admin/users/${user.id}?done=saved`);
    expect((await store.get(user.id))?.profile).toMatchObject({ name: 'New Name', locale: 'en-GB' });

    const bad = await browser.submit(`/admin/users/${user.id}`, { _method: 'PATCH', email: user.email, name: 'Newer', website: 'javascript:alert(1)' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('website must be an http(s) URL.');
    expect(fieldValue(bad.text, 'name')).toBe('Newer');
    expect((await store.get(user.id))?.profile.name).toBe('New Name');
  });

  it('disables after a confirmation (revoking at Hydra), then enables', async () => {
    const user = await existing();
    const confirm = await browser.get(`/admin/users/${user.id}?action=disable`);
    expect(confirm.status).toBe(200);
    const form = confirmForm(confirm.text);
    expect(form.fields).toMatchObject({ _method: 'PATCH', disabled: 'true' });
    const done = await browser.submit(form.action, form.fields);
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(`/admin/users/${user.id}?done=disabled`);
    expect(revocations(user.subject)).toEqual({ consent: [{ subject: user.subject, all: 'true' }], login: [user.subject] });
    const page = await browser.get(done.headers.location!);
    expect(page.text).toContain('id="disabled-notice"');
    expect(page.text).toContain('id="enable"');
    expect((await signInAsUser(user.email, PASSWORD)).text).toContain(WRONG);

    const enabled = await browser.submit(`/admin/users/${user.id}`, { _method: 'PATCH', disabled: 'false' });
    expect(enabled.headers.location).toBe(`/admin/users/${user.id}?done=enabled`);
    expect((await store.get(user.id))?.disabled).toBe(false);
  });

  it('shows a 502 page naming the failed revocation, with the ways to finish it', async () => {
    const user = await existing();
    t.hydra.setFault('error500');
    const res = await browser.submit(`/admin/users/${user.id}`, { _method: 'PATCH', disabled: 'true' });
    t.hydra.setFault('none');
    expect(res.status).toBe(502);
    expect(res.text).toContain('The user was disabled, but revoking their sessions failed');
    expect(res.text).toContain('Hydra could not revoke their consent sessions and login sessions');
    expect(decodeEntities(res.text)).toContain(`/admin/sessions/login?subject=${encodeURIComponent(user.subject)}&action=delete`);
    expect((await store.get(user.id))?.disabled).toBe(true);
  });

  it('resets a password by issuing a one-time link, after a confirmation', async () => {
    const user = await existing();
    const confirm = await browser.get(`/admin/users/${user.id}?action=reset`);
    const form = confirmForm(confirm.text);
    expect(form.action).toBe(`/admin/users/${user.id}/set-password-link`);
    const issued = await browser.submit(form.action, form.fields);
    expect(issued.status).toBe(201);
    const url = decodeEntities(/id="set-password-url">([^<]*)</.exec(issued.text)![1]!);
    expect((await store.peekToken(LINK.exec(url)![1]!, 'set-password'))?.id).toBe(user.id);
  });

  it('deletes after a confirmation, revoking at Hydra', async () => {
    const user = await existing();
    const confirm = await browser.get(`/admin/users/${user.id}?action=delete`);
    expect(confirm.text).toContain('This cannot be undone.');
    const form = confirmForm(confirm.text);
    expect(form.method).toBe('DELETE');
    const done = await browser.submit(form.action, form.fields);
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/admin/users?done=deleted');
    expect(await store.get(user.id)).toBeUndefined();
    expect(revocations(user.subject).login).toEqual([user.subject]);
    expect((await browser.get(`/admin/users/${user.id}`)).status).toBe(404);
  });
});

describe('without an account store', () => {
  it('answers 501: a fork with only a UserStore has no users to administer', async () => {
    const app = await adminApp();
    try {
      const res = await api(app.app).get('/admin/users');
      expect(res.status).toBe(501);
      expect(res.body.error).toBe('not_implemented');
      expect((await request(app.app).get('/admin/users')).status).toBe(303); // the console asks to sign in first
    } finally {
      await app.close();
    }
  });
});
