import { parse as parseCookies } from 'cookie';
import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import type { Catalogs, Translate } from './i18n.js';

/**
 * Which language a page speaks. The one place it is decided, in this order:
 *   1. `ui_locales` of Hydra's `oidc_context` (login and consent): the client asked for it;
 *      on consent, then the `locale` the login step put in its accept's `context` (localeContext);
 *   2. the `ui_locales` parameter inside a logout request's `request_url` (Hydra does not copy
 *      it into the logout request, a known Hydra issue, but the URL still carries it);
 *   3. the language the person picked with the switcher in the page foot (cookie LOCALE_COOKIE);
 *   4. the browser's `Accept-Language`;
 *   5. the operator's DEFAULT_LOCALE (config.defaultLocale, `en`).
 * Each list is tried in its own order, and a tag nobody has a catalog for falls back to its base
 * language (BCP 47: `de-CH` → `de`) before the next tag is tried. Steps 1–2 need Hydra's request,
 * so the flow calls useLocale() once it has it; negotiateLocale() does 3–5 before the handler runs.
 */

/** The cookie that keeps the language picked in the page foot. */
export const LOCALE_COOKIE = 'hlc_lang';
/** More tags than anyone sends; a longer header or parameter is cut, not parsed whole. */
const MAX_TAGS = 20;
const TAG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

/** The first of `candidates` with a catalog: exactly (any case), else its base language. */
export function matchLocale(candidates: Iterable<string | undefined>, supported: readonly string[]): string | undefined {
  const byLower = lowerCased(supported);
  for (const candidate of candidates) {
    if (candidate === undefined || !TAG.test(candidate)) continue;
    const tag = candidate.toLowerCase();
    const match = byLower.get(tag) ?? byLower.get(tag.split('-')[0]!);
    if (match) return match;
  }
  return undefined;
}

/** Each list of supported languages by lower-cased tag, made once: negotiation runs on every page. */
const LOWER_CASED = new WeakMap<readonly string[], ReadonlyMap<string, string>>();

function lowerCased(supported: readonly string[]): ReadonlyMap<string, string> {
  let byLower = LOWER_CASED.get(supported);
  if (!byLower) LOWER_CASED.set(supported, (byLower = new Map(supported.map((lang) => [lang.toLowerCase(), lang]))));
  return byLower;
}

/** `ui_locales` as OpenID Connect Core §3.1.2.1 sends it: space-separated tags, in preference order. Hydra's oidc_context has it as a list. */
export function splitUiLocales(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string').flatMap(splitUiLocales).slice(0, MAX_TAGS);
  if (typeof value !== 'string') return [];
  return value.split(/\s+/).filter(Boolean).slice(0, MAX_TAGS);
}

/** The `ui_locales` of a request URL (Hydra's logout request_url may be a bare path). */
export function uiLocalesOfUrl(requestUrl: string | null | undefined): string[] {
  if (!requestUrl || !URL.canParse(requestUrl, 'http://hydra.invalid')) return [];
  return splitUiLocales(new URL(requestUrl, 'http://hydra.invalid').searchParams.get('ui_locales') ?? undefined);
}

