// The operators' console pages for users (list, user page with factors and audit events, the
// form, the set-password link, a failed revocation), consent sessions and tokens, in German and
// French: the real SQL account store on a temporary SQLite file and the fake Hydra, through
// createApp. Ids, field names and URLs stay as they were, a value from a person or a client is
// escaped once (through the catalog or not), and the JSON API keeps answering in English.
// The same screens in English are test/admin/{users,sessions,tokens}.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsentSession } from '../../src/hydra/types.js';
import { openAccountStore, type SqlAccountStore } from '../../src/users/sql/store.js';
import { buildTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../support/test-app.js';
import { api, confirmForm, fieldValue, signIn } from '../admin/helpers.js';

const PASSWORD = 'correct horse battery staple';
const MARKUP_NAME = '<b>Ana</b> & Co';
const ESCAPED_NAME = '&lt;b&gt;Ana&lt;/b&gt; &amp; Co';
const by = { actor: 'admin', ip: '127.0.0.1' };

const htmlLang = (html: string) => /<html lang="([^"]*)">/.exec(html)?.[1];
const title = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1];
/** What the page shows for a date: formatDate's default (day, short month, year, hours and minutes in UTC, saying UTC), the exact time in <time datetime> and title. */
const shown = (lang: string, date: Date | string) => {
  const value = new Date(date);
  const iso = value.toISOString();
  return `<time datetime="${iso}" title="${iso}">${new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' }).format(value)}</time>`;
};

let dir: string;
let store: SqlAccountStore;
let t: TestApp;
let seq = 0;
const email = (name: string) => `${name}-${++seq}@i18n.example`;

/** A console session whose every request asks for `lang`; forms carry the last page's CSRF token. */
async function operator(lang: string) {
  const browser = await signIn(t.app);
  let csrf = '';
  const remember = (res: request.Response) => {
    const token = /name="_csrf" value="([^"]*)"/.exec(res.text)?.[1];
    if (token) csrf = token;
    return res;
  };
  return {
    get: async (path: string) => remember(await browser.agent.get(path).set('Accept-Language', lang)),
    async submit(path: string, fields: Record<string, string>) {
      if (!csrf) remember(await browser.agent.get('/admin/tokens').set('Accept-Language', lang));
      return remember(await browser.agent.post(path).set('Accept-Language', lang).type('form').send({ _csrf: csrf, ...fields }));
    },
  };
}

async function existing(overrides: object = {}): Promise<{ id: string; subject: string; email: string; created_at: string }> {
  const res = await api(t.app).post('/admin/users', { email: email('user'), password: PASSWORD, ...overrides });
  expect(res.status).toBe(201);
  return res.body;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hlc-i18n-admin-users-'));
  store = await openAccountStore({ dialect: 'sqlite', file: join(dir, 'accounts.db') });
  t = await buildTestApp({
    env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, BASE_URL: 'http://login.example.test' },
    users: store,
    deps: { accounts: store, factors: store.factors },
  });
});
afterAll(async () => {
  await t.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the user list', () => {
  it('German, with a search: words, status, dates; a name with markup stays text', async () => {
    const tag = `liste${++seq}q`;
    const user = await existing({ email: `${tag}@i18n.example`, name: MARKUP_NAME });
    const console = await operator('de');
    const page = await console.get(`/admin/users?search=${tag}`);
    expect(page.status).toBe(200);
    expect(htmlLang(page.text)).toBe('de');
    expect(title(page.text)).toBe('Benutzer');
    expect(page.text).toContain('<label for="search">E-Mail-Adresse oder Name</label>');
    expect(page.text).toContain('>Suchen</button>');
    expect(page.text).toContain('id="new-user" class="button button-primary">Benutzer anlegen</a>');
    expect(page.text).toContain('<th scope="col">Angelegt</th>');
    expect(page.text).toContain('<td>aktiv</td>');
    expect(page.text).toContain(shown('de', user.created_at));
    expect(page.text).toContain(ESCAPED_NAME);
    expect(page.text).not.toContain('<b>Ana');
    expect(fieldValue(page.text, 'search')).toBe(tag);
  });

  it('French: nothing matches; a user without a password yet', async () => {
    const console = await operator('fr');
    const none = await console.get('/admin/users?search=personne-ne-correspond');
    expect(htmlLang(none.text)).toBe('fr');
    expect(none.text).toContain('Aucun utilisateur ne correspond à cette recherche.');
    const tag = `sansmdp${++seq}q`;
    await existing({ email: `${tag}@i18n.example`, password: undefined });
    const list = await console.get(`/admin/users?search=${tag}`);
    expect(list.text).toContain('<td>pas encore de mot de passe</td>');
    expect(list.text).toContain('Créer un utilisateur');
  });
});

