import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import i18next, { type TFunction } from 'i18next';

/** A translator fixed to one language: `t('consent.title')`, `t('scopes.other', { scope })`. */
export type Translate = TFunction;

/** A translator whose values are not HTML-escaped: for text the page escapes itself. */
export type PlainTranslate = (key: string, values?: Record<string, unknown>) => string;

/**
 * `t` for text that EJS's `<%= %>`, a mail's plain text or a JSON field carries (page titles,
 * confirm pages, alerts, option labels): i18next must not escape the values first, or they would
 * be escaped twice.
 */
export function plainText(t: Translate): PlainTranslate {
  return plainTwins.get(t) ?? unescaped(t);
}

function unescaped(t: Translate): PlainTranslate {
  return (key, values) => String(t(key, { ...values, interpolation: { escapeValue: false } }));
}

/**
 * Each catalog translator's plainText, remembering its texts as the translator does (memoised):
 * the error pages, a 503 under a sign-in flood included, are made of them.
 */
const plainTwins = new WeakMap<Translate, PlainTranslate>();

/** The message catalogs in locales/<lang>.json, loaded once. */
export interface Catalogs {
  /** Every language with a catalog, `en` first; what locale negotiation can choose from. */
  readonly languages: readonly string[];
  /** The translator for one of `languages` (anything else gets English). */
  translator(lang: string): Translate;
}

/** A catalog's file name is its BCP 47 tag: en.json, de.json, pt-BR.json. */
const CATALOG_FILE = /^([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\.json$/;

/**
 * Reads every locales/<lang>.json asynchronously and hands them to one i18next instance.
 *
 * Why i18next: it is the most used and longest kept catalog library in Node, its catalogs are
 * plain JSON a translator (or a fork) can edit, plurals come from the platform's Intl.PluralRules
 * (`key_one` / `key_other`, and `_few`/`_many` where a language has them), and interpolation is
 * `{{name}}`. Interpolated values are escaped as EJS's `<%= %>` escapes them, so `<%- t(...) %>` may carry
 * the catalog's markup (`<strong>`) and never a person's or a client's text unescaped.
 * English is the fallback for a key a catalog lacks (test/http/locale.test.ts fails on that).
 */
export async function loadCatalogs(dir: string): Promise<Catalogs> {
  const files = (await readdir(dir)).filter((file) => CATALOG_FILE.test(file));
  const entries = await Promise.all(
    files.map(async (file) => {
      const lang = CATALOG_FILE.exec(file)![1]!;
      const catalog: unknown = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
      return [lang, { translation: catalog as Record<string, unknown> }] as const;
    }),
  );
  const resources = Object.fromEntries(entries);
  if (!resources.en) throw new Error(`${dir}/en.json is missing: English is every other catalog's fallback`);
  const languages = ['en', ...Object.keys(resources).filter((lang) => lang !== 'en').sort()];
  const instance = i18next.createInstance();
  await instance.init({
    resources,
    lng: 'en',
    fallbackLng: 'en',
    supportedLngs: languages,
    // de-CH is matched to de by our negotiation (src/http/locale.ts), never by i18next.
    load: 'currentOnly',
    initAsync: false,
    returnNull: false,
    interpolation: { escapeValue: true, escape: escapeHtml },
  });
  const translators = new Map(
    languages.map((lang) => {
      const fixed = instance.getFixedT(lang);
      const t = memoised(fixed);
      plainTwins.set(t, memoised(unescaped(fixed)));
      return [lang, t] as const;
    }),
  );
  return {
    languages,
    translator: (lang) => translators.get(lang) ?? translators.get('en')!,
  };
}

/** Texts kept per language (see memoised); past this the cache starts again, so odd values cannot grow it. */
const MAX_REMEMBERED = 2000;

/**
 * A translator that keeps each text once made: a page asks for 20–40 of them, and i18next
 * resolves and interpolates every call afresh (about 10 µs each without values, several times
 * that with: the largest cost of a login page render before this). Catalogs do not change after
 * loading, so a text cannot go stale. A call is kept by its key and values when the values are
 * plain strings, numbers and booleans (the catalog's interpolations and plurals); anything else
 * (i18next options such as interpolation settings) goes to i18next each time.
 */
function memoised<T extends Translate | PlainTranslate>(t: T): T {
  const texts = new Map<string, string>();
  const call = t as (key: unknown, options?: unknown) => unknown;
  const lookup = (key: string | string[], options?: Record<string, unknown>): unknown => {
    const id = typeof key === 'string' ? cacheKey(key, options) : undefined;
    if (id === undefined) return call(key, options);
    let text = texts.get(id);
    if (text === undefined) {
      text = String(call(key, options));
      if (texts.size >= MAX_REMEMBERED) texts.clear();
      texts.set(id, text);
    }
    return text;
  };
  return Object.assign(lookup, t) as unknown as T;
}

/** The key and its values as one string, or undefined when a value is not plain. */
function cacheKey(key: string, options: Record<string, unknown> | undefined): string | undefined {
  if (options === undefined) return key;
  let id = key;
  for (const name in options) {
    const value = options[name];
    const kind = typeof value;
    if (kind !== 'string' && kind !== 'number' && kind !== 'boolean') return undefined;
    // \u0000 separates; a value holding one is not kept, so ids of different calls cannot meet.
    if (kind === 'string' && (value as string).includes('\u0000')) return undefined;
    id += `\u0000${name}\u0000${kind === 'string' ? 's' : kind === 'number' ? 'n' : 'b'}${String(value)}`;
  }
  return id;
}

/** Loads the catalogs at the first call and shares them; a failed load is tried again at the next. */
export function lazyCatalogs(dir: string): () => Promise<Catalogs> {
  let loading: Promise<Catalogs> | undefined;
  return () =>
    (loading ??= loadCatalogs(dir).catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };

/** The same escaping as EJS's `<%= %>`, so a value reads the same through a catalog or not. */
function escapeHtml(value: string): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}
