// The account area and its email in German and French: the signed-in pages (profile, password,
// connected applications, sessions, second factors), the one-time link pages, a form re-rendered
// with an error, and the "Forgot password?" mail through a real SMTP server (test/support/smtp-server.ts).
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { smtpMailer } from '../../src/account/smtp.js';
import { startSmtpServer, type SmtpServer } from '../support/smtp-server.js';
import { formFields } from '../support/test-app.js';
import { accountApp, csrfOf, PASSWORD, signIn, test as by, type AccountApp, type Agent } from '../account/support.js';

const catalog = (lang: string) => JSON.parse(readFileSync(new URL(`../../locales/${lang}.json`, import.meta.url), 'utf8'));
const de = catalog('de');
const fr = catalog('fr');

const htmlLang = (html: string) => /<html lang="([^"]*)">/.exec(html)?.[1];
/** The value of an input, by name (as the page escapes it). */
const valueOf = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];

let t: AccountApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** An agent that asks for `lang` on every request, signed in to /account as a fresh account. */
async function signedIn(lang: string, options: Parameters<typeof accountApp>[0] = {}): Promise<{ agent: Agent; app: AccountApp }> {
  t = await accountApp(options);
  const user = await t.store.create({ email: 'anna@example.com', password: PASSWORD, profile: { name: 'Anna Beispiel' } }, by);
  const { agent } = await signIn(t, user.subject, request.agent(t.app).set('Accept-Language', lang));
  return { agent, app: t };
}

