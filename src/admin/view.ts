import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Page, PageRequest } from '../hydra/types.js';
import { describeError, HttpError } from '../http/errors.js';
import { plainText as plainTextOf, type PlainTranslate } from '../http/i18n.js';
import { translator } from '../http/locale.js';
import { FIELD_MESSAGES } from './validation.js';

/**
 * What every admin handler shares: JSON-or-HTML, the admin layout's view model, paging and the
 * "re-render the form with an alert" rule. Handlers stay a few lines each.
 */

export type Section = 'clients' | 'keys' | 'trust' | 'sessions' | 'tokens' | 'users';

/** Each section's path and the catalog key of its label (locales/<lang>.json, `admin.nav`). */
const SECTIONS: ReadonlyArray<readonly [Section, string, string]> = [
  ['clients', '/clients', 'admin.nav.clients'],
  ['keys', '/keys', 'admin.nav.keys'],
  ['trust', '/trust/issuers', 'admin.nav.trust'],
  ['sessions', '/sessions/consent', 'admin.nav.sessions'],
  ['tokens', '/tokens', 'admin.nav.tokens'],
  ['users', '/users', 'admin.nav.users'],
];

/**
 * Notices shown after a redirect (`?done=`), as catalog keys: fixed texts, so nothing from the
 * URL is echoed.
 */
const NOTICES: Record<string, string> = {
  created: 'admin.notices.created',
  saved: 'admin.notices.saved',
  deleted: 'admin.notices.deleted',
  revoked: 'admin.notices.revoked',
  'tokens-deleted': 'admin.notices.tokens_deleted',
  flushed: 'admin.notices.flushed',
  disabled: 'admin.notices.disabled',
  enabled: 'admin.notices.enabled',
};

/** True for a bearer-authenticated API call: answer JSON in Hydra's shapes. */
export function isApi(res: Response): boolean {
  return res.locals.apiRequest === true;
}

/** `/admin` under the app's base path, for links and redirects. */
function adminBase(res: Response): string {
  return `${(res.app.locals.base as string | undefined) ?? ''}/admin`;
}

/** A URL under /admin with the given query; empty values are left out. */
export function adminUrl(res: Response, path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return `${adminBase(res)}${path}${search ? `?${search}` : ''}`;
}

/** Renders views/admin/<view>.ejs inside the shared layout, with the section navigation. */
export function renderAdmin(req: Request, res: Response, view: string, section: Section | undefined, locals: Record<string, unknown>): void {
  const admin = adminBase(res);
  const t = translator(res);
  const done = typeof req.query.done === 'string' && Object.hasOwn(NOTICES, req.query.done) ? NOTICES[req.query.done] : undefined;
  res.render(`admin/${view}`, {
    wide: true,
    admin,
    notice: done === undefined ? undefined : t(done),
    error: undefined,
    nav: {
      items: SECTIONS.map(([id, path, key]) => ({ href: `${admin}${path}`, label: t(key), current: id === section })),
      logout: { action: `${admin}/logout`, csrfToken: res.locals.csrfToken as string },
    },
    ...locals,
  });
}

/** After a browser form: 303 so a reload does not repeat the POST. */
export function redirectDone(res: Response, path: string, query: Record<string, string | undefined>, done: keyof typeof NOTICES): void {
  res.redirect(303, adminUrl(res, path, { ...query, done }));
}

/** A single-valued query or form field; arrays (?a=1&a=2) and objects are not strings. */
export function field(source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** A request body as an object, or a 400: JSON arrays, strings and missing bodies are not. */
export function bodyObject(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}

/**
 * The catalog keys (`admin.validation`, each "{{where}}: …") of ./validation.ts's field messages,
 * by their English words: a console form shows them in its language (attempt), the JSON API keeps
 * the English. A message not listed there stays English.
 */
export const FIELD_MESSAGE_KEYS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(FIELD_MESSAGES).map(([key, english]) => [english, `admin.validation.${key}`]),
);

/** One problem of a 400: where it is, its English words, and its catalog key when there is one. */
interface FieldProblem {
  where: string;
  message: string;
  key?: string;
}

/** A 400 from a zod schema, keeping each problem so a console page can word it in its language. */
class ValidationError extends HttpError {
  constructor(readonly problems: FieldProblem[]) {
    super(400, problems.map(({ where, message }) => (where ? `${where}: ${message}` : message)).join('; '), { code: 'invalid_request' });
  }
}

/** One line per problem, each prefixed with where it is: what Hydra's own 400s look like. */
function validationError(error: z.ZodError, prefix = ''): HttpError {
  return new ValidationError(
    error.issues.map((issue) => {
      const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      const key = where ? FIELD_MESSAGE_KEYS[issue.message] : undefined;
      return { where, message: issue.message, ...(key ? { key } : {}) };
    }),
  );
}

/** Parses with zod, throwing a 400 that names every problem. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, prefix?: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, prefix);
  return result.data;
}

// ---- Paging -----------------------------------------------------------------------------------

/**
 * Our own paging parameters, the same for both Hydra layouts: `page_size`, and `page_token` which
 * is whatever Hydra's Link header carried (v2: its page_token; v1: the offset).
 */
const pagingSchema = z.object({
  page_size: z.coerce.number().int().min(1).max(1000).optional(),
  page_token: z.string().max(4096).optional(),
});

export function readPaging(req: Request): PageRequest {
  const parsed = parseOr400(pagingSchema, {
    page_size: field(req.query, 'page_size') || undefined,
    page_token: field(req.query, 'page_token') || undefined,
  });
  return { pageSize: parsed.page_size, pageToken: parsed.page_token };
}