/** Accept-Language's tags, most wanted first (q=0 and `*` left out; equal q keeps header order). */
export function parseAcceptLanguage(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .slice(0, MAX_TAGS)
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter(({ tag, q }) => tag !== '' && tag !== '*' && q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map(({ tag }) => tag);
}

/**
 * What the login step puts in its accept's `context` so the consent step speaks the same
 * language (Hydra hands `context` to the consent request unchanged).
 */
export function localeContext(locale: string): { locale: string } {
  return { locale };
}

/** The `locale` a login accept's context carried (localeContext), if any. */
export function contextLocale(context: unknown): string | undefined {
  const locale = (context as { locale?: unknown } | null | undefined)?.locale;
  return typeof locale === 'string' ? locale : undefined;
}

interface Formatters {
  formatNumber(value: number): string;
  formatDate(value: Date | number, options?: Intl.DateTimeFormatOptions): string;
}

/** Intl formatters per language, built at first use: a formatter costs more to build than a page to render. */
const FORMATTERS = new Map<string, Formatters>();

/**
 * A date as every page shows it unless told otherwise: in UTC, and saying so ("2 Dec 2026, 03:04
 * UTC"). The server cannot know the reader's time zone, and its own would differ between instances.
 */
const DATE_IN_UTC: Intl.DateTimeFormatOptions = {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZone: 'UTC',
  timeZoneName: 'short',
};

function formattersFor(lang: string): Formatters {
  let formatters = FORMATTERS.get(lang);
  if (!formatters) {
    let numbers: Intl.NumberFormat | undefined;
    const dates = new Map<string, Intl.DateTimeFormat>();
    const dateFormat = (options: Intl.DateTimeFormatOptions) => {
      const key = JSON.stringify(options);
      let format = dates.get(key);
      if (!format) dates.set(key, (format = new Intl.DateTimeFormat(lang, options)));
      return format;
    };
    formatters = {
      formatNumber: (value) => (numbers ??= new Intl.NumberFormat(lang)).format(value),
      formatDate: (value, options = DATE_IN_UTC) => dateFormat(options).format(value),
    };
    FORMATTERS.set(lang, formatters);
  }
  return formatters;
}

/** What a page needs to speak `lang`: the translator, `<html lang>`, and Intl formatting (formatNumber, formatDate). */
function applyLocale(res: Response, catalogs: Catalogs, lang: string): void {
  res.locals.lang = lang;
  res.locals.t = catalogs.translator(lang);
  const { formatNumber, formatDate } = formattersFor(lang);
  res.locals.formatNumber = formatNumber;
  res.locals.formatDate = formatDate;
}

interface Negotiation {
  catalogs: Catalogs;
  /** Steps 3–5, already read from the request (the cookie, Accept-Language, the default); unset until negotiateLocale ran. */
  rest?: string[];
}

/**
 * Each response's catalogs and negotiation. Kept beside res.locals, not in it: what res.locals
 * holds is copied into every template and include of the page.
 */
const negotiations = new WeakMap<Response, Negotiation>();

/** The switcher's choices, made once per set of catalogs: each language named in itself. */
const SWITCHER_LANGUAGES = new WeakMap<Catalogs, ReadonlyArray<{ code: string; name: string }>>();

function switcherLanguages(catalogs: Catalogs): ReadonlyArray<{ code: string; name: string }> {
  let languages = SWITCHER_LANGUAGES.get(catalogs);
  if (!languages) {
    languages = catalogs.languages.map((code) => ({ code, name: catalogs.translator(code)('language.name') }));
    SWITCHER_LANGUAGES.set(catalogs, languages);
  }
  return languages;
}

/**
 * Every page: the catalogs loaded (the first request waits for them, later ones do not), and
 * English until negotiateLocale has read the request (a 404 of the outer app stays English).
 */
export function catalogsReady(catalogs: () => Promise<Catalogs>): RequestHandler {
  // Once loaded, a request goes on at once, not after an await of its own.
  let ready: Catalogs | undefined;
  return async (_req, res, next) => {
    const loaded = (ready ??= await catalogs());
    negotiations.set(res, { catalogs: loaded });
    applyLocale(res, loaded, 'en');
    next();
  };
}

/**
 * The translated screens: steps 3–5, and the foot's language switcher. The handler may then call
 * useLocale() with steps 1–2. Runs after catalogsReady.
 */
export function negotiateLocale(config: Pick<Config, 'defaultLocale' | 'basePath'>): RequestHandler {
  return (req, res, next) => {
    const negotiation = negotiations.get(res)!;
    const { catalogs } = negotiation;
    negotiation.rest = laterSources(req, config.defaultLocale);
    applyLocale(res, catalogs, matchLocale(negotiation.rest, catalogs.languages) ?? 'en');
    // The switcher reloads the page it is on: only a GET can be reloaded (a form's answer cannot).
    if (req.method === 'GET') {
      res.locals.languageSwitch = {
        action: `${config.basePath}/language`,
        returnTo: req.originalUrl,
        languages: switcherLanguages(catalogs),
      };
    }
    next();
  };
}

/** Steps 3–5 of a request: the cookie, Accept-Language's tags, the default (and English, last). */
function laterSources(req: Request, defaultLocale: string): string[] {
  const cookie = req.headers.cookie ? parseCookies(req.headers.cookie)[LOCALE_COOKIE] : undefined;
  return [cookie ?? '', ...parseAcceptLanguage(req.headers['accept-language']), defaultLocale, 'en'];
}

/** Steps 1–2 from Hydra's request, ahead of what negotiateLocale read; returns the language chosen. */
export function useLocale(res: Response, first: readonly (string | undefined)[]): string {
  const negotiation = negotiations.get(res);
  if (!negotiation?.rest) return String(res.locals.lang ?? 'en');
  const lang = matchLocale([...first, ...negotiation.rest], negotiation.catalogs.languages) ?? 'en';
  applyLocale(res, negotiation.catalogs, lang);
  return lang;
}

/** The translator a handler renders with (English before negotiation). */
export function translator(res: Response): Translate {
  return res.locals.t as Translate;
}

/**
 * GET /language?lang=de&return_to=/consent?…: the foot's switcher. Keeps the choice in a cookie
 * (HttpOnly: no script reads it; Lax: sent on Hydra's redirects back to us) and goes back to the
 * page, which must be one of ours (a path under BASE_URL, never another origin).
 */
export function languageSwitch(config: Pick<Config, 'basePath' | 'secureCookies'>): RequestHandler {
  return (req: Request, res: Response) => {
    const { catalogs } = negotiations.get(res)!;
    const lang = matchLocale([typeof req.query.lang === 'string' ? req.query.lang : undefined], catalogs.languages);
    if (lang) {
      res.cookie(LOCALE_COOKIE, lang, {
        httpOnly: true,
        sameSite: 'lax',
        secure: config.secureCookies,
        path: config.basePath || '/',
        maxAge: 365 * 24 * 3600 * 1000,
      });
    }
    const returnTo = typeof req.query.return_to === 'string' ? req.query.return_to : '';
    const local = returnTo.startsWith(`${config.basePath}/`) && !/^\/[/\\]/.test(returnTo) && !/[\r\n\\]/.test(returnTo);
    res.redirect(303, local ? returnTo : `${config.basePath}/`);
  };
}
