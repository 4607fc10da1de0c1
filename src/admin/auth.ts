import { createHmac, timingSafeEqual } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { HttpError } from '../http/errors.js';
import { adminUrl, field, plainText } from './view.js';

declare module 'express-session' {
  interface SessionData {
    /**
     * The fingerprint of the ADMIN_TOKEN that opened this session (adminFingerprint), set only by
     * a successful POST /admin/login on a freshly regenerated session.
     */
    admin?: string;
  }
}

async function sha256(value: string): Promise<Buffer> {
  return Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
}

/**
 * Compares a candidate with ADMIN_TOKEN in constant time. Both sides are hashed first, so
 * timingSafeEqual always sees 32 bytes and the token's length does not leak either.
 */
export function tokenVerifier(token: string): (candidate: string) => Promise<boolean> {
  const expected = sha256(token);
  return async (candidate) => timingSafeEqual(await sha256(candidate), await expected);
}

/**
 * What an admin session keeps of the token that opened it: an HMAC-SHA256 keyed with
 * SESSION_SECRET, never the token itself, so the session store (Redis) cannot give it away. When
 * ADMIN_TOKEN is rotated the fingerprint changes and every session the old token opened ends.
 */
export function adminFingerprint(adminToken: string, sessionSecret: string): string {
  return createHmac('sha256', sessionSecret).update(`hlc admin session v1\0${adminToken}`).digest('base64url');
}

/** Marks this request as a failed sign-in: the only kind the limits count. */
function countFailure(res: Response): void {
  res.locals.adminAuthFailed = true;
}

/** What the admin sign-in limits count: a wrong token on /admin/login or a wrong bearer token. */
export const adminAuthFailed = (res: Response): boolean => res.locals.adminAuthFailed === true;

/** The Authorization header's bearer token, '' when the header is there but not a bearer token. */
function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? '';
}

/** API guard: a valid `Authorization: Bearer <ADMIN_TOKEN>` or 401 JSON. Never looks at the session. */
export function requireBearer(verify: (candidate: string) => Promise<boolean>): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (token !== undefined && token !== '' && (await verify(token))) {
      next();
      return;
    }
    if (token !== undefined) countFailure(res);
    res.set('WWW-Authenticate', token === undefined ? 'Bearer realm="admin"' : 'Bearer realm="admin", error="invalid_token"');
    throw new HttpError(401, token === undefined ? 'This API needs Authorization: Bearer <ADMIN_TOKEN>.' : 'The bearer token is not valid.', {
      code: token === undefined ? 'unauthorized' : 'invalid_token',
    });
  };
}

function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err: unknown) => (err ? reject(err) : resolve())));
}

function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
}

function destroy(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(err) : resolve())));
}

/** Set by adminSession: this request's session was opened with the current ADMIN_TOKEN. */
export const signedIn = (res: Response): boolean => res.locals.adminSignedIn === true;

/**
 * Reads the session's admin mark before anything else (CSRF included): a session opened with the
 * current ADMIN_TOKEN is signed in; one opened with an earlier token (or by an older build, which
 * stored `true`) is destroyed and sent to the sign-in page, whatever the request.
 */
export function adminSession(fingerprint: string, sessionCookie: { name: string; path: string }): RequestHandler {
  const expected = Buffer.from(fingerprint);
  return async (req, res, next) => {
    const stored: unknown = req.session?.admin;
    if (stored === undefined) {
      next();
      return;
    }
    const given = Buffer.from(typeof stored === 'string' ? stored : '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      res.locals.adminSignedIn = true;
      next();
      return;
    }
    await destroy(req);
    res.clearCookie(sessionCookie.name, { path: sessionCookie.path });
    req.log?.info({ event: 'admin_session_ended' }, 'admin session ended: ADMIN_TOKEN has changed since it was opened');
    res.redirect(303, adminUrl(res, '/login'));
  };
}

/** The sign-in page; `error` is a catalog key (`admin.login.*`). */
function renderLogin(res: Response, error?: string): void {
  const text = plainText(res);
  res.render('admin/login', { title: text('admin.login.title'), wide: false, error: error && text(error), admin: adminUrl(res, '') });
}

/**
 * The browser side: GET/POST /admin/login and POST /admin/logout, in front of the session guard.
 * Runs after the session, adminSession and CSRF middleware.
 */
export function sessionAuthRoutes(
  verify: (candidate: string) => Promise<boolean>,
  fingerprint: string,
  limit: RequestHandler[],
  sessionCookie: { name: string; path: string },
): Router {
  const router = Router();

  router.get('/login', (req, res) => {
    if (signedIn(res)) {
      res.redirect(303, adminUrl(res, '/clients'));
      return;
    }
    renderLogin(res);
  });

  router.post('/login', ...limit, async (req, res) => {
    const token = field(req.body, 'token')?.trim() ?? '';
    if (token === '' || !(await verify(token))) {
      countFailure(res);
      req.log?.warn({ event: 'admin_login_failed' }, 'admin sign-in failed');
      res.status(401);
      renderLogin(res, token === '' ? 'admin.login.missing_token' : 'admin.login.invalid_token');
      return;
    }
    // A new session id on privilege change, so a planted session cookie is worthless (fixation).
    await regenerate(req);
    req.session.admin = fingerprint;
    await save(req);
    req.log?.info({ event: 'admin_login_succeeded' }, 'admin signed in');
    res.redirect(303, adminUrl(res, '/clients'));
  });

  router.post('/logout', async (req, res) => {
    await destroy(req);
    res.clearCookie(sessionCookie.name, { path: sessionCookie.path });
    res.redirect(303, adminUrl(res, '/login'));
  });

  return router;
}

/** Every other console page: an admin session (checked by adminSession), or off to /admin/login. */
export const requireAdminSession: RequestHandler = (_req, res, next) => {
  if (signedIn(res)) {
    next();
    return;
  }
  res.redirect(303, adminUrl(res, '/login'));
};