export interface PagerView {
  first?: string;
  prev?: string;
  next?: string;
  total?: number;
}

/**
 * Hydra's neighbouring pages as our own URLs: the `Link` header (and `X-Total-Count` when Hydra
 * sent one) for API callers, and the links the HTML pager shows.
 */
export function pager(res: Response, page: Page<unknown>, path: string, query: Record<string, string | undefined>, paging: PageRequest): PagerView {
  const url = (token: string) => adminUrl(res, path, { ...query, page_size: paging.pageSize, page_token: token });
  const view: PagerView = {};
  const links: string[] = [];
  for (const rel of ['first', 'prev', 'next'] as const) {
    const token = page[rel];
    if (token === undefined) continue;
    view[rel] = url(token);
    links.push(`<${view[rel]}>; rel="${rel}"`);
  }
  if (links.length > 0) res.set('Link', links.join(', '));
  if (page.total !== undefined) {
    view.total = page.total;
    res.set('X-Total-Count', String(page.total));
  }
  return view;
}

// ---- Forms ------------------------------------------------------------------------------------

/**
 * When a form's action fails for a reason the operator can fix (our validation, Hydra's 4xx with
 * its own description, or 501 for an operation this Hydra lacks), the form is shown again with
 * their input and this status; anything else (Hydra down, a bug) goes to the error page.
 */
function formProblem(err: unknown): { status: number; message: string } | undefined {
  const view = describeError(err, false);
  if ((view.status >= 400 && view.status < 500) || view.status === 501) return { status: view.status, message: view.message };
  return undefined;
}

/**
 * Runs a form action; on a fixable failure, sets the status and returns the message to show: in
 * the page's language when the error carries a catalog key (HttpError's `i18n.message`), else its
 * English words (zod's field messages, Hydra's own description), which the JSON API sends too.
 * `reword` gives a page's own words for a failure it knows better (undefined: the above).
 */
export async function attempt(res: Response, action: () => Promise<void>, reword?: (err: unknown) => string | undefined): Promise<string | undefined> {
  try {
    await action();
    return undefined;
  } catch (err) {
    const problem = formProblem(err);
    if (!problem) throw err;
    res.status(problem.status);
    const own = reword?.(err);
    if (own !== undefined) return own;
    if (!res.locals.t) return problem.message;
    // Plain text: the alert escapes it (views/admin/alerts.ejs).
    const text = plainText(res);
    if (err instanceof ValidationError) {
      return err.problems.map(({ where, message, key }) => (key ? text(key, { where }) : where ? `${where}: ${message}` : message)).join('; ');
    }
    const keys = err instanceof HttpError ? err.i18n : undefined;
    return keys?.message ? text(keys.message, keys.values) : problem.message;
  }
}

/** The catalog keys of an exposed 400 whose words are ours (see attempt). */
export function formErrorKeys(message: string, values?: Record<string, unknown>): { title: string; message: string; values?: Record<string, unknown> } {
  return { title: 'errors.bad_request_title', message, ...(values ? { values } : {}) };
}

/**
 * A date-time from Hydra (RFC 3339) in the page's language, in UTC like the forms that set them;
 * '' when absent, and the text unchanged when it is not a date.
 */
export function adminDate(res: Response, value: string | undefined): string {
  if (!value) return '';
  const time = Date.parse(value);
  if (Number.isNaN(time)) return value;
  const formatDate = res.locals.formatDate as ((value: Date | number, options?: Intl.DateTimeFormatOptions) => string) | undefined;
  return formatDate ? formatDate(time, DATE_UTC) : new Date(time).toISOString();
}

const DATE_UTC: Intl.DateTimeFormatOptions = { dateStyle: 'medium', timeStyle: 'long', timeZone: 'UTC' };

/** Lines of a textarea, trimmed, blanks dropped. */
export function lines(value: string | undefined): string[] {
  return (value ?? '').split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** Space- or comma-separated words. */
export function words(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}

/** JSON typed into a textarea, or a 400 naming the field. Blank is `fallback`. */
export function parseJsonField(value: string | undefined, name: string, fallback: unknown = undefined): unknown {
  if (value === undefined || value.trim() === '') return fallback;
  try {
    return JSON.parse(value) as unknown;
  } catch (err) {
    const detail = err instanceof Error ? err.message : 'parse error';
    throw new HttpError(400, `${name}: not valid JSON (${detail})`, { i18n: formErrorKeys('admin.errors.invalid_json', { name, detail }) });
  }
}

/** Pretty JSON for a <pre> or a textarea (EJS escapes it). */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** The confirmation step every destructive browser action goes through. */
export interface ConfirmView {
  title: string;
  message: string;
  /** What will be affected, shown as a definition list. */
  facts?: Array<[string, string]>;
  /** Where the form posts, and the verb it stands for (sent as `_method`). */
  action: string;
  method: 'DELETE' | 'POST';
  fields?: Record<string, string>;
  button: string;
  cancel: string;
}

export function renderConfirm(req: Request, res: Response, section: Section, view: ConfirmView): void {
  renderAdmin(req, res, 'confirm', section, { title: view.title, confirm: view });
}

/**
 * The page's translator for plain text: values are not HTML-escaped, because the text goes where
 * EJS's `<%= %>` escapes it (page titles, confirm pages, alerts, option labels).
 */
export function plainText(res: Response): PlainTranslate {
  return plainTextOf(translator(res));
}
