import { randomBytes } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import csurf from 'csurf';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import { HttpError } from './errors.js';

/**
 * CSRF for every form, on csurf: the one place that knows which CSRF package the app uses, so a
 * fork swaps it here and nowhere else. csurf is archived upstream (the Express team deprecated it
 * for lack of maintainers, not for a flaw); its maintained successors are csrf-sync (the same
 * session-bound synchroniser token) and csrf-csrf (signed double submit). Whatever runs here must
 * leave `res.locals.csrfToken` for the views and fail with invalidCsrfToken().
 *
 * Two modes, because an anonymous visit must store nothing server-side:
 * - session mode (csurf's default: the secret in req.session): wherever there is a session, the
 *   admin console once signed in, the demo, and any signed-in area added later. A cookie someone
 *   planted for this host then proves nothing.
 * - cookie mode (the secret in an HttpOnly, SameSite=Lax cookie): the flow pages and any page
 *   without a session. The cookie is `__Host-hlc_csrf` whenever cookies are Secure, which only
 *   this host can set (a sibling subdomain, or plain http, cannot), so a planted secret is
 *   impossible there; over plain http it is `hlc_csrf`, and a request that carries it twice
 *   (a planted copy beside the real one) is refused, whichever method.
 *
 * Either way the token goes in the `_csrf` field or an `X-CSRF-Token` (or `CSRF-Token`) header,
 * never in the query string (URLs end up in logs and Referer headers), and every render gets a
 * fresh salt, so no two pages carry the same token (BREACH).
 */

export const CSRF_COOKIE = 'hlc_csrf';
/** The name when cookies are Secure: browsers only take it Secure, Path=/, and from this host. */
export const HOST_CSRF_COOKIE = `__Host-${CSRF_COOKIE}`;

/** csurf's secret: 18 random bytes, base64url. Anything else in the cookie is not one of ours. */
const SECRET = /^[A-Za-z0-9_-]{24}$/;

declare module 'express-session' {
  interface SessionData {
    /** csurf's secret in session mode. */
    csrfSecret?: string;
  }
}

const SECRET_BYTES = 18;
const POOL_SIZE = 256;

/**
 * New secrets, made ahead. csurf makes a missing secret with a synchronous randomBytes on the
 * request itself (tokens.secretSync); every first visit to a flow page has none. Handing csurf one
 * from this pool, filled asynchronously a few hundred at a time, keeps that crypto off the request
 * path. The secrets are exactly csurf's: 18 random bytes, base64url. An empty pool (the first
 * visit, or a burst) returns undefined, and csurf then makes its own, as without the pool.
 */
export function csrfSecretPool(size = POOL_SIZE): () => string | undefined {
  const secrets: string[] = [];
  let filling = false;
  const fill = () => {
    if (filling) return;
    filling = true;
    randomBytes(SECRET_BYTES * size, (err, bytes) => {
      filling = false;
      if (err) return;
      for (let i = 0; i < size; i++) secrets.push(bytes.toString('base64url', i * SECRET_BYTES, (i + 1) * SECRET_BYTES));
    });
  };
  // Filled at first use, not when the app is built: createApp starts no work of its own.
  return () => {
    const secret = secrets.pop();
    if (secrets.length < size / 4) fill();
    return secret;
  };
}

/** Methods csurf does not check: a first visit without a secret gets one from the pool. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The submitted token: the `_csrf` field, else the header API clients and scripts send. */
function submittedToken(req: Request): string {
  const field: unknown = req.body?._csrf;
  if (typeof field === 'string') return field;
  const header = req.headers['x-csrf-token'] ?? req.headers['csrf-token'];
  return typeof header === 'string' ? header : '';
}

export function invalidCsrfToken(): HttpError {
  return new HttpError(403, 'This form could not be verified: it may have expired, or it was not sent from this site. Go back, reload the page and try again.', {
    title: 'The form could not be verified',
    code: 'invalid_csrf_token',
  });
}

