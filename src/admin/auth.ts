import { timingSafeEqual } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { HttpError } from '../http/errors.js';
import { adminUrl, field } from './view.js';

declare module 'express-session' {
  interface SessionData {
    /** Set only by a successful POST /admin/login, on a freshly regenerated session. */
    admin?: boolean;
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

function renderLogin(res: Response, error?: string): void {
  res.render('admin/login', { title: 'Admin sign-in', wide: false, error, admin: adminUrl(res, '') });
}

/**
 * The browser side: GET/POST /admin/login and POST /admin/logout, in front of the session guard.
 * Runs after the session and CSRF middleware.
 */
export function sessionAuthRoutes(verify: (candidate: string) => Promise<boolean>, limit: RequestHandler[], sessionCookie: { name: string; path: string }): Router {
  const router = Router();

  router.get('/login', (req, res) => {
    if (req.session.admin) {
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
      renderLogin(res, token === '' ? 'Enter the admin token.' : 'That token is not valid.');
      return;
    }
    // A new session id on privilege change, so a planted session cookie is worthless (fixation).
    await regenerate(req);
    req.session.admin = true;
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

/** Every other console page: an admin session, or off to /admin/login. */
export const requireAdminSession: RequestHandler = (req, res, next) => {
  if (req.session?.admin === true) {
    next();
    return;
  }
  res.redirect(303, adminUrl(res, '/login'));
};
