// The operators' console in German and French (clients, keys, trusted issuers, the shared layout
// and the sign-in page), while the JSON API keeps answering in English.
import { generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formFields, type TestApp } from '../support/test-app.js';
import { adminApp, api, decodeEntities, fieldValue, signIn } from '../admin/helpers.js';

const htmlLang = (html: string) => /<html lang="([^"]*)">/.exec(html)?.[1];
const alertOf = (html: string) => decodeEntities(/<div class="alert alert-error" role="alert">([^<]*)<\/div>/.exec(html)?.[1] ?? '');

/** A signed-in console agent that asks for one language, as a browser set to it would. */
async function consoleIn(app: TestApp, lang: string) {
  const { agent } = await signIn(app.app);
  let csrf = '';
  return {
    async get(path: string) {
      const res = await agent.get(path).set('Accept-Language', lang);
      csrf = /name="_csrf" value="([^"]*)"/.exec(res.text)?.[1] ?? csrf;
      return res;
    },
    submit(path: string, fields: Record<string, string | string[]>) {
      return agent.post(path).set('Accept-Language', lang).type('form').send({ _csrf: csrf, ...fields });
    },
  };
}

const clientForm = (overrides: Record<string, string | string[]> = {}) => ({
  client_name: 'Kept name',
  redirect_uris: 'https://app.example/cb',
  post_logout_redirect_uris: '',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: 'code',
  scope: 'openid',
  audience: '',
  token_endpoint_auth_method: 'client_secret_basic',
  metadata: '',
  client_uri: '',
  logo_uri: '',
  policy_uri: '',
  tos_uri: '',
  other: '{}',
  ...overrides,
});

function publicJwk(kid: string) {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
}