/** Runs csurf, turning its EBADCSRFTOKEN into our 403, and leaves a fresh token for the views. */
function run(protect: RequestHandler, req: Request, res: Response, next: NextFunction): void {
  void protect(req, res, (err?: unknown) => {
    if (err) {
      next((err as { code?: unknown }).code === 'EBADCSRFTOKEN' ? invalidCsrfToken() : err);
      return;
    }
    // Made when a view reads it: a redirect pays nothing. csurf makes one token per request.
    Object.defineProperty(res.locals, 'csrfToken', { get: () => req.csrfToken(), enumerable: true, configurable: true });
    next();
  });
}

/** How many times a Cookie header carries `name` (cookie.parse keeps only the first). */
function occurrences(header: string, name: string): number {
  let count = 0;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim() === name) count++;
  }
  return count;
}

/**
 * Cookie mode, for pages without a session (the flows, the admin sign-in page). csurf reads the
 * secret from req.cookies, which we fill here with the `cookie` package (what cookie-parser would
 * do) rather than add cookie-parser: we must count the cookie's copies anyway, which cookie-parser
 * cannot tell, and we need neither its signed nor its JSON cookies.
 */
export function csrfProtection(config: Config, nextSecret = csrfSecretPool()): RequestHandler {
  const common = { httpOnly: true, sameSite: 'lax' as const };
  const secureCookie = { ...common, path: '/', secure: true };
  const plainCookie = { ...common, path: config.basePath || '/' };
  const secure = csurf({ value: submittedToken, cookie: { ...secureCookie, key: HOST_CSRF_COOKIE } });
  const plain = csurf({ value: submittedToken, cookie: { ...plainCookie, key: CSRF_COOKIE } });
  // An https BASE_URL means always Secure; with TRUST_PROXY but an http BASE_URL, Secure exactly
  // when the trusted proxy says the request came over https (like the session cookie's 'auto').
  const isSecure = (req: Request) => config.secureCookies || (config.trustProxy !== false && req.secure);

  return (req, res, next) => {
    const useSecure = isSecure(req);
    const name = useSecure ? HOST_CSRF_COOKIE : CSRF_COOKIE;
    const header = req.headers.cookie ?? '';
    const cookies: Record<string, string | undefined> = header ? parseCookies(header) : {};
    if (cookies[name] !== undefined && occurrences(header, name) > 1) {
      // Two secrets: one was planted. No new cookie either, which would only hand over the other.
      next(invalidCsrfToken());
      return;
    }
    // A value of the wrong shape is not one of ours: csurf then makes a new secret (and a POST fails).
    if (cookies[name] !== undefined && !SECRET.test(cookies[name])) delete cookies[name];
    if (cookies[name] === undefined && SAFE_METHODS.has(req.method)) {
      // What csurf would do, with a secret from the pool: set it as the cookie it then reads.
      const secret = nextSecret();
      if (secret !== undefined) {
        cookies[name] = secret;
        res.cookie(name, secret, useSecure ? secureCookie : plainCookie);
      }
    }
    req.cookies = cookies;
    run(useSecure ? secure : plain, req, res, next);
  };
}

/**
 * Session mode, for areas behind express-session (the admin console, the demo, any signed-in area
 * added later): the secret lives in req.session, so a planted cookie proves nothing. Runs after
 * sessionMiddleware.
 *
 * With `signedIn`, a request that is not signed in (the sign-in page and its POST) uses cookie
 * mode as the flows do, so an anonymous visit stores nothing and cannot fill the session store;
 * the sign-in regenerates the session, and the first page after it puts a new secret in it.
 */
export function sessionCsrfProtection(config: Config, signedIn?: (req: Request, res: Response) => boolean): RequestHandler {
  const bound = csurf({ value: submittedToken });
  const nextSecret = csrfSecretPool();
  const anonymous = csrfProtection(config, nextSecret);
  return (req, res, next) => {
    if (signedIn === undefined || signedIn(req, res)) {
      // A session without a secret gets one from the pool, where csurf would make it synchronously.
      if (req.session && req.session.csrfSecret === undefined) {
        const secret = nextSecret();
        if (secret !== undefined) req.session.csrfSecret = secret;
      }
      run(bound, req, res, next);
    } else anonymous(req, res, next);
  };
}