describe('the user page', () => {
  async function withFactors() {
    const user = await existing({ name: MARKUP_NAME });
    await store.factors.addTotp(user.id, { label: '<i>Phone</i>', sealedSecret: 'v1.x.y.z', step: 0 }, by);
    await store.factors.addPasskey(
      user.id,
      { label: 'Laptop', credentialId: `cred-${user.id}`, publicKey: 'pk', counter: 0, transports: ['internal'], deviceType: 'singleDevice', backedUp: false },
      by,
    );
    await store.factors.replaceRecoveryCodes(user.id, ['h1', 'h2', 'h3'].map((h) => `${h}-${user.id}`), by);
    // An action this catalog does not know (a fork's own) is shown as it is stored.
    await store.appendAudit({ action: 'fork.custom_step', user_id: user.id, detail: 'x' }, by);
    return user;
  }

  it('German: details, factors with their kinds, audit events labelled with the stored action kept', async () => {
    const user = await withFactors();
    const account = (await store.get(user.id))!;
    const page = await (await operator('de')).get(`/admin/users/${user.id}`);
    expect(page.status).toBe(200);
    expect(htmlLang(page.text)).toBe('de');
    expect(page.text).toContain(`<h1 id="heading">${ESCAPED_NAME}</h1>`);
    expect(page.text).not.toContain('<b>Ana');
    expect(page.text).toContain('id="reset-password" class="button button-secondary">Passwort zurücksetzen</a>');
    expect(page.text).toContain('<dt>Angelegt</dt><dd>' + shown('de', account.created_at) + '</dd>');
    expect(page.text).toContain('(nicht bestätigt)');
    expect(page.text).toContain('<th scope="row">Vollständiger Name <code>name</code></th>');
    // Factors: the kind in words next to the stored kind; a label with markup stays text.
    expect(page.text).toContain('<h2 id="factors-heading">Zweite Faktoren</h2>');
    expect(page.text).toContain('<td>Authenticator-App <code>totp</code></td>');
    expect(page.text).toContain('<td>Passkey <code>webauthn</code></td>');
    expect(page.text).toContain('&lt;i&gt;Phone&lt;/i&gt;');
    expect(page.text).toContain('Unbenutzte Wiederherstellungscodes: <span id="recovery-codes-left">3</span>');
    expect(page.text).toContain('id="remove-recovery-codes">Wiederherstellungscodes entfernen</button>');
    // Audit: action with detail first (factor.added:webauthn), then the action; the raw action stays greppable.
    expect(page.text).toContain('<h2 id="audit-heading">Audit-Ereignisse</h2>');
    expect(page.text).toContain('<td>Passkey hinzugefügt <code>factor.added</code></td>');
    expect(page.text).toContain('<td>Authenticator-App hinzugefügt <code>factor.added</code></td>');
    expect(page.text).toContain('<td>Wiederherstellungscodes erstellt <code>recovery_codes.generated</code></td>');
    expect(page.text).toMatch(/<td>Konto angelegt <code>account\.created<\/code><\/td>\s*<td>Administration<\/td>/);
    expect(page.text).toContain('<td><code>fork.custom_step</code></td>');
    const created = (await store.auditTrail(user.id)).items.find((event) => event.action === 'account.created')!;
    expect(page.text).toContain(shown('de', created.at));
  });

  it('French: the same page, and the disable confirmation with the name escaped', async () => {
    const user = await withFactors();
    const console = await operator('fr');
    const page = await console.get(`/admin/users/${user.id}`);
    expect(htmlLang(page.text)).toBe('fr');
    expect(page.text).toContain('<h2 id="factors-heading">Seconds facteurs</h2>');
    expect(page.text).toContain('<td>Clé d’accès ajoutée <code>factor.added</code></td>');
    expect(page.text).toContain('<th scope="col">Dernière utilisation</th>');
    expect(page.text).toMatch(/<td>Compte créé <code>account\.created<\/code><\/td>\s*<td>administration<\/td>/);
    expect(page.text).toContain('id="delete" class="button button-danger">Supprimer</a>');

    const confirm = await console.get(`/admin/users/${user.id}?action=disable`);
    expect(confirm.status).toBe(200);
    expect(title(confirm.text)).toBe('Désactiver l’utilisateur');
    expect(confirm.text).toContain('Réactiver le compte rétablit la connexion, mais pas les sessions.');
    expect(confirm.text).toContain(ESCAPED_NAME);
    expect(confirm.text).not.toContain('<b>Ana');
    expect(confirmForm(confirm.text).fields).toMatchObject({ _method: 'PATCH', disabled: 'true' });
    const reset = await console.get(`/admin/users/${user.id}?action=reset`);
    expect(reset.text).toContain('dans un délai de 72 heures');
  });

  it('an unknown user: the error page in German, the API in English', async () => {
    const page = await (await operator('de')).get('/admin/users/00000000-0000-0000-0000-000000000000');
    expect(page.status).toBe(404);
    expect(page.text).toContain('Benutzer nicht gefunden');
    expect(page.text).toContain('Es gibt keinen Benutzer mit dieser ID.');
    const json = await api(t.app).get('/admin/users/00000000-0000-0000-0000-000000000000').set('Accept-Language', 'de');
    expect(json.body).toEqual({ error: 'not_found', error_description: 'There is no user with this id.' });
  });
});

