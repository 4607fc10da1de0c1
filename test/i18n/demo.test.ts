// The demo relying party (/demo) in German and French: the start page, a form re-rendered with its
// error, the result pages of failed and successful steps. What went over the wire (parameters,
// URLs, JSON, Hydra's error codes) stays as it was, and a value from a client, a token or the
// query string is escaped once, through the catalog or not. The whole flow in English is
// test/demo/demo.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

const htmlLang = (html: string) => /<html lang="([^"]*)">/.exec(html)?.[1];
const title = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1];
const LANGS = ['de', 'fr'] as const;

/** Just enough of Hydra's public API for the client credentials grant: discovery and the token endpoint. */
async function startFakePublicHydra(onToken: (token: string, scope: string) => void) {
  let issuer = '';
  let counter = 0;
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (req.url === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}oauth2/auth`,
        token_endpoint: `${issuer}oauth2/token`,
        jwks_uri: `${issuer}.well-known/jwks.json`,
        response_types_supported: ['code'],
      });
    }
    if (req.url === '/oauth2/token' && req.method === 'POST') {
      const scope = new URLSearchParams(body).get('scope') ?? '';
      const token = `ory_at_test_${++counter}`;
      onToken(token, scope);
      return json(200, { access_token: token, token_type: 'bearer', expires_in: 3599, scope });
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const demoEnv = (publicUrl: string, m2mClientId = 'demo-m2m') => ({
  BASE_URL: 'http://localhost:3000',
  HYDRA_PUBLIC_URL: publicUrl,
  DEMO_CLIENT_ID: 'demo-client',
  DEMO_CLIENT_SECRET: 'demo-client-secret-for-tests',
  DEMO_M2M_CLIENT_ID: m2mClientId,
  DEMO_M2M_CLIENT_SECRET: 'demo-m2m-secret-for-tests',
});

describe('the demo in German and French', () => {
  let t: TestApp;
  let fake: Awaited<ReturnType<typeof startFakePublicHydra>>;
  beforeAll(async () => {
    let sink: (token: string, scope: string) => void = () => {};
    fake = await startFakePublicHydra((token, scope) => sink(token, scope));
    t = await buildTestApp({ env: demoEnv(fake.issuer) });
    sink = (token, scope) => t.hydra.addToken(token, { active: true, token_type: 'Bearer', token_use: 'access_token', sub: 'demo-m2m', client_id: 'demo-m2m', scope });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('the start page in German: words translated, ids, parameters and URLs as they were', async () => {
    const res = await request(t.app).get('/demo').set('Accept-Language', 'de');
    expect(res.status).toBe(200);
    expect(htmlLang(res.text)).toBe('de');
    expect(title(res.text)).toBe('Demo-Anwendung');
    for (const words of ['Anmeldung starten', '(nicht gesendet)', 'max_age (Sekunden)', 'Mit Hydra anmelden', 'Token für demo-m2m holen', 'Client Credentials']) {
      expect(res.text).toContain(words);
    }
    expect(res.text).toContain('Der Demo-Client darf <code>https://api.example.com</code> anfragen');
    expect(res.text).toContain('<code>response_type=code</code>');
    expect(res.text).toContain('<code>http://localhost:3000/demo/callback</code>');
    for (const id of ['id="start"', 'id="prompt"', 'id="max_age"', 'id="audience"', 'id="client-credentials"', 'id="scope-openid"', 'id="m2m-scope"']) {
      expect(res.text).toContain(id);
    }
    expect(res.text).not.toContain('Sign in with Hydra');
  });

  it('the start page in French', async () => {
    const res = await request(t.app).get('/demo').set('Accept-Language', 'fr-FR, en;q=0.5');
    expect(htmlLang(res.text)).toBe('fr');
    expect(title(res.text)).toBe('Application de démonstration');
    for (const words of ['Lancer une connexion', '(non envoyé)', 'Se connecter avec Hydra', 'Obtenir un jeton pour demo-m2m', 'URI de redirection']) {
      expect(res.text).toContain(words);
    }
    expect(res.text).toContain('<code>none</code> n’affiche jamais d’écran');
  });

  it('a start form with a mistake comes back in the language, the typed values kept and escaped', async () => {
    for (const [lang, message] of [['de', 'Wählen Sie mindestens einen Scope.'], ['fr', 'Choisissez au moins un scope.']] as const) {
      const { agent, csrf } = await agentWithForm(t.app, '/demo');
      const res = await agent
        .post('/demo/start')
        .set('Accept-Language', lang)
        .type('form')
        .send({ _csrf: csrf, prompt: 'login', audience: '"><script>alert(1)</script>', max_age: '60' });
      expect(res.status).toBe(400);
      expect(htmlLang(res.text)).toBe(lang);
      expect(res.text).toContain(`<div class="alert alert-error" role="alert">${message}</div>`);
      expect(res.text).toContain('value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
      expect(res.text).not.toContain('<script>alert(1)');
      expect(res.text).toMatch(/<option value="login" selected>login<\/option>/);
    }
    const { agent, csrf } = await agentWithForm(t.app, '/demo');
    const res = await agent.post('/demo/start').set('Accept-Language', 'de').type('form').send({ _csrf: csrf, scope: 'openid', max_age: 'soon' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('max_age ist eine Anzahl von Sekunden.');
  });

  it('an error Hydra sent to the callback, in German: the explanation translated, the code and description as sent', async () => {
    const res = await request(t.app)
      .get('/demo/callback')
      .query({ error: 'access_denied', error_description: 'The resource owner denied the request', state: 'not-ours' })
      .set('Accept-Language', 'de');
    expect(res.status).toBe(400);
    expect(title(res.text)).toBe('Anmeldung nicht abgeschlossen');
    expect(res.text).toContain('<h2>Autorisierungsantwort</h2>');
    expect(res.text).toContain('Hydra hat Ihren Browser mit error=access_denied statt eines Codes zum Callback zurückgeleitet.');
    expect(res.text).toContain('Hydra hat die Autorisierung mit einem Fehler beendet');
    expect(res.text).toContain('<code class="demo-error-code">access_denied</code>');
    expect(res.text).toContain('The resource owner denied the request');
    expect(res.text).toContain('Die Person (oder unser Zustimmungsbildschirm) hat abgelehnt: Hydra hat keinen Code ausgestellt.');
    expect(res.text).toContain('Der State dieser Antwort passt zu keiner in diesem Browser gestarteten Anmeldung');
    expect(res.text).toContain('Zurück zur Demo');
  });

  it('an error in French, and what the query string carries is escaped once, inside the catalog’s sentence too', async () => {
    const res = await request(t.app)
      .get('/demo/callback')
      .query({ error: '<img src=x onerror=alert(1)>', error_description: '<b>bold</b> & "quoted"' })
      .set('Accept-Language', 'fr');
    expect(res.status).toBe(400);
    expect(htmlLang(res.text)).toBe('fr');
    expect(title(res.text)).toBe('La connexion n’a pas abouti');
    expect(res.text).toContain('Hydra a renvoyé votre navigateur vers le callback avec error=&lt;img src=x onerror=alert(1)&gt; au lieu d’un code.');
    expect(res.text).toContain('&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;');
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).not.toContain('&amp;lt;');
  });

  it('refresh and logout without tokens explain themselves in the language', async () => {
    const { agent, csrf } = await agentWithForm(t.app, '/demo');
    const refresh = await agent.post('/demo/refresh').set('Accept-Language', 'fr').type('form').send({ _csrf: csrf });
    expect(refresh.status).toBe(400);
    expect(title(refresh.text)).toBe('Aucun rafraîchissement effectué');
    expect(refresh.text).toContain('Rien n’a été envoyé : cette session n’a pas de jeton de rafraîchissement.');
    expect(refresh.text).toContain('Connectez-vous d’abord avec le scope offline_access');
    const logout = await agent.post('/demo/logout').set('Accept-Language', 'de').type('form').send({ _csrf: csrf });
    expect(logout.status).toBe(400);
    expect(title(logout.text)).toBe('Abmeldung nicht gestartet');
    expect(logout.text).toContain('Die RP-initiierte Abmeldung sendet das ID-Token als id_token_hint');
  });

  it('client credentials in German: the steps translated, the token JSON as Hydra sent it, a typed scope escaped', async () => {
    const { agent, csrf } = await agentWithForm(t.app, '/demo');
    const res = await agent.post('/demo/client-credentials').set('Accept-Language', 'de').type('form').send({ _csrf: csrf, scope: 'demo.read <b>' });
    expect(res.status, res.text).toBe(200);
    expect(title(res.text)).toBe('Client Credentials');
    expect(res.text).toContain('<h2>Token-Antwort (Client Credentials)</h2>');
    expect(res.text).toContain(`Die App hat sich als demo-m2m mit ihrem Secret (HTTP Basic) am Token-Endpunkt von Hydra authentifiziert (POST ${fake.issuer}oauth2/token, grant_type=client_credentials, scope=demo.read &lt;b&gt;)`);
    expect(res.text).toContain('Hydra hat nur mit einem Access Token geantwortet.');
    expect(res.text).toContain('<h2>Introspektion des Machine-to-Machine-Access-Tokens</h2>');
    expect(res.text).toContain('Laut Hydra ist es aktiv.');
    expect(res.text).toContain('Das Subject (sub) ist der Client selbst');
    // The JSON keeps its keys and values; only its escaping is EJS's.
    expect(res.text).toContain('&#34;scope&#34;: &#34;demo.read &lt;b&gt;&#34;');
    expect(res.text).toContain('&#34;active&#34;: true');
    expect(res.text).not.toContain('<b>');
  });
});

describe('the demo when Hydra is down, with a client ID that is markup', () => {
  let t: TestApp;
  beforeAll(async () => {
    // A port nothing listens on: discovery fails.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    t = await buildTestApp({ env: demoEnv(`http://127.0.0.1:${port}/`, '<i>m2m</i>') });
  });
  afterAll(() => t.close());

  it('a client ID passed into a catalog sentence stays text', async () => {
    for (const lang of LANGS) {
      const res = await request(t.app).get('/demo').set('Accept-Language', lang);
      expect(res.status).toBe(200);
      expect(res.text).toContain('<code>&lt;i&gt;m2m&lt;/i&gt;</code>');
      expect(res.text).not.toContain('<i>m2m</i>');
      expect(res.text).not.toContain('&amp;lt;');
    }
  });

  it('says in the language that discovery failed, with no stack', async () => {
    for (const [lang, words] of [['de', 'Discovery: Hydra war nicht erreichbar. Die Anfrage an die öffentliche API von Hydra ist fehlgeschlagen'], ['fr', 'Découverte : Hydra est injoignable. La requête vers l’API publique de Hydra a échoué']] as const) {
      const { agent, csrf } = await agentWithForm(t.app, '/demo');
      const res = await agent.post('/demo/start').set('Accept-Language', lang).type('form').send({ _csrf: csrf, scope: 'openid' });
      expect(res.status).toBe(502);
      expect(res.text).toContain(words);
      expect(res.text).not.toMatch(/at \S+ \(|node_modules/);
    }
  });
});
