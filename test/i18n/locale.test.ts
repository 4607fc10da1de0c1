import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeScope } from '../../src/flows/scopes.js';
import { loadCatalogs, plainText, type Translate } from '../../src/http/i18n.js';
import { localeContext, matchLocale, parseAcceptLanguage, splitUiLocales, uiLocalesOfUrl } from '../../src/http/locale.js';

const LOCALES = path.resolve(import.meta.dirname, '../../locales');

/** Every leaf key of a catalog, as a dotted path (plural forms each count: `x_one`, `x_other`). */
function leafKeys(catalog: unknown, prefix = ''): string[] {
  if (typeof catalog !== 'object' || catalog === null) return [prefix];
  return Object.entries(catalog).flatMap(([key, value]) => leafKeys(value, prefix ? `${prefix}.${key}` : key));
}

/** The {{placeholders}} of a message, sorted. */
function placeholders(message: string): string[] {
  return [...message.matchAll(/\{\{\s*-?\s*(\w+)/g)].map((m) => m[1]!).sort();
}

describe('message catalogs', async () => {
  const files = (await readdir(LOCALES)).filter((file) => file.endsWith('.json'));
  const catalogs = Object.fromEntries(
    await Promise.all(files.map(async (file) => [file.slice(0, -5), JSON.parse(await readFile(path.join(LOCALES, file), 'utf8'))] as const)),
  );
  const english = catalogs.en as Record<string, unknown>;
  const englishKeys = leafKeys(english);
  const lookup = (catalog: unknown, key: string) => key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], catalog);

  it('ships English, German and French', () => {
    expect(Object.keys(catalogs).sort()).toEqual(expect.arrayContaining(['de', 'en', 'fr']));
  });

  for (const [lang, catalog] of Object.entries(catalogs)) {
    if (lang === 'en') continue;
    it(`${lang}.json has every key of en.json, each a non-empty string with the same placeholders`, () => {
      const missing = englishKeys.filter((key) => typeof lookup(catalog, key) !== 'string' || lookup(catalog, key) === '');
      expect(missing, `keys missing from locales/${lang}.json`).toEqual([]);
      for (const key of englishKeys) {
        expect(placeholders(lookup(catalog, key) as string), `${lang}: ${key}`).toEqual(placeholders(lookup(english, key) as string));
      }
    });
    it(`${lang}.json has no key English lacks (a typo would never be shown)`, () => {
      expect(leafKeys(catalog).filter((key) => !englishKeys.includes(key))).toEqual([]);
    });
  }

  it('plurals and Intl number formatting come through i18next', async () => {
    const loaded = await loadCatalogs(LOCALES);
    expect(loaded.languages[0]).toBe('en');
    expect(loaded.translator('en')('consent.scopes_count', { count: 1 })).toBe('1 permission requested');
    expect(loaded.translator('en')('consent.scopes_count', { count: 1200 })).toBe('1,200 permissions requested');
    expect(loaded.translator('de')('consent.scopes_count', { count: 1200 })).toBe('1.200 Berechtigungen angefragt');
    expect(loaded.translator('fr')('consent.scopes_count', { count: 2 })).toBe('2 autorisations demandées');
  });

  it('interpolated values are escaped; a scope description is left for the page to escape', async () => {
    const loaded = await loadCatalogs(LOCALES);
    expect(loaded.translator('en')('logout.signed_in_as', { subject: '<b>x</b>' })).toBe('You are signed in as <strong>&lt;b&gt;x&lt;/b&gt;</strong>.');
    const de = loaded.translator('de');
    expect(describeScope('email', de)).toBe('Ihre E-Mail-Adresse sehen');
    expect(describeScope('a<b>', de)).toBe('Zugriff auf „a<b>“');
    expect(describeScope('constructor', de)).toBe('Zugriff auf „constructor“');
    expect(describeScope('api:read', loaded.translator('en'))).toBe('Access "api:read"');
  });
});

describe('locale negotiation', () => {
  const supported = ['en', 'de', 'fr'];

  it('first supported tag wins, with the base-language fallback (de-CH → de) before the next tag', () => {
    expect(matchLocale(['xx', 'de', 'fr'], supported)).toBe('de');
    expect(matchLocale(['de-CH', 'fr'], supported)).toBe('de');
    expect(matchLocale(['FR-ca'], supported)).toBe('fr');
    expect(matchLocale(['xx', 'yy'], supported)).toBeUndefined();
    expect(matchLocale(['', undefined, 'e"n'], supported)).toBeUndefined();
  });

  it('reads ui_locales as OIDC sends it (space-separated) and as Hydra lists it', () => {
    expect(splitUiLocales('de  fr')).toEqual(['de', 'fr']);
    expect(splitUiLocales(['de fr', 'en'])).toEqual(['de', 'fr', 'en']);
    expect(splitUiLocales(undefined)).toEqual([]);
    expect(uiLocalesOfUrl('/oauth2/sessions/logout?id_token_hint=x&ui_locales=fr%20de')).toEqual(['fr', 'de']);
    expect(uiLocalesOfUrl('http://hydra.test/oauth2/sessions/logout')).toEqual([]);
  });

  it('orders Accept-Language by q, keeps header order on ties, drops q=0 and *', () => {
    expect(parseAcceptLanguage('fr;q=0.5, de-AT, en;q=0.8, *;q=0.9, it;q=0')).toEqual(['de-AT', 'en', 'fr']);
    expect(parseAcceptLanguage(undefined)).toEqual([]);
  });

  it('localeContext is what the login accept carries to consent', () => {
    expect(localeContext('de')).toEqual({ locale: 'de' });
  });
});

