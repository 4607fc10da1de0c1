// The sign-in screens in German and French: the password form (and its error), the second step,
// enrolment and recovery codes at sign-in, the home page, and the errors of a sign-in.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMfa } from '../../src/mfa/service.js';
import { totpCode } from '../../src/mfa/totp.js';
import { createUserStore, hashPassword } from '../../src/users/file-store.js';
import { openAccountStore, type SqlAccountStore } from '../../src/users/sql/store.js';
import { agentWithForm, buildTestApp, formFields, type TestApp } from '../support/test-app.js';

const htmlLang = (html: string) => /<html lang="([^"]*)">/.exec(html)?.[1];
const PASSWORD = 'correct horse battery staple';
const by = { actor: 'test' };

describe('the login page in German and French', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('ui_locales=de: the German form, with the ids and names Hydra\'s browser suite uses', async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: ['de'] } });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('<title>Anmelden</title>');
    expect(res.text).toContain('Bitte melden Sie sich an');
    expect(res.text).toContain('um mit <strong>Demo App</strong> fortzufahren');
    expect(res.text).toContain('<label for="email">E-Mail-Adresse</label>');
    expect(res.text).toContain('<label for="password">Passwort</label>');
    expect(res.text).toContain('Auf diesem Gerät angemeldet bleiben');
    expect(res.text).toMatch(/id="accept"[^>]*>Anmelden<\/button>/);
    expect(res.text).toMatch(/id="reject"[^>]*>Ablehnen<\/button>/);
    for (const marker of ['id="email"', 'name="email"', 'id="password"', 'name="password"', 'id="remember"', 'name="challenge"', 'name="_csrf"']) expect(res.text).toContain(marker);
    // The language switcher of the page foot, in German.
    expect(res.text).toMatch(/<option value="de" lang="de" selected>Deutsch<\/option>/);
  });

  it('ui_locales beats Accept-Language and the cookie; without it, Accept-Language decides', async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: ['fr-CA', 'de'] } });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`).set('Accept-Language', 'de').set('Cookie', 'hlc_lang=de');
    expect(htmlLang(res.text)).toBe('fr');
    expect(res.text).toContain('Veuillez vous connecter');
    expect(res.text).toContain('pour continuer vers <strong>Demo App</strong>');
    expect(res.text).toContain('Mot de passe');
    expect(res.text).toContain('Rester connecté sur cet appareil');
    const plain = t.hydra.addLoginRequest();
    const german = await request(t.app).get(`/login?login_challenge=${plain}`).set('Accept-Language', 'de');
    expect(htmlLang(german.text)).toBe('de');
    // No Accept-Language, no ui_locales: English, as the existing tests expect.
    expect(htmlLang((await request(t.app).get(`/login?login_challenge=${t.hydra.addLoginRequest()}`)).text)).toBe('en');
  });

  it('a wrong password: the form again, in German, with the email kept and the German error', async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: ['de'] } });
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    // The POST carries no Accept-Language: Hydra's ui_locales decides on the POST too.
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'wrong', action: 'accept' });
    expect(res.status).toBe(401);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('value="foo@bar.com"');
    expect(res.text).toContain('<div class="alert alert-error" role="alert">Die E-Mail-Adresse oder das Passwort ist falsch.</div>');
    const empty = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: '', password: '', action: 'accept' });
    expect(empty.text).toContain('Geben Sie Ihre E-Mail-Adresse und Ihr Passwort ein.');
  });

  it('a wrong password in French, chosen by Accept-Language', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').set('Accept-Language', 'fr').type('form').send({ _csrf: csrf, challenge, email: 'x@example.com', password: 'wrong', action: 'accept' });
    expect(htmlLang(res.text)).toBe('fr');
    expect(res.text).toContain('value="x@example.com"');
    expect(res.text).toContain('L’adresse e-mail ou le mot de passe est incorrect.');
  });

  it('a client name goes through the catalog escaped', async () => {
    const challenge = t.hydra.addLoginRequest({
      oidc_context: { ui_locales: ['de'] },
      client: { client_id: 'evil', client_name: '<img src=x onerror=alert(1)>&"Böse"' },
    } as Parameters<TestApp['hydra']['addLoginRequest']>[0]);
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('um mit <strong>&lt;img src=x onerror=alert(1)&gt;&amp;&#34;Böse&#34;</strong> fortzufahren');
    expect(res.text).not.toContain('<img src=x');
  });

  it('the accept passes the sign-in\'s language on to consent (localeContext)', async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: ['fr'] } });
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'foobar', action: 'accept' });
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { context: { locale: 'fr' } } });
  });

  it('a missing challenge: the error page in the browser\'s language; JSON stays English', async () => {
    const res = await request(t.app).get('/login').set('Accept-Language', 'de');
    expect(res.status).toBe(400);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('Anmeldeanfrage fehlt');
    expect(res.text).toContain('Diese Seite benötigt den Parameter login_challenge.');
    const fr = await request(t.app).get('/login').set('Accept-Language', 'fr');
    expect(fr.text).toContain('Cette page nécessite le paramètre login_challenge.');
    const json = await request(t.app).get('/login').set('Accept-Language', 'de').set('Accept', 'application/json');
    expect(json.body.error_description).toMatch(/^This page needs a login_challenge/);
    const unknown = await request(t.app).get('/login?login_challenge=unknown').set('Accept-Language', 'fr');
    expect(unknown.status).toBe(404);
    expect(htmlLang(unknown.text)).toBe('fr');
  });

  it('the home page', async () => {
    const de = await request(t.app).get('/').set('Accept-Language', 'de');
    expect(htmlLang(de.text)).toBe('de');
    expect(de.text).toContain('<title>Anmeldedienst</title>');
    expect(de.text).toContain('Dieser Dienst meldet Personen bei den Anwendungen an');
    const fr = await request(t.app).get('/').set('Accept-Language', 'fr');
    expect(fr.text).toContain('<title>Service de connexion</title>');
    expect(fr.text).toContain('Ce service connecte les personnes aux applications');
  });
});

describe('too many attempts, in German', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { LOGIN_RATE_LIMIT_PER_IP: '1' } });
  });
  afterAll(() => t.close());

  it('the 429 page with the minutes in the plural', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const send = () => agent.post('/login').set('Accept-Language', 'de').type('form').send({ _csrf: csrf, challenge, email: 'foo@bar.com', password: 'wrong', action: 'accept' });
    expect((await send()).status).toBe(401);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(limited.text).toContain('Zu viele Versuche');
    expect(limited.text).toMatch(/Zu viele fehlgeschlagene Anmeldeversuche\. Bitte versuchen Sie es in \d+ Minuten? erneut\./);
  });
});

describe('the locale claim', () => {
  let t: TestApp;
  beforeAll(async () => {
    const users = createUserStore([
      { subject: 'ana', email: 'ana@example.com', email_verified: true, password_hash: await hashPassword(PASSWORD), profile: { name: 'Ana', locale: 'de-CH' } },
    ]);
    t = await buildTestApp({ users });
  });
  afterAll(() => t.close());

  it('a profile locale reaches the ID token with the profile scope, and only with it', async () => {
    const withProfile = t.hydra.addConsentRequest({ subject: 'ana', requested_scope: ['openid', 'profile'], client: { client_id: 'first', skip_consent: true } } as Parameters<TestApp['hydra']['addConsentRequest']>[0]);
    await request(t.app).get(`/consent?consent_challenge=${withProfile}`);
    expect(t.hydra.accepted.consent.at(-1)).toMatchObject({ challenge: withProfile, body: { session: { id_token: { name: 'Ana', locale: 'de-CH' } } } });
    const without = t.hydra.addConsentRequest({ subject: 'ana', requested_scope: ['openid', 'email'], client: { client_id: 'first', skip_consent: true } } as Parameters<TestApp['hydra']['addConsentRequest']>[0]);
    await request(t.app).get(`/consent?consent_challenge=${without}`);
    const idToken = (t.hydra.accepted.consent.at(-1)!.body as { session: { id_token: Record<string, unknown> } }).session.id_token;
    expect(idToken).not.toHaveProperty('locale');
    expect(idToken).toMatchObject({ email: 'ana@example.com' });
  });
});

describe('the second step in German and French', () => {
  let t: TestApp;
  let store: SqlAccountStore;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hlc-i18n-login-'));
    store = await openAccountStore({ dialect: 'sqlite', file: path.join(dir, 'accounts.db') });
    t = await buildTestApp({
      env: { MFA: 'required', LOGIN_RATE_LIMIT_PER_IP: '1000' },
      deps: { users: store, accounts: store, factors: store.factors },
    });
  });
  afterAll(async () => {
    await t.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function password(email: string, uiLocales: string[]) {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: uiLocales } });
    const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login').type('form').send({ _csrf: csrf, challenge, email, password: PASSWORD, action: 'accept' });
    return { agent, res, challenge };
  }
  const form = (html: string) => {
    const { csrf, challenge } = formFields(html);
    return { _csrf: csrf, challenge };
  };
  const secretOf = (html: string) => /id="totp-secret">([^<]+)</.exec(html)![1]!.replace(/\s/g, '');

  it('enrolment, its wrong code and the recovery codes, in German', async () => {
    const account = await store.create({ email: 'de@example.com', password: PASSWORD }, by);
    const { agent, res, challenge } = await password('de@example.com', ['de']);
    expect(res.status).toBe(200);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('<title>Bestätigung in zwei Schritten einrichten</title>');
    expect(res.text).toContain('Die Anmeldung bei <strong>Demo App</strong> erfordert einen zweiten Schritt.');
    expect(res.text).toContain('alt="QR-Code des Authenticator-Schlüssels"');
    expect(res.text).toContain('Scannen nicht möglich? Geben Sie diesen Schlüssel in der App ein: <code id="totp-secret">');
    expect(res.text).toContain('<label for="code">Code aus der App</label>');
    const secret = secretOf(res.text);

    const wrong = await agent.post('/login/enrol').type('form').send({ ...form(res.text), code: totpCode(secret) === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(401);
    expect(htmlLang(wrong.text)).toBe('de');
    expect(wrong.text).toContain('Dieser Code ist nicht richtig. Prüfen Sie die Uhrzeit auf Ihrem Telefon');

    const codes = await agent.post('/login/enrol').type('form').send({ ...form(wrong.text), code: totpCode(secret) });
    expect(codes.status).toBe(200);
    expect(htmlLang(codes.text)).toBe('de');
    expect(codes.text).toContain('<title>Ihre Wiederherstellungscodes</title>');
    expect(codes.text).toContain('Die Bestätigung in zwei Schritten ist eingerichtet.');
    expect(codes.text).toContain('Diese Codes werden nur einmal angezeigt.');
    expect(codes.text).toMatch(/id="continue"[^>]*>Ich habe sie gespeichert – weiter<\/button>/);
    // The factor added during a German sign-in is named in German.
    expect((await store.factors.list(account.id)).map((f) => f.label)).toEqual(['Authenticator-App']);

    const done = await agent.post('/login/enrol/continue').type('form').send(form(codes.text));
    expect(done.status).toBe(302);
    expect(t.hydra.accepted.login.at(-1)).toMatchObject({ challenge, body: { context: { locale: 'de' } } });
  });

  it('the code step and its wrong code, in French', async () => {
    const account = await store.create({ email: 'fr@example.com', password: PASSWORD }, by);
    const mfa = createMfa(t.deps.config, store.factors, () => Date.now() - 30_000);
    const enrolment = await mfa.beginTotp(account.id, account.email);
    expect(await mfa.confirmTotp(account.id, enrolment.sealed, totpCode(enrolment.secret, Date.now() - 30_000), 'Phone', by)).toBe(true);

    const { agent, res } = await password('fr@example.com', ['fr']);
    expect(res.status).toBe(200);
    expect(htmlLang(res.text)).toBe('fr');
    expect(res.text).toContain('<title>Validation en deux étapes</title>');
    expect(res.text).toContain('pour continuer vers <strong>Demo App</strong>.');
    expect(res.text).toContain('Pas de téléphone sous la main ?');
    expect(res.text).toMatch(/id="verify"[^>]*>Valider<\/button>/);
    const wrong = await agent.post('/login/factor').type('form').send({ ...form(res.text), code: '000000' === totpCode(enrolment.secret) ? '111111' : '000000', action: 'verify' });
    expect(wrong.status).toBe(401);
    expect(htmlLang(wrong.text)).toBe('fr');
    expect(wrong.text).toContain('Ce code n’est pas correct. Réessayez.');
  });

  it('the passkey button and the words passkeys.js shows (data-error-*), in German', async () => {
    const challenge = t.hydra.addLoginRequest({ oidc_context: { ui_locales: ['de'] } });
    const res = await request(t.app).get(`/login?login_challenge=${challenge}`);
    expect(res.text).toMatch(/id="passkey-signin"[^>]*>Mit einem Passkey anmelden<\/button>/);
    expect(res.text).toContain('data-error="Der Passkey konnte nicht verwendet werden."');
    expect(res.text).toContain('data-error-passkey-expired="Diese Passkey-Anfrage ist abgelaufen. Bitte versuchen Sie es noch einmal."');
    // CSP stays script-src 'self': the script reads the words, no inline script carries them.
    expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(res.text).not.toMatch(/<script>/);
  });

  it('a second step without a valid state: the error page in German', async () => {
    const challenge = t.hydra.addLoginRequest();
    const { csrf, agent } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
    const res = await agent.post('/login/factor').set('Accept-Language', 'de').type('form').send({ _csrf: csrf, challenge, code: '123456' });
    expect(res.status).toBe(403);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('Anmeldung abgelaufen');
    expect(res.text).toContain('Dieser Anmeldeschritt ist ungültig');
  });
});