describe('the admin console in German and French', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await adminApp('v2');
    for (let i = 0; i < 3; i++) await api(app.app).post('/admin/clients', { client_name: `listed-${i}`, owner: 'table' });
    await api(app.app).post('/admin/clients', { client_name: '<script>alert("name")</script>', owner: 'hostile' });
  });
  afterAll(() => app.close());

  it('client list: German headings, navigation, dates and pager, French too', async () => {
    const de = await consoleIn(app, 'de');
    const page = await de.get('/admin/clients?owner=table&page_size=2');
    expect(page.status).toBe(200);
    expect(htmlLang(page.text)).toBe('de');
    expect(page.text).toContain('<title>OAuth2-Clients</title>');
    expect(page.text).toContain('<h1 id="heading">OAuth2-Clients</h1>');
    expect(page.text).toContain('<th scope="col">Client-ID</th>');
    expect(page.text).toContain('<th scope="col">Eigentümer</th>');
    expect(page.text).toContain('>Schlüssel</a>');
    expect(page.text).toContain('>Vertrauenswürdige Aussteller</a>');
    expect(page.text).toContain('>Client registrieren</a>');
    expect(page.text).toContain('3 insgesamt');
    expect(page.text).toContain('rel="next">Weiter</a>');
    // Hydra's created_at, in German and in UTC.
    const year = new Date().getUTCFullYear();
    expect(page.text).toMatch(new RegExp(`<td>\\d{1,2}\\.\\d{2}\\.${year}, \\d{2}:\\d{2}:\\d{2} UTC</td>`));
    for (const id of ['id="new-client"', 'id="client_name"', 'id="owner"']) expect(page.text).toContain(id);

    const empty = await de.get('/admin/clients?owner=nobody');
    expect(empty.text).toContain('Kein Client entspricht diesem Filter.');

    const fr = await consoleIn(app, 'fr');
    const french = await fr.get('/admin/clients?owner=table&page_size=2');
    expect(htmlLang(french.text)).toBe('fr');
    expect(french.text).toContain('<h1 id="heading">Clients OAuth2</h1>');
    expect(french.text).toContain('<th scope="col">Propriétaire</th>');
    expect(french.text).toContain('3 au total');
    expect(french.text).toContain('rel="next">Suivante</a>');
    expect(french.text).toContain('>Enregistrer un client</a>');
  });

  it('a client name with markup stays escaped, in the list and through the catalog on the confirm page', async () => {
    const de = await consoleIn(app, 'de');
    const list = await de.get('/admin/clients?owner=hostile');
    expect(list.text).toContain('&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;');
    expect(list.text).not.toContain('<script>alert');
    const id = /href="\/admin\/clients\/([^"]+)"/.exec(list.text)![1]!;
    const confirm = await de.get(`/admin/clients/${id}?action=delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('<h1 id="heading">Client löschen</h1>');
    expect(confirm.text).toContain('<dt>Client</dt><dd>&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;</dd>');
    expect(confirm.text).toContain('>Abbrechen</a>');
    expect(confirm.text).not.toContain('<script>alert');
  });

  it('client form: re-rendered in French with a French alert, keeping what was typed', async () => {
    const fr = await consoleIn(app, 'fr');
    const form = await fr.get('/admin/clients?action=new');
    expect(form.text).toContain('<h1 id="heading">Enregistrer un client</h1>');
    expect(form.text).toContain('<label for="redirect_uris">Redirect URIs</label>');

    const bad = await fr.submit('/admin/clients', clientForm({ redirect_uris: 'not a uri', other: '{"owner": "kept"}', token_endpoint_auth_method: 'client_secret_post' }));
    expect(bad.status).toBe(400);
    expect(htmlLang(bad.text)).toBe('fr');
    expect(alertOf(bad.text)).toBe(
      'redirect_uris.0 : doit être un URI absolu sans fragment (http(s), ou un schéma personnalisé pour les applications natives)',
    );
    expect(fieldValue(bad.text, 'client_name')).toBe('Kept name');
    expect(fieldValue(bad.text, 'redirect_uris')).toBe('not a uri');
    expect(fieldValue(bad.text, 'other')).toBe('{"owner": "kept"}');
    expect(bad.text).toContain('value="client_secret_post" selected');
    expect(bad.text).toContain('<label for="client_name">Nom</label>');
    expect(bad.text).toContain('id="save" class="button button-primary">Enregistrer le client</button>');

    const badJson = await fr.submit('/admin/clients', clientForm({ other: '{"owner": ' }));
    expect(alertOf(badJson.text)).toMatch(/^Autres champs \(JSON\) : JSON non valide \(/);
    const clash = await fr.submit('/admin/clients', clientForm({ other: '{"client_name": "twice", "scope": "x"}' }));
    expect(alertOf(clash.text)).toBe('Autres champs (JSON) : client_name, scope sont déjà définis dans le formulaire ci-dessus');

    const de = await consoleIn(app, 'de');
    await de.get('/admin/clients?action=new');
    const german = await de.submit('/admin/clients', clientForm({ client_uri: 'ftp://nope.example' }));
    expect(german.status).toBe(400);
    expect(alertOf(german.text)).toBe('client_uri: muss eine absolute http(s)-URL sein');
    expect(fieldValue(german.text, 'client_uri')).toBe('ftp://nope.example');

    // Registered: the once-only secret warning, in German.
    const created = await de.submit('/admin/clients', clientForm({ client_name: 'Neu' }));
    expect(created.status).toBe(201);
    expect(created.text).toContain('<strong>Kopieren Sie das Client-Secret jetzt.</strong>');
    expect(created.text).toContain('id="client-secret"');
  });

  it('key set page in German and French, with a notice, a form error and a set name escaped through the catalog', async () => {
    const de = await consoleIn(app, 'de');
    const empty = await de.get('/admin/keys/neues-set');
    expect(empty.status).toBe(404);
    expect(empty.text).toContain('Dieses Set enthält noch keine Schlüssel. Erzeugen Sie unten einen.');
    expect(empty.text).toContain('<title>Schlüssel-Set neues-set</title>');
    expect(empty.text).toContain('<h1 id="heading">Schlüssel-Set <code>neues-set</code></h1>');

    const noKid = await de.submit('/admin/keys/neues-set', { kid: '', alg: 'ES256', use: 'enc' });
    expect(noKid.status).toBe(400);
    expect(alertOf(noKid.text)).toBe('kid: ist erforderlich');
    expect(noKid.text).toContain('value="ES256" selected');
    expect(noKid.text).toContain('value="enc" selected');

    const generated = await de.submit('/admin/keys/neues-set', { kid: 'k1', alg: 'RS256', use: 'sig' });
    expect(generated.status).toBe(303);
    const page = await de.get(generated.headers.location!);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div class="alert alert-success" role="status">Angelegt.</div>');
    expect(page.text).toContain('<th scope="col">Algorithmus</th>');
    expect(page.text).toContain('Privates Material anzeigen');
    expect(page.text).toContain('<option value="sig" selected>sig (Signatur)</option>');
    expect(page.text).toContain('id="replace-set" class="button button-primary">Set ersetzen</button>');

    const fr = await consoleIn(app, 'fr');
    const french = await fr.get('/admin/keys/neues-set?show_private=1');
    expect(htmlLang(french.text)).toBe('fr');
    expect(french.text).toContain('<h1 id="heading">Jeu de clés <code>neues-set</code></h1>');
    expect(french.text).toContain('Le matériel de clé privé et secret est affiché.');
    expect(french.text).toContain('Masquer le matériel privé');
    const notASet = await fr.submit('/admin/keys/neues-set', { _method: 'PUT', keys: '{"nope": 1}' });
    expect(notASet.status).toBe(400);
    expect(alertOf(notASet.text)).toBe('keys : un JSON Web Key Set a la forme {"keys": [ ... ]}');
    expect(fieldValue(notASet.text, 'keys')).toBe('{"nope": 1}');

    // A set name is someone's input: i18next escapes it inside the catalog's markup, once.
    const hostile = await fr.get(`/admin/keys/${encodeURIComponent('<b>&"x"')}`);
    expect(hostile.text).toContain('<h1 id="heading">Jeu de clés <code>&lt;b&gt;&amp;&#34;x&#34;</code></h1>');
    expect(hostile.text).toContain('<title>Jeu de clés &lt;b&gt;&amp;&#34;x&#34;</title>');
    // Hydra cannot route a set name with "/": the error page says so in the page's language.
    const unroutable = await fr.get(`/admin/keys/${encodeURIComponent('a/b')}/k`);
    expect(unroutable.status).toBe(404);
    expect(unroutable.text).toContain('Hydra ne peut pas consulter le jeu de clés « a/b »');
  });

  it('trusted-issuer form in German and French, re-rendered with an error, and the list', async () => {
    const de = await consoleIn(app, 'de');
    const form = await de.get('/admin/trust/issuers?action=new');
    expect(form.text).toContain('<h1 id="heading">Einem JWT-Grant-Aussteller vertrauen</h1>');
    expect(form.text).toContain('<label for="expires_at">Läuft ab am (UTC)</label>');

    const jwk = JSON.stringify(publicJwk('issuer-key'));
    const past = await de.submit('/admin/trust/issuers', { issuer: 'https://idp.example', subject: 'svc-1', scope: 'openid', jwk, expires_at: '2001-01-01T00:00' });
    expect(past.status).toBe(400);
    expect(alertOf(past.text)).toBe('expires_at: muss in der Zukunft liegen');
    expect(fieldValue(past.text, 'issuer')).toBe('https://idp.example');
    expect(fieldValue(past.text, 'subject')).toBe('svc-1');

    const fr = await consoleIn(app, 'fr');
    await fr.get('/admin/trust/issuers?action=new');
    const expires = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    const noSubject = await fr.submit('/admin/trust/issuers', { issuer: 'https://idp.example', subject: '', scope: 'openid', jwk, expires_at: expires });
    expect(noSubject.status).toBe(400);
    expect(alertOf(noSubject.text)).toBe('subject : indiquez un subject, ou autorisez n’importe quel subject');
    expect(noSubject.text).toContain('Faire confiance à l’émetteur</button>');

    const trusted = await fr.submit('/admin/trust/issuers', { issuer: 'plain-issuer', allow_any_subject: '1', scope: 'openid', jwk, expires_at: expires });
    expect(trusted.status).toBe(303);
    const detail = await fr.get(trusted.headers.location!);
    expect(detail.text).toContain('<title>Émetteur de confiance plain-issuer</title>');
    expect(detail.text).toContain('<dd>n’importe quel subject</dd>');
    const list = await de.get('/admin/trust/issuers');
    expect(list.text).toContain('<th scope="col">Aussteller</th>');
    expect(list.text).toContain('<td>beliebiges Subject</td>');
  });

  it('admin sign-in page in German and French, a wrong token included', async () => {
    const agent = request.agent(app.app);
    const page = await agent.get('/admin/login').set('Accept-Language', 'de');
    expect(page.status).toBe(200);
    expect(htmlLang(page.text)).toBe('de');
    expect(page.text).toContain('<title>Admin-Anmeldung</title>');
    expect(page.text).toContain('<label for="token">Admin-Token</label>');
    expect(page.text).toContain('id="sign-in" class="button button-primary">Anmelden</button>');
    const wrong = await agent.post('/admin/login').set('Accept-Language', 'de').type('form').send({ _csrf: formFields(page.text).csrf, token: 'wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('Dieses Token ist nicht gültig.');

    const french = await request(app.app).get('/admin/login').set('Accept-Language', 'fr-FR');
    expect(french.text).toContain('<h1 id="heading">Connexion administrateur</h1>');
    expect(french.text).toContain('Saisissez le jeton d’administration (ADMIN_TOKEN)');
  });

  it('the JSON API keeps English error descriptions, whatever the Accept-Language', async () => {
    const client = await api(app.app).post('/admin/clients', { redirect_uris: ['not a uri'] }).set('Accept-Language', 'de');
    expect(client.status).toBe(400);
    expect(client.body.error_description).toMatch(/^redirect_uris\.0: must be an absolute URI without a fragment/);
    const key = await api(app.app).post('/admin/keys/api-set', { alg: 'RS256', kid: '', use: 'sig' }).set('Accept-Language', 'fr');
    expect(key.status).toBe(400);
    expect(key.body.error_description).toBe('kid: is required');
    const issuer = await api(app.app)
      .post('/admin/trust/issuers', { issuer: 'x', scope: [], jwk: publicJwk('k'), expires_at: '2001-01-01T00:00:00Z', allow_any_subject: true })
      .set('Accept-Language', 'de');
    expect(issuer.body.error_description).toBe('expires_at: must be in the future');
    const unknown = await api(app.app).get('/admin/keys/nope/nokid').set('Accept-Language', 'de');
    expect(unknown.status).toBe(404);
  });
});

describe('the console form messages matched by their English words', () => {
  it('each field message of src/admin/validation.ts has its key in every catalog', async () => {
    const { readFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const { FIELD_MESSAGE_KEYS } = await import('../../src/admin/view.js');
    const { FIELD_MESSAGES } = await import('../../src/admin/validation.js');
    const root = path.resolve(import.meta.dirname, '../..');
    expect(Object.keys(FIELD_MESSAGE_KEYS)).toEqual(Object.values(FIELD_MESSAGES));
    for (const [english, key] of Object.entries(FIELD_MESSAGE_KEYS)) {
      for (const lang of ['en', 'de', 'fr']) {
        const catalog = JSON.parse(await readFile(path.join(root, `locales/${lang}.json`), 'utf8'));
        expect(key.split('.').reduce((node, part) => node?.[part], catalog), `${lang} ${key}`).toEqual(expect.any(String));
      }
    }
  });
});