describe('Intl formatting for the page language', () => {
  it('formatNumber and formatDate follow the negotiated language', async () => {
    const express = (await import('express')).default;
    const request = (await import('supertest')).default;
    const { lazyCatalogs } = await import('../../src/http/i18n.js');
    const { catalogsReady, negotiateLocale } = await import('../../src/http/locale.js');
    const app = express();
    app.use(catalogsReady(lazyCatalogs(LOCALES)), negotiateLocale({ defaultLocale: 'en', basePath: '' }));
    const when = Date.UTC(2026, 0, 2, 12, 0);
    app.get('/', (_req, res) => {
      res.json({ n: res.locals.formatNumber(1234.5), d: res.locals.formatDate(when, { dateStyle: 'long', timeZone: 'UTC' }) });
    });
    expect((await request(app).get('/').set('Accept-Language', 'de')).body).toEqual({ n: '1.234,5', d: '2. Januar 2026' });
    expect((await request(app).get('/').set('Accept-Language', 'fr')).body).toEqual({ n: '1\u202f234,5', d: '2 janvier 2026' });
    expect((await request(app).get('/')).body).toEqual({ n: '1,234.5', d: 'January 2, 2026' });
  });
});

describe('DEFAULT_LOCALE', () => {
  it('defaults to en, takes a language tag, and refuses anything else', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const env = { NODE_ENV: 'test', HYDRA_ADMIN_URL: 'http://hydra.test:4445', SESSION_SECRET: 'test-session-secret-0123456789abcdef', LOG_LEVEL: 'silent' };
    expect(loadConfig(env).config.defaultLocale).toBe('en');
    expect(loadConfig({ ...env, DEFAULT_LOCALE: 'pt-BR' }).config.defaultLocale).toBe('pt-BR');
    expect(() => loadConfig({ ...env, DEFAULT_LOCALE: 'de; rm' })).toThrow(/DEFAULT_LOCALE/);
  });
});

describe('the translators of loadCatalogs', () => {
  it('answer a key without values the same every time, and still interpolate and pluralise each call with values', async () => {
    const catalogs = await loadCatalogs(LOCALES);
    const de = catalogs.translator('de');
    expect(de('consent.accept')).toBe('Zugriff erlauben');
    expect(de('consent.accept')).toBe('Zugriff erlauben');
    expect(catalogs.translator('fr')('consent.accept')).not.toBe('Zugriff erlauben');
    expect(de('scopes.other', { scope: 'a' })).toBe('Zugriff auf „a“');
    expect(de('scopes.other', { scope: 'b' })).toBe('Zugriff auf „b“');
    expect(de('consent.scopes_count', { count: 1 })).toBe('1 Berechtigung angefragt');
    expect(de('consent.scopes_count', { count: 3 })).toBe('3 Berechtigungen angefragt');
  });
});

describe('the translators keep texts by key and values', () => {
  it('a value with markup is escaped the same the second time, and values that only look alike do not share a text', async () => {
    const en = (await loadCatalogs(LOCALES)).translator('en');
    const first = en('consent.lead', { application: '<b>Shop</b>' });
    expect(first).toContain('&lt;b&gt;Shop&lt;/b&gt;');
    expect(en('consent.lead', { application: '<b>Shop</b>' })).toBe(first);
    expect(en('consent.lead', { application: 'Shop' })).not.toBe(first);
    expect(en('scopes.other', { scope: '1' })).toBe(en('scopes.other', { scope: 1 }));
    expect(en('scopes.other', { scope: 'a\u0000b' })).toContain('a\u0000b');
  });
});

describe('plainText (values left for the page to escape)', () => {
  it('is one kept translator per catalog language, unescaped and keyed by its values; any other t gets a fresh one', async () => {
    const catalogs = await loadCatalogs(LOCALES);
    const en = catalogs.translator('en');
    const plain = plainText(en);
    expect(plainText(en)).toBe(plain);
    expect(plainText(catalogs.translator('de'))).not.toBe(plain);
    expect(plain('consent.lead', { application: '<b>Shop</b>' })).toContain('<b>Shop</b>');
    expect(plain('consent.lead', { application: '<b>Shop</b>' })).toBe(plain('consent.lead', { application: '<b>Shop</b>' }));
    expect(plain('consent.lead', { application: 'Other' })).toContain('Other');
    // The escaping twin is unchanged by the plain one's texts.
    expect(en('consent.lead', { application: '<b>Shop</b>' })).toContain('&lt;b&gt;Shop&lt;/b&gt;');
    const raw = ((key: string, options?: { application?: string }) => `${key}:${options?.application}`) as unknown as Translate;
    expect(plainText(raw)('consent.lead', { application: '<b>' })).toBe('consent.lead:<b>');
    expect(plainText(raw)).not.toBe(plainText(raw));
  });
});
