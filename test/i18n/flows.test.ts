import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

const htmlLang = (html: string) => /<html lang="([^"]*)">/.exec(html)?.[1];

describe('the language of the translated screens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  const consent = (overrides: Parameters<TestApp['hydra']['addConsentRequest']>[0] = {}) =>
    t.hydra.addConsentRequest({ requested_scope: ['openid', 'email'], ...overrides });

  it('consent: ui_locales=de fr renders German, scope descriptions included, with <html lang="de">', async () => {
    const challenge = consent({ oidc_context: { ui_locales: ['de', 'fr'] } });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`).set('Accept-Language', 'fr');
    expect(res.status).toBe(200);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('Eine Anwendung möchte auf Ihre Daten zugreifen!');
    expect(res.text).toContain('Ihre E-Mail-Adresse sehen');
    expect(res.text).toContain('2 Berechtigungen angefragt');
    expect(res.text).toContain('<title>Zugriff erlauben</title>');
    // The ids Hydra's browser suite clicks are the same in every language.
    for (const id of ['id="accept"', 'id="reject"', 'id="remember"', 'id="openid"', 'id="email"']) expect(res.text).toContain(id);
  });

  it('consent: ui_locales as one space-separated string, and de-CH falls back to de', async () => {
    const challenge = consent({ oidc_context: { ui_locales: ['de-CH fr'] } });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(htmlLang(res.text)).toBe('de');
  });

  it('consent: ui_locales=xx falls back to the next source (Accept-Language), then the default', async () => {
    const first = consent({ oidc_context: { ui_locales: ['xx'] } });
    const french = await request(t.app).get(`/consent?consent_challenge=${first}`).set('Accept-Language', 'fr-CA, en;q=0.5');
    expect(htmlLang(french.text)).toBe('fr');
    expect(french.text).toContain('Une application demande l’accès à vos données !');
    const second = consent({ oidc_context: { ui_locales: ['xx'] } });
    const english = await request(t.app).get(`/consent?consent_challenge=${second}`);
    expect(htmlLang(english.text)).toBe('en');
    expect(english.text).toContain('An application requests access to your data!');
  });

  it('consent: the locale the login step put in context comes after ui_locales, before the cookie', async () => {
    const fromContext = consent({ context: { locale: 'fr' } });
    const res = await request(t.app).get(`/consent?consent_challenge=${fromContext}`).set('Cookie', 'hlc_lang=de');
    expect(htmlLang(res.text)).toBe('fr');
    const both = consent({ context: { locale: 'fr' }, oidc_context: { ui_locales: ['de'] } });
    expect(htmlLang((await request(t.app).get(`/consent?consent_challenge=${both}`)).text)).toBe('de');
  });

  it('logout: the ui_locales inside request_url (Hydra leaves it out of the logout request)', async () => {
    const challenge = t.hydra.addLogoutRequest({ subject: 'foo@bar.com', request_url: '/oauth2/sessions/logout?ui_locales=fr' });
    const res = await request(t.app).get(`/logout?logout_challenge=${challenge}`).set('Accept-Language', 'de');
    expect(htmlLang(res.text)).toBe('fr');
    expect(res.text).toContain('Voulez-vous vous déconnecter ?');
    expect(res.text).toContain('Vous êtes connecté en tant que <strong>foo@bar.com</strong>.');
  });

  it('the switcher keeps the pick in an HttpOnly, SameSite=Lax cookie, goes back, and the pick beats Accept-Language', async () => {
    const challenge = t.hydra.addLogoutRequest();
    const page = await request(t.app).get(`/logout?logout_challenge=${challenge}`);
    expect(page.text).toContain('id="language-select"');
    expect(page.text).toContain(`name="return_to" value="/logout?logout_challenge=${challenge}"`);
    const pick = await request(t.app).get('/language').query({ lang: 'de', return_to: `/logout?logout_challenge=${challenge}` });
    expect(pick.status).toBe(303);
    expect(pick.headers.location).toBe(`/logout?logout_challenge=${challenge}`);
    expect(String(pick.headers['set-cookie'])).toMatch(/^hlc_lang=de; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    const res = await request(t.app).get(`/logout?logout_challenge=${challenge}`).set('Cookie', 'hlc_lang=de').set('Accept-Language', 'fr');
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('Möchten Sie sich abmelden?');
    expect(res.text).toMatch(/<option value="de" lang="de" selected>Deutsch<\/option>/);
  });

  it('the switcher never sends the browser elsewhere, and ignores a language it has no catalog for', async () => {
    for (const returnTo of ['https://evil.example/', '//evil.example/', '/\\evil.example/', 'logout']) {
      const res = await request(t.app).get('/language').query({ lang: 'fr', return_to: returnTo });
      expect(res.headers.location, returnTo).toBe('/');
    }
    const unknown = await request(t.app).get('/language').query({ lang: 'xx', return_to: '/device/success' });
    expect(unknown.headers['set-cookie']).toBeUndefined();
  });

  it('Accept-Language, then DEFAULT_LOCALE', async () => {
    const german = await request(t.app).get('/device/success').set('Accept-Language', 'it, de-DE;q=0.7');
    expect(htmlLang(german.text)).toBe('de');
    expect(german.text).toContain('Ihr Gerät ist angemeldet');
    const other = await buildTestApp({ env: { DEFAULT_LOCALE: 'fr' } });
    try {
      const res = await request(other.app).get('/device/success').set('Accept-Language', 'it');
      expect(htmlLang(res.text)).toBe('fr');
      expect(res.text).toContain('Votre appareil est connecté');
      expect(res.text).toContain('Protégé par OAuth 2.0 et OpenID Connect');
    } finally {
      await other.close();
    }
  });

  it('a Secure cookie when config.secureCookies (https BASE_URL)', async () => {
    const secure = await buildTestApp({ env: { BASE_URL: 'https://login.example.com', TRUST_PROXY: '1' } });
    try {
      const res = await request(secure.app).get('/language').query({ lang: 'fr', return_to: '/device/success' });
      expect(String(res.headers['set-cookie'])).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
    } finally {
      await secure.close();
    }
  });

  it('error pages of the flows: the status table in the negotiated language', async () => {
    const res = await request(t.app).get('/consent?consent_challenge=unknown').set('Accept-Language', 'de');
    expect(res.status).toBe(404);
    expect(htmlLang(res.text)).toBe('de');
    expect(res.text).toContain('Diese Anmeldeanfrage wurde nicht gefunden');
    const hydraError = await request(t.app).get('/error?error=access_denied').set('Accept-Language', 'fr');
    expect(hydraError.text).toContain('La connexion n’a pas pu aboutir');
    expect(hydraError.text).toContain('<dt>Erreur</dt>');
    // JSON stays English for API clients.
    const json = await request(t.app).get('/consent?consent_challenge=unknown').set('Accept-Language', 'de').set('Accept', 'application/json');
    expect(json.body.error_description).toMatch(/^The link may be incomplete/);
  });

  it('device: the form and its wrong-code message in French', async () => {
    const challenge = t.hydra.addDeviceChallenge();
    const { agent, csrf } = await agentWithForm(t.app, `/device?device_challenge=${challenge}`);
    const res = await agent.post('/device').set('Accept-Language', 'fr').type('form').send({ _csrf: csrf, challenge, user_code: '' });
    expect(res.status).toBe(400);
    expect(htmlLang(res.text)).toBe('fr');
    expect(res.text).toContain('Saisissez le code affiché par votre appareil.');
  });

  it('every page negotiates: a 404 in the language of the browser', async () => {
    const missing = await request(t.app).get('/nowhere').set('Accept-Language', 'de');
    expect(missing.status).toBe(404);
    expect(htmlLang(missing.text)).toBe('de');
    expect(missing.text).toContain('Geschützt durch OAuth 2.0 und OpenID Connect');
  });
});

describe('the consent page with the language switcher', () => {
  it('a scope named like the switcher does not take its id', async () => {
    const { scopeBoxes } = await import('../../src/flows/consent.js');
    expect(scopeBoxes(['language-select'], false)[0]!.id).toBe('scope-language-select');
  });
});

describe('useLocale + localeContext: what the login step passes on to consent', () => {
  it('picks by the whole order: ui_locales, then the cookie, Accept-Language, the default', async () => {
    const express = (await import('express')).default;
    const path = await import('node:path');
    const { lazyCatalogs } = await import('../../src/http/i18n.js');
    const { catalogsReady, localeContext, negotiateLocale, splitUiLocales, useLocale } = await import('../../src/http/locale.js');
    const app = express();
    app.use(catalogsReady(lazyCatalogs(path.resolve(import.meta.dirname, '../../locales'))));
    app.use(negotiateLocale({ defaultLocale: 'en', basePath: '' }));
    app.get('/', (req, res) => {
      const uiLocales = typeof req.query.ui === 'string' ? req.query.ui : undefined;
      res.json({ context: localeContext(useLocale(res, splitUiLocales(uiLocales))), pageLang: res.locals.lang });
    });
    expect((await request(app).get('/').query({ ui: 'xx de-AT' }).set('Cookie', 'hlc_lang=fr')).body).toEqual({ context: { locale: 'de' }, pageLang: 'de' });
    expect((await request(app).get('/').set('Cookie', 'hlc_lang=fr').set('Accept-Language', 'de')).body.context).toEqual({ locale: 'fr' });
    expect((await request(app).get('/').set('Accept-Language', 'de')).body.context).toEqual({ locale: 'de' });
    expect((await request(app).get('/')).body.context).toEqual({ locale: 'en' });
  });
});