describe('the user form', () => {
  it('German: a common password re-renders the form with the message translated and the input kept (never the password)', async () => {
    const console = await operator('de');
    const form = await console.get('/admin/users?action=new');
    expect(form.status).toBe(200);
    expect(title(form.text)).toBe('Benutzer anlegen');
    expect(form.text).toContain('Mindestens 8 Zeichen, kein gängiges oder geleaktes Passwort.');
    expect(form.text).toContain('Wird Anwendungen mit dem Scope <code>profile</code> übermittelt.');
    const address = email('form');
    const res = await console.submit('/admin/users', { email: address, name: MARKUP_NAME, credential: 'password', password: 'password1' });
    expect(res.status).toBe(400);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('Dieses Passwort ist zu gängig: Es steht in Listen geleakter Passwörter. Wählen Sie ein anderes.');
    expect(fieldValue(res.text, 'email')).toBe(address);
    expect(fieldValue(res.text, 'name')).toBe(MARKUP_NAME);
    expect(res.text).toContain(`value="${ESCAPED_NAME}"`);
    expect(res.text).toMatch(/id="credential_password" name="credential" value="password" checked/);
    expect(res.text).not.toContain('password1');
    expect(await store.getByEmail(address)).toBeUndefined();

    await existing({ email: address });
    const duplicate = await console.submit('/admin/users', { email: address, given_name: 'Dup', credential: 'link' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.text).toContain('Ein Konto mit dieser E-Mail-Adresse existiert bereits.');
    expect(fieldValue(duplicate.text, 'given_name')).toBe('Dup');
  });

  it('French: a bad birthdate and a missing address on create, a bad URL on edit', async () => {
    const console = await operator('fr');
    const bad = await console.submit('/admin/users', { email: email('fr'), birthdate: 'bientôt', credential: 'link' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('La date de naissance (birthdate) doit être au format AAAA-MM-JJ ou AAAA.');
    expect(fieldValue(bad.text, 'birthdate')).toBe('bientôt');
    const noEmail = await console.submit('/admin/users', { email: '', name: 'Sans adresse', credential: 'link' });
    expect(noEmail.status).toBe(400);
    expect(noEmail.text).toContain('Veuillez saisir une adresse e-mail.');
    expect(fieldValue(noEmail.text, 'name')).toBe('Sans adresse');

    const user = await existing({ name: 'Avant' });
    const edit = await console.get(`/admin/users/${user.id}?action=edit`);
    expect(title(edit.text)).toBe('Modifier l’utilisateur');
    expect(edit.text).toContain('id="save" class="button button-primary">Enregistrer l’utilisateur</button>');
    const url = await console.submit(`/admin/users/${user.id}`, { _method: 'PATCH', email: user.email, name: 'Après', website: 'javascript:alert(1)' });
    expect(url.status).toBe(400);
    expect(url.text).toContain('website doit être une URL http(s).');
    expect(fieldValue(url.text, 'name')).toBe('Après');
  });

  it('German: the one-time link page after creating without a password', async () => {
    const res = await (await operator('de')).submit('/admin/users', { email: email('link'), credential: 'link' });
    expect(res.status).toBe(201);
    expect(title(res.text)).toBe('Benutzer angelegt');
    expect(res.text).toContain('<strong>Kopieren Sie den Link jetzt.</strong>');
    expect(res.text).toMatch(/<dt>Link läuft ab<\/dt><dd><time datetime="[^"]+" title="[^"]+">[^<]+<\/time><\/dd>/);
    expect(res.text).toMatch(/id="set-password-url">http:\/\/login\.example\.test\/account\/set-password\?token=/);
  });

  it('the API keeps English error_description whatever the Accept-Language', async () => {
    const bad = await api(t.app).post('/admin/users', { email: email('api'), birthdate: 'soon' }).set('Accept-Language', 'de');
    expect(bad.status).toBe(400);
    expect(bad.body.error_description).toBe('birthdate must be YYYY-MM-DD or YYYY.');
    const common = await api(t.app).post('/admin/users', { email: email('api'), password: 'password1' }).set('Accept-Language', 'fr');
    expect(common.body.error_description).toMatch(/too common/);
  });
});

describe('a failed revocation at Hydra', () => {
  it('German page (502) with the reason translated; the API says it in English', async () => {
    const user = await existing();
    const console = await operator('de');
    t.hydra.setFault('error500');
    try {
      const res = await console.submit(`/admin/users/${user.id}`, { _method: 'PATCH', disabled: 'true' });
      expect(res.status).toBe(502);
      expect(title(res.text)).toBe('Widerruf der Sitzungen fehlgeschlagen');
      expect(res.text).toContain('Der Benutzer wurde deaktiviert, aber der Widerruf seiner Sitzungen ist fehlgeschlagen');
      expect(res.text).toContain('Hydra konnte seine Einwilligungs- und Anmeldesitzungen nicht widerrufen: Der Autorisierungsserver hat mit einem Fehler geantwortet (500).');
      expect(res.text).toContain(`die Sitzungen des Subjects ${user.subject}`);
      expect(res.text).toContain('id="revoke-login" class="button button-danger">Anmeldesitzungen widerrufen</a>');
      const json = await api(t.app).patch(`/admin/users/${user.id}`, { disabled: true }).set('Accept-Language', 'de');
      expect(json.status).toBe(502);
      expect(json.body.error_description).toMatch(/^The user was disabled, but Hydra could not revoke their consent sessions and login sessions: /);
    } finally {
      t.hydra.setFault('none');
    }
  });
});

describe('consent sessions', () => {
  const SUBJECT = '<s>alice</s>';
  const session = (clientId: string, clientName: string): ConsentSession => ({
    grant_scope: ['openid', 'email'],
    grant_access_token_audience: ['https://api.example'],
    remember: true,
    remember_for: 3600,
    handled_at: '2030-01-02T03:04:05Z',
    consent_request: { challenge: `c-${clientId}`, subject: SUBJECT, client: { client_id: clientId, client_name: clientName } },
  });
  beforeAll(() => {
    t.hydra.addConsentSession(SUBJECT, session('app-1', 'First <App>'));
  });

  it('German: the list, with the subject escaped through the catalog sentence', async () => {
    const page = await (await operator('de')).get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}`);
    expect(page.status).toBe(200);
    expect(htmlLang(page.text)).toBe('de');
    expect(title(page.text)).toBe('Sitzungen');
    expect(page.text).toContain('<h2>Einwilligungen von &lt;s&gt;alice&lt;/s&gt;</h2>');
    expect(page.text).not.toContain('<s>alice');
    expect(page.text).toContain('First &lt;App&gt;');
    expect(page.text).toContain('<th scope="col">Erteilte Scopes</th>');
    // Hydra's own RFC 3339 string stays exact in datetime.
    expect(page.text).toContain(shown('de', '2030-01-02T03:04:05Z').replaceAll('.000Z', 'Z'));
    // In UTC whatever the server's zone, and saying so.
    expect(page.text).toContain('>2. Jan. 2030, 03:04 UTC</time>');
    expect(page.text).toContain('<td>3.600 Sekunden</td>');
    expect(page.text).toContain('id="revoke-all" class="button button-danger">Alle Einwilligungen widerrufen</a>');
  });

  it('French: an empty subject form, the revocation confirmations, and an unknown subject', async () => {
    const console = await operator('fr');
    const empty = await console.get('/admin/sessions/consent');
    expect(empty.text).toContain('>Afficher les sessions</button>');
    const all = await console.get(`/admin/sessions/consent?subject=${encodeURIComponent(SUBJECT)}&all=true&action=delete`);
    expect(title(all.text)).toBe('Révoquer le consentement');
    expect(all.text).toContain('Chaque client redemandera le consentement.');
    expect(all.text).toContain('tous les clients');
    expect(all.text).toContain('&lt;s&gt;alice&lt;/s&gt;');
    const login = await console.get(`/admin/sessions/login?subject=${encodeURIComponent(SUBJECT)}&action=delete`);
    expect(title(login.text)).toBe('Révoquer les sessions de connexion');
    expect(confirmForm(login.text).method).toBe('DELETE');
    const nobody = await console.get('/admin/sessions/consent?subject=nobody');
    expect(nobody.text).toContain('Aucun consentement mémorisé pour ce sujet.');
    const missing = await console.get('/admin/sessions/login?action=delete');
    expect(missing.status).toBe(400);
    expect(missing.text).toContain('Veuillez indiquer un sujet.');
  });

  it('the API stays English', async () => {
    const res = await api(t.app).get('/admin/sessions/consent').set('Accept-Language', 'fr');
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'subject: is required' });
  });
});

describe('tokens', () => {
  beforeAll(() => {
    t.hydra.addToken('secret-token-value', { active: true, client_id: 'app-1', sub: 'alice', exp: 1_900_000_000, ext: { tenant: '<acme>' } });
  });

  it('German: the page, an introspection result with its dates, and a flush Hydra v2 cannot do', async () => {
    const console = await operator('de');
    const page = await console.get('/admin/tokens');
    expect(htmlLang(page.text)).toBe('de');
    expect(page.text).toContain('<h2 id="introspect-heading">Token prüfen (Introspection)</h2>');
    expect(page.text).toContain('Führen Sie <code>hydra janitor</code> auf seiner Datenbank aus');
    const res = await console.submit('/admin/tokens/introspect', { token: 'secret-token-value', scope: '' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h3>Ergebnis</h3>');
    expect(res.text).toContain(`1900000000 (${shown('de', new Date(1_900_000_000 * 1000))})`);
    expect(res.text).toContain('&lt;acme&gt;');
    expect(res.text).not.toContain('secret-token-value');
    const flush = await console.submit('/admin/tokens/flush', {});
    expect(flush.status).toBe(501);
    expect(flush.text).toContain('Dieses Hydra kann keine Tokens bereinigen');
  });

  it('French: an empty token and an empty client ID re-render the page with the message; the delete confirmation', async () => {
    const console = await operator('fr');
    const empty = await console.submit('/admin/tokens/introspect', { token: '', scope: 'gardé' });
    expect(empty.status).toBe(400);
    expect(empty.text).toContain('Veuillez saisir un jeton.');
    expect(fieldValue(empty.text, 'introspect_scope')).toBe('gardé');
    const blank = await console.get('/admin/tokens?action=delete&client_id=');
    expect(blank.status).toBe(400);
    expect(blank.text).toContain('Veuillez saisir un client ID.');
    await api(t.app).post('/admin/clients', { client_id: 'app-fr', client_name: 'Appli <FR>' });
    const confirm = await console.get('/admin/tokens?action=delete&client_id=app-fr');
    expect(title(confirm.text)).toBe('Supprimer les jetons d’un client');
    expect(confirm.text).toContain('Appli &lt;FR&gt;');
    expect(confirmForm(confirm.text)).toMatchObject({ action: '/admin/tokens?client_id=app-fr', method: 'DELETE' });
  });

  it('the API stays English', async () => {
    const res = await api(t.app).post('/admin/tokens/introspect', {}).set('Accept-Language', 'de');
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'token: is required' });
  });
});
