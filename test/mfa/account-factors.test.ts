// /account/factors (enrolment, recovery codes, removal) and the console's view of them, on the
// real SQL store; signing in to /account goes through the fake OpenID provider of test/account.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMfa } from '../../src/mfa/service.js';
import { totpCode } from '../../src/mfa/totp.js';
import type { Account } from '../../src/users/accounts.js';
import { accountApp, csrfOf, PASSWORD, signIn, test as by, type AccountApp, type Agent } from '../account/support.js';
import { signIn as adminSignIn } from '../admin/helpers.js';
import { TEST_ADMIN_TOKEN } from '../support/test-app.js';

const bearer = { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

describe('/account/factors and the console', () => {
  let t: AccountApp;
  let account: Account;
  let agent: Agent;
  let secret: string;
  beforeAll(async () => {
    t = await accountApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN }, factors: true });
    account = await t.store.create({ email: 'person@example.com', password: PASSWORD }, by);
    ({ agent } = await signIn(t, account.subject));
  });
  afterAll(() => t.close());

  it('links the page from the account nav', async () => {
    const page = await agent.get('/account');
    expect(page.text).toContain('href="/account/factors"');
    const list = await agent.get('/account/factors');
    expect(list.status).toBe(200);
    expect(list.text).toContain('id="no-factors"');
  });

  it('shows a new key as an SVG QR code and as text, and adds it only once a code from it is confirmed', async () => {
    const page = await agent.get('/account/factors/totp');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/img-src [^;]*data:/);
    expect(page.headers['content-security-policy']).not.toMatch(/script-src/);
    expect(page.text).not.toMatch(/<script/);
    const qr = /<img id="totp-qr" src="data:image\/svg\+xml;base64,([^"]+)"/.exec(page.text)![1]!;
    expect(Buffer.from(qr, 'base64').toString('utf8')).toMatch(/^<svg/);
    secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(page.text)![1]!.replace(/ /g, '');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;

    const wrong = await agent.post('/account/factors/totp').type('form').send({ _csrf: csrf, code: totpCode(secret, Date.now() - 10 * 60_000), label: 'Phone' });
    expect(wrong.status).toBe(400);
    expect(await t.store.factors.list(account.id)).toEqual([]);

    const ok = await agent.post('/account/factors/totp').type('form').send({ _csrf: csrf, code: totpCode(secret), label: 'Phone' });
    expect(ok.status).toBe(200);
    // The first factor comes with ten recovery codes, shown this once.
    expect(ok.text.match(/<li><code>[A-Z2-9]{5}-[A-Z2-9]{5}<\/code><\/li>/g)).toHaveLength(10);
    expect((await t.store.factors.list(account.id)).map((f) => [f.kind, f.label])).toEqual([['totp', 'Phone']]);
    expect(await t.store.factors.recoveryCodesLeft(account.id)).toBe(10);
  });

  it('makes new recovery codes on demand, and the old ones stop working', async () => {
    const csrf = await csrfOf(agent, '/account/factors');
    const first = await agent.post('/account/factors/recovery-codes').type('form').send({ _csrf: csrf });
    // Anchored to the list markup: a bare pattern also matches inside a random CSRF token now and then.
    const shownCodes = (html: string) => [...html.matchAll(/<li><code>([A-Z2-9]{5}-[A-Z2-9]{5})<\/code><\/li>/g)].map((m) => m[1]!);
    const codes1 = shownCodes(first.text);
    expect(codes1).toHaveLength(10);
    const second = await agent.post('/account/factors/recovery-codes').type('form').send({ _csrf: await csrfOf(agent, '/account/factors') });
    const codes2 = shownCodes(second.text);
    expect(codes2).toHaveLength(10);
    expect(codes2.some((c) => codes1.includes(c))).toBe(false);
    const trail = (await t.store.auditTrail(account.id)).items.map((e) => e.action);
    expect(trail.filter((a) => a === 'recovery_codes.generated').length).toBeGreaterThanOrEqual(3);
  });

  it('lists the factors on the console user page (and in the API), where an operator removes them, audited', async () => {
    const console = await adminSignIn(t.app);
    const page = await console.get(`/admin/users/${account.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('id="factors-heading"');
    expect(page.text).toContain('Phone');
    expect(page.text).toMatch(/id="recovery-codes-left">10</);
    const api = await request(t.app).get(`/admin/users/${account.id}/factors`).set(bearer);
    expect(api.status).toBe(200);
    expect(api.body).toMatchObject({ factors: [{ kind: 'totp', label: 'Phone' }], recovery_codes_left: 10 });
    const factorId = api.body.factors[0].id as string;
    const removed = await request(t.app).delete(`/admin/users/${account.id}/factors/${factorId}`).set(bearer);
    expect(removed.status).toBe(204);
    expect(await t.store.factors.list(account.id)).toEqual([]);
    // The last factor takes the recovery codes with it.
    expect(await t.store.factors.recoveryCodesLeft(account.id)).toBe(0);
    const trail = (await t.store.auditTrail(account.id)).items;
    expect(trail.find((e) => e.action === 'factor.removed')).toMatchObject({ actor: 'admin', detail: 'totp' });

    // Through the console form as well: a new factor, removed with the page's button.
    await t.store.factors.addTotp(account.id, { label: 'Tablet', sealedSecret: 'v1.x.y.z', step: 0 }, by);
    const again = await console.get(`/admin/users/${account.id}`);
    const action = /<form method="post" action="([^"]+\/factors\/[^"]+)">/.exec(again.text)![1]!;
    const gone = await console.submit(action, { _method: 'DELETE' });
    expect(gone.status).toBe(303);
    expect(await t.store.factors.list(account.id)).toEqual([]);
  });
});

describe('/account/factors on a sign-in that is not recent (ACCOUNT_REAUTH_AFTER)', () => {
  let t: AccountApp;
  let account: Account;
  beforeAll(async () => {
    t = await accountApp({ env: { ACCOUNT_REAUTH_AFTER: '600' }, factors: true });
    account = await t.store.create({ email: 'stale@example.com', password: PASSWORD }, by);
  });
  afterAll(() => t.close());

  it('changes nothing on a remembered sign-in of an hour ago: Hydra is asked to sign the person in again first', async () => {
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    const { agent } = await signIn(t, account.subject, request.agent(t.app), '/account', hourAgo);
    // A factor to remove, added behind the page's back (the store, as the console would).
    const enrolment = await createMfa(t.deps.config, t.store.factors).beginTotp(account.id, account.email);
    const secret = (await createMfa(t.deps.config, t.store.factors).pendingTotp(account.id, enrolment.sealed, account.email))!.secret;
    expect(await createMfa(t.deps.config, t.store.factors).confirmTotp(account.id, enrolment.sealed, totpCode(secret), 'Phone', by)).toBe(true);
    const [factor] = await t.store.factors.list(account.id);

    const page = await agent.get('/account/factors');
    expect(page.status).toBe(200);
    expect(page.text).toContain('id="reauth" class="button button-primary"');
    expect(page.text).toContain('href="/account/login?return_to=/factors&amp;reauth=1"');
    for (const action of ['/account/factors/remove', '/account/factors/recovery-codes', 'id="add-totp"', 'data-passkey="register"']) expect(page.text).not.toContain(action);
    const csrf = formCsrf(page.text);

    // Posting anyway: off to sign in again, and the factor stays.
    const removal = await agent.post('/account/factors/remove').type('form').send({ _csrf: csrf, factor: factor!.id });
    expect(removal.status).toBe(303);
    expect(removal.headers.location).toBe('/account/login?return_to=/factors&reauth=1');
    expect(await t.store.factors.list(account.id)).toHaveLength(1);
    expect((await agent.get('/account/factors/totp')).headers.location).toBe('/account/login?return_to=/factors&reauth=1');
    const options = await agent.post('/account/factors/passkey/options').set('Accept', 'application/json').set('X-CSRF-Token', csrf);
    expect(options.status).toBe(403);
    expect(options.body).toEqual({ error: 'reauthentication_required', error_description: expect.any(String), redirect_to: '/account/login?return_to=/factors&reauth=1' });

    // Hydra is asked with prompt=login (a remembered session is not enough), and the page comes back.
    const again = await signIn(t, account.subject, agent, '/account/login?return_to=/factors&reauth=1');
    expect(again.authorize.searchParams.get('prompt')).toBe('login');
    expect(again.back.headers.location).toBe('/account/factors');
    const fresh = await agent.get('/account/factors');
    expect(fresh.text).not.toContain('id="reauth"');
    const removed = await agent.post('/account/factors/remove').type('form').send({ _csrf: formCsrf(fresh.text), factor: factor!.id });
    expect(removed.status).toBe(303);
    expect(removed.headers.location).toBe('/account/factors?done=removed');
    expect(await t.store.factors.list(account.id)).toEqual([]);
  });

  it('a sign-in without prompt=login is the plain one (no reauth asked)', async () => {
    const { authorize } = await signIn(t, account.subject);
    expect(authorize.searchParams.has('prompt')).toBe(false);
  });
});

function formCsrf(html: string): string {
  return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
}
