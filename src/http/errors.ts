import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { HydraError, HydraUnavailableError, UnsupportedOperationError } from '../hydra/errors.js';
import { plainText, type Translate } from './i18n.js';
import { clip } from './text.js';
import { StoreUnavailableError } from '../users/store.js';
import { safeHttpUrl } from './urls.js';

/**
 * The one error type routes throw. `message` is shown to the person (or sent as
 * error_description) when `expose` is true; otherwise they get a generic text for the status.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly expose: boolean;
  readonly title?: string;
  /** Catalog keys (locales/<lang>.json) of the title and message, for the translated pages. */
  readonly i18n?: ErrorKeys;
  readonly code: string;
  constructor(
    readonly status: number,
    message: string,
    options: { expose?: boolean; title?: string; i18n?: ErrorKeys; code?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.expose = options.expose ?? status < 500;
    this.title = options.title;
    this.i18n = options.i18n;
    this.code = options.code ?? defaultCode(status);
  }
}

function defaultCode(status: number): string {
  switch (status) {
    case 400: return 'invalid_request';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 409: return 'conflict';
    case 410: return 'expired';
    case 413: return 'payload_too_large';
    case 429: return 'too_many_requests';
    case 501: return 'not_implemented';
    case 502: return 'bad_gateway';
    case 503: return 'service_unavailable';
    case 504: return 'gateway_timeout';
    default: return status < 500 ? 'invalid_request' : 'server_error';
  }
}

/**
 * Where an error page's words are in the message catalogs: `errors.<key>_title`, `errors.<key>`.
 * `message` is absent when the text is not ours (Hydra's words, an exposed HttpError's message).
 */
export interface ErrorKeys {
  title: string;
  message?: string;
  values?: Record<string, unknown>;
}

/** The catalog keys of GENERIC's entries. */
const GENERIC_KEYS: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 500: 'server_error' };

function keys(key: string, ours = true, values?: Record<string, unknown>): ErrorKeys {
  return { title: `errors.${key}_title`, ...(ours ? { message: `errors.${key}` } : {}), ...(values ? { values } : {}) };
}

/**
 * The English words of each error, for JSON answers (error_description stays English for API
 * clients) and for the pages not yet translated (admin, account, demo); pages that have a
 * translator (res.locals.t) show the catalog's words for ErrorView.i18n instead.
 */
const GENERIC: Record<number, [title: string, message: string]> = {
  400: ['Bad request', 'The request was not understood.'],
  401: ['Not signed in', 'You need to sign in first.'],
  403: ['Not allowed', 'You are not allowed to do that.'],
  404: ['Not found', 'There is nothing here.'],
  500: ['Something went wrong', 'An unexpected error occurred. Please try again later.'],
};

/** An error as the person sees it: status, title, text, and where to go when it is a redirect. */
export interface ErrorView {
  status: number;
  code: string;
  title: string;
  message: string;
  redirectTo?: string;
  /** The catalog keys of title and message (errorHandler translates them for the page). */
  i18n?: ErrorKeys;
}

/** Maps anything thrown to what we answer. Hydra's own words reach the person when they help. */
export function describeError(err: unknown, flow: boolean): ErrorView {
  if (err instanceof HttpError) {
    const genericStatus = GENERIC[err.status] ? err.status : err.status < 500 ? 400 : 500;
    const [genericTitle, genericMessage] = GENERIC[genericStatus]!;
    const generic = keys(GENERIC_KEYS[genericStatus]!, !err.expose);
    return {
      status: err.status,
      code: err.code,
      title: err.title ?? genericTitle,
      message: err.expose ? err.message : genericMessage,
      // A title of its own without keys stays as it is; an exposed message is the thrower's.
      i18n: err.i18n ?? (err.title === undefined ? generic : undefined),
    };
  }
  if (err instanceof HydraUnavailableError) {
    return err.kind === 'timeout'
      ? { status: 504, code: 'gateway_timeout', title: 'The sign-in service is slow to answer', message: 'The authorization server did not answer in time. Please try again in a moment.', i18n: keys('hydra_timeout') }
      : { status: 502, code: 'bad_gateway', title: 'The sign-in service is unavailable', message: 'The authorization server could not be reached. Please try again in a moment.', i18n: keys('hydra_unreachable') };
  }
  if (err instanceof StoreUnavailableError) {
    // The user database is down or slow: nothing is wrong with the request, try again shortly.
    return { status: 503, code: 'service_unavailable', title: 'Accounts are unavailable', message: 'The account database could not be reached. Please try again in a moment.', i18n: keys('store_unavailable') };
  }
  if (err instanceof UnsupportedOperationError) {
    return { status: 501, code: 'not_implemented', title: 'Not supported by this Hydra', message: err.message, i18n: keys('unsupported', false) };
  }
  if (err instanceof HydraError) return describeHydraError(err, flow);
  // body-parser and friends carry a status and a safe `expose` flag.
  if (isExposedClientError(err)) {
    const status = err.status ?? err.statusCode ?? 400;
    const title = status === 413 ? 'Too much data' : 'Bad request';
    return {
      status,
      code: defaultCode(status),
      title,
      message: status === 413 ? 'The form sent more data than we accept.' : err.message,
      i18n: status === 413 ? keys('too_much_data') : keys('bad_request', false),
    };
  }
  return { status: 500, code: 'server_error', title: GENERIC[500]![0], message: GENERIC[500]![1], i18n: keys('server_error') };
}

