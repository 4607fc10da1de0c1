import csurf from 'csurf';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Config } from '../config.js';
import { HttpError } from './errors.js';

export const CSRF_COOKIE = 'hlc_csrf';

/**
 * CSRF protection in csurf's cookie mode: the secret lives in a signed, HttpOnly, SameSite=Lax
 * cookie, so an anonymous visit to the login page creates no server-side state and any instance
 * can check the token. csurf is deprecated upstream; it stays behind this one file so swapping it
 * is a one-file change. Needs cookie-parser with the session secret in front of it.
 */
export function csrfProtection(config: Config): RequestHandler[] {
  const withSecure = (secure: boolean) =>
    csurf({
      cookie: {
        key: CSRF_COOKIE,
        path: config.basePath || '/',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        signed: true,
      },
      // The form field; csurf also reads the csrf-token / x-csrf-token headers.
      value: (req) => {
        const field: unknown = req.body?._csrf;
        const header = req.headers['x-csrf-token'] ?? req.headers['csrf-token'];
        return typeof field === 'string' ? field : typeof header === 'string' ? header : '';
      },
    });
  // csurf's cookie `secure` is a fixed boolean. An https BASE_URL means always Secure. With
  // TRUST_PROXY but an http BASE_URL, decide per request from req.secure (what the trusted proxy
  // says), like the session cookie's 'auto'. Both instances read and check the same cookie.
  const secure = withSecure(true);
  const plain = withSecure(false);
  const csrf: RequestHandler = config.secureCookies
    ? secure
    : config.trustProxy !== false
      ? (req, res, next) => (req.secure ? secure : plain)(req, res, next)
      : plain;
  const exposeToken: RequestHandler = (req, res, next) => {
    res.locals.csrfToken = req.csrfToken();
    next();
  };
  return [csrf, exposeToken];
}

/** Turns csurf's error into a page that says what happened and what to do. */
export const csrfErrorHandler: ErrorRequestHandler = (err, _req, _res, next) => {
  if ((err as { code?: unknown })?.code !== 'EBADCSRFTOKEN') {
    next(err);
    return;
  }
  next(
    new HttpError(403, 'This form could not be verified: it may have expired, or it was not sent from this site. Go back, reload the page and try again.', {
      title: 'The form could not be verified',
      code: 'invalid_csrf_token',
    }),
  );
};