describe('the signed-in account pages', () => {
  it('profile in German: nav, labels, notice; with no Accept-Language still English', async () => {
    const { agent, app } = await signedIn('de');
    const page = await agent.get('/account?done=profile');
    expect(page.status).toBe(200);
    expect(htmlLang(page.text)).toBe('de');
    expect(page.text).toContain('<title>Ihr Konto</title>');
    expect(page.text).toContain('Angemeldet als <strong id="account-email">anna@example.com</strong>.');
    expect(page.text).toContain('Ihr Profil wurde gespeichert.');
    expect(page.text).toContain('<label for="given_name">Vorname</label>');
    for (const label of ['Profil', 'Passwort', 'Verbundene Anwendungen', 'Sitzungen']) expect(page.text).toContain(`>${label}</a>`);
    expect(page.text).not.toContain('Your profile');
    // The same session without the header: English, as the e2e suite expects.
    const english = await request(app.app).get('/account/set-password?token=nope');
    expect(english.text).toContain('This link no longer works');
  });

  it('profile in French, re-rendered with an error: what was typed stays in the form', async () => {
    const { agent } = await signedIn('fr');
    const csrf = await csrfOf(agent, '/account');
    const res = await agent.post('/account/profile').type('form').send({ _csrf: csrf, name: 'x'.repeat(2000), nickname: 'Nana <b>' });
    expect(res.status).toBe(400);
    expect(htmlLang(res.text)).toBe('fr');
    expect(res.text).toContain('Nom complet dépasse 1024 caractères.');
    expect(valueOf(res.text, 'nickname')).toBe('Nana &lt;b&gt;');
    expect(valueOf(res.text, 'name')).toBe('x'.repeat(2000));
  });

  it('password form in French: each refusal in French, the passwords never echoed, the username kept', async () => {
    const { agent } = await signedIn('fr');
    const post = async (fields: Record<string, string>) => agent.post('/account/password').type('form').send({ _csrf: await csrfOf(agent, '/account/password'), ...fields });

    const page = await agent.get('/account/password');
    expect(page.text).toContain('<h1 id="heading">Changer votre mot de passe</h1>');
    expect(page.text).toContain('Au moins 8 caractères ; les mots de passe courants ou divulgués sont refusés.');

    const mismatch = await post({ current_password: PASSWORD, new_password: 'a long new passphrase', confirm_password: 'something else' });
    expect(mismatch.status).toBe(400);
    expect(mismatch.text).toContain('<div class="alert alert-error" role="alert">Les deux nouveaux mots de passe ne sont pas identiques.</div>');
    expect(valueOf(mismatch.text, 'username')).toBe('anna@example.com');
    expect(mismatch.text).not.toContain('a long new passphrase');
    expect(mismatch.text).not.toContain(PASSWORD);

    const common = await post({ current_password: PASSWORD, new_password: 'password123', confirm_password: 'password123' });
    expect(common.status).toBe(400);
    expect(common.text).toContain('Ce mot de passe est trop courant');
    const short = await post({ current_password: PASSWORD, new_password: 'short', confirm_password: 'short' });
    expect(short.text).toContain('Utilisez au moins 8 caractères.');
    const wrong = await post({ current_password: 'not it at all', new_password: 'a long new passphrase', confirm_password: 'a long new passphrase' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Votre mot de passe actuel n’est pas correct.');
    // The form's ids and names are the same in every language.
    for (const id of ['current_password', 'new_password', 'confirm_password', 'change-password']) expect(wrong.text).toContain(`id="${id}"`);
  });

  it('connected applications in French: scope descriptions from the catalog, dates in French, the client name escaped', async () => {
    const { agent, app } = await signedIn('fr');
    const subject = (await app.store.getByEmail('anna@example.com'))!.subject;
    app.hydra.addConsentSession(subject, {
      grant_scope: ['openid', 'email', 'api:read'],
      handled_at: '2026-02-02T03:04:05Z',
      remember: true,
      consent_request: { challenge: 'c-1', client: { client_id: 'crm', client_name: 'CRM <script>alert(1)</script>' }, subject } as never,
    });
    const page = await agent.get('/account/applications?done=revoked');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1 id="heading">Applications connectées</h1>');
    expect(page.text).toContain(`<li>${fr.scopes.email} <span class="scope-name">(<code>email</code>)</span></li>`);
    expect(page.text).toContain('Accéder à « api:read »');
    expect(page.text).not.toContain('See your email address');
    expect(page.text).toContain('2 févr. 2026, 03:04 UTC');
    expect(page.text).toContain('datetime="2026-02-02T03:04:05.000Z"');
    expect(page.text).toContain('CRM &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('L’application a été déconnectée');
    expect(page.text).toContain('>Déconnecter</button>');
  });

  it('sessions in German: the sign-in time and the recent sign-ins in German', async () => {
    const { agent, app } = await signedIn('de');
    const account = (await app.store.getByEmail('anna@example.com'))!;
    await app.store.appendAudit({ action: 'login.failed', user_id: account.id }, { actor: 'user', ip: '198.51.100.7' });
    const page = await agent.get('/account/sessions');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/Sie haben sich hier am <time datetime="[^"]+">\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} UTC<\/time> angemeldet\./);
    expect(page.text).toContain('>Überall abmelden</button>');
    expect(page.text).toContain('<td>Fehlgeschlagen</td>');
  });

  it('second factors in German, and the TOTP form re-rendered with its error in German', async () => {
    const { agent } = await signedIn('de', { factors: true });
    const list = await agent.get('/account/factors');
    expect(list.status).toBe(200);
    expect(list.text).toContain('Noch kein zweiter Faktor.');
    expect(list.text).toContain('>Bestätigung in zwei Schritten</a>');
    const setup = await agent.get('/account/factors/totp');
    expect(setup.text).toContain('placeholder="Telefon"');
    const wrong = await agent.post('/account/factors/totp').type('form').send({ _csrf: formFields(setup.text).csrf, code: '000000', label: 'Mein Telefon' });
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('Dieser Code ist nicht korrekt.');
    // The same key is shown again: the setup goes on.
    expect(/id="totp-secret">([A-Z2-7 ]+)</.exec(wrong.text)?.[1]).toBe(/id="totp-secret">([A-Z2-7 ]+)</.exec(setup.text)?.[1]);
  });
});

describe('the pages around sign-in and the one-time links', () => {
  it('a refused sign-in in French, with Hydra’s own words escaped', async () => {
    t = await accountApp();
    const res = await request(t.app).get('/account/callback?error=access_denied&error_description=<i>no</i>').set('Accept-Language', 'fr');
    expect(res.status).toBe(400);
    expect(res.text).toContain('<title>La connexion n’a pas abouti</title>');
    expect(res.text).toContain('Vous avez choisi de ne pas vous connecter');
    expect(res.text).toContain('&lt;i&gt;no&lt;/i&gt;');
    expect(res.text).toContain('>Se connecter à votre compte</a>');
  });

  it('signed out in German; an exposed HttpError of the area in German on the error page', async () => {
    t = await accountApp();
    const out = await request(t.app).get('/account/signed-out?reason=everywhere').set('Accept-Language', 'de');
    expect(out.text).toContain('Sie wurden überall abgemeldet');
    const { agent } = await signIn(t, (await t.store.create({ email: 'x@example.com', password: PASSWORD }, by)).subject, request.agent(t.app).set('Accept-Language', 'de'));
    const res = await agent.post('/account/applications/revoke').type('form').send({ _csrf: await csrfOf(agent, '/account/applications'), client: '' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('Wählen Sie eine Anwendung aus, die getrennt werden soll.');
  });

  it('set-password link in German: a refused password re-renders the form with the token and the address kept', async () => {
    t = await accountApp({ oidc: false });
    const user = await t.store.create({ email: 'erin@example.com' }, { actor: 'admin' });
    const { token } = await t.store.createToken(user.id, 'set-password', 3600, { actor: 'admin' });
    const agent = request.agent(t.app).set('Accept-Language', 'de');
    const page = await agent.get(`/account/set-password?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('für <strong>erin@example.com</strong>');
    const refused = await agent.post('/account/set-password').type('form').send({ _csrf: formFields(page.text).csrf, token, password: 'password1', confirm_password: 'password1' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('Dieses Passwort ist zu verbreitet');
    expect(valueOf(refused.text, 'token')).toBe(token);
    expect(valueOf(refused.text, 'username')).toBe('erin@example.com');
    const gone = await request(t.app).get('/account/set-password?token=nope').set('Accept-Language', 'fr');
    expect(gone.status).toBe(410);
    expect(gone.text).toContain('Ce lien ne fonctionne plus');
  });
});

describe('the "Forgot password?" mail', () => {
  let smtp: SmtpServer;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(async () => {
    await smtp?.close();
  });

  it('is in the language of the page that asked for it (German): subject, text and HTML', async () => {
    const url = smtp.url;
    const from = 'Anmeldung <no-reply@login.example.com>';
    t = await accountApp({ env: { SMTP_URL: url, MAIL_FROM: from }, deps: { mailer: smtpMailer({ url, from, timeoutMs: 5000 }) } });
    await t.store.create({ email: 'bob@example.com', password: PASSWORD }, by);
    const agent = request.agent(t.app).set('Accept-Language', 'de-AT, en;q=0.5');
    const form = await agent.get('/account/forgot');
    expect(form.text).toContain('<h1 id="heading">Passwort vergessen?</h1>');
    // Re-rendered with its error, the address as typed.
    const bad = await agent.post('/account/forgot').type('form').send({ _csrf: formFields(form.text).csrf, email: 'bob at example' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Geben Sie die E-Mail-Adresse Ihres Kontos ein.');
    expect(valueOf(bad.text, 'email')).toBe('bob at example');

    const before = (await smtp.messages()).length;
    const sent = await agent.post('/account/forgot').type('form').send({ _csrf: formFields(bad.text).csrf, email: 'bob@example.com' });
    expect(sent.status).toBe(200);
    expect(sent.text).toContain('Prüfen Sie Ihre E-Mails');
    const mail = (await smtp.waitForMessages(before + 1)).at(-1)!;
    expect(mail.headers.subject).toBe(de.email.reset.subject);
    expect(mail.headers['content-language']).toBe('de');
    expect(mail.text).toContain('Jemand (hoffentlich Sie) hat darum gebeten');
    expect(mail.text).toContain('Der Link funktioniert einmal, 1 Stunde lang.');
    const link = /http:\/\/localhost:3000\/account\/set-password\?token=[A-Za-z0-9_%-]+/.exec(mail.text)?.[0];
    expect(link).toBeDefined();
    expect(mail.html).toContain('<html lang="de">');
    expect(mail.html).toContain(`<a href="${link}">Neues Passwort wählen</a>`);
    expect(mail.html).toContain('Der Link funktioniert einmal, 1 Stunde lang.');
    // The link opens the form in the language of whoever opens it.
    const opened = await request(t.app).get(new URL(link!).pathname + new URL(link!).search).set('Accept-Language', 'fr');
    expect(opened.text).toContain('Choisir un nouveau mot de passe');
  });
});