function describeHydraError(err: HydraError, flow: boolean): ErrorView {
  // Hydra's words are shown, but never more than a page's worth of them.
  const hydraSays = clip(err.errorDescription || err.error);
  if (err.status === 410 && err.redirectTo && safeHttpUrl(err.redirectTo)) {
    // Hydra v1.11–v2.1: the request was already handled; its redirect_to restarts the flow.
    return { status: 302, code: 'gone', title: 'Already handled', message: '', redirectTo: err.redirectTo, i18n: keys('already_handled', false) };
  }
  if (flow) {
    switch (err.status) {
      case 404:
        return { status: 404, code: 'not_found', title: 'This sign-in request was not found', message: 'The link may be incomplete or already used. Go back to the application and start again.', i18n: keys('flow_not_found') };
      case 401:
        return { status: 410, code: 'expired', title: 'This sign-in request has expired', message: 'Sign-in requests are only valid for a limited time. Go back to the application and start again.', i18n: keys('flow_expired') };
      case 409:
        return { status: 409, code: 'conflict', title: 'This request was already completed', message: 'Go back to the application and start again.', i18n: keys('flow_conflict') };
    }
  }
  if (err.status >= 500) {
    return { status: 502, code: 'bad_gateway', title: 'The sign-in service failed', message: `The authorization server answered with an error (${err.status}). Please try again in a moment.`, i18n: keys('hydra_failed', true, { status: err.status }) };
  }
  // Hydra's `error` is a code (invalid_request) or, from herodot, a sentence ("Unable to locate
  // the resource"): a sentence becomes the usual code for the status.
  const code = /^[a-z][a-z0-9_]{0,99}$/.test(err.error) ? err.error : defaultCode(err.status);
  return { status: err.status, code, title: 'The authorization server refused the request', message: hydraSays, i18n: keys('hydra_refused', false) };
}

function isExposedClientError(err: unknown): err is { status?: number; statusCode?: number; expose: true; message: string } {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown };
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  return e.expose === true && typeof status === 'number' && status >= 400 && status < 500;
}

/** JSON for API clients (the admin API, fetch with Accept: application/json); HTML for people. */
export function wantsJson(req: Request): boolean {
  if (req.res?.locals.apiRequest) return true;
  return req.accepts(['html', 'json']) === 'json';
}

export const notFound: RequestHandler = () => {
  throw new HttpError(404, 'There is nothing at this address.', { title: 'Page not found', i18n: keys('page_not_found') });
};

/** The single error handler: one log line, then a page or JSON. Never a stack trace to the client. */
export function errorHandler(): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const flow = Boolean(res.locals.flow);
    const view = describeError(err, flow);
    const detail = (err as { detail?: unknown } | undefined)?.detail;
    const cause = {
      type: err instanceof Error ? err.name : typeof err,
      message: clip(err instanceof Error ? err.message : String(err)),
      // What only the log should say (e.g. which field of Hydra's answer was wrong).
      ...(typeof detail === 'string' ? { detail: clip(detail) } : {}),
    };
    // A bug: its stack goes to the log (never to the client).
    if (view.status === 500) req.log?.error({ err: cause, stack: err instanceof Error ? err.stack : undefined }, 'unexpected error');
    // Everything else is one access-log line that carries the cause (requestLogger reads res.err).
    res.err = cause;
    if (view.redirectTo) {
      res.redirect(view.redirectTo);
      return;
    }
    res.status(view.status);
    if (view.status === 429 && err instanceof HttpError && typeof (err as { retryAfter?: number }).retryAfter === 'number') {
      res.set('Retry-After', String((err as { retryAfter?: number }).retryAfter));
    }
    if (wantsJson(req)) {
      res.json({ error: view.code, error_description: view.message });
      return;
    }
    // The page in its language: res.locals.t is set on every page once the catalogs are loaded.
    const t = res.locals.t as Translate | undefined;
    const plain = t && plainText(t);
    const words = plain && view.i18n
      ? { title: plain(view.i18n.title, view.i18n.values), message: view.i18n.message ? plain(view.i18n.message, view.i18n.values) : view.message }
      : { title: view.title, message: view.message };
    res.render('error', { ...words, status: view.status, details: undefined });
  };
}
