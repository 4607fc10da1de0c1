import { Router, type RequestHandler } from 'express';
import type { AppDeps } from '../app.js';
import { sessionCsrfProtection } from '../http/csrf.js';
import { wantsJson } from '../http/errors.js';
import { bruteForceLimits } from '../http/rate-limit.js';
import { sessionCookie as sessionCookieOf, sessionMiddleware } from '../http/session.js';
import { adminBodies, requireJsonBodies } from './bodies.js';
import { adminAuthFailed, adminFingerprint, adminSession, requireAdminSession, requireBearer, sessionAuthRoutes, signedIn, tokenVerifier } from './auth.js';
import { clientRoutes } from './clients.js';
import { keyRoutes } from './keys.js';
import { sessionRoutes } from './sessions.js';
import { tokenRoutes } from './tokens.js';
import { trustedIssuerRoutes } from './trusted-issuers.js';
import { userRoutes } from './users.js';
import { adminUrl } from './view.js';

/**
 * /admin: Hydra's clients, keys, trusted issuers, sessions and tokens, and the user database's
 * accounts (./users.ts), as a console (HTML, admin session, CSRF) and as a JSON API (bearer
 * ADMIN_TOKEN, no session, no CSRF). A request with an Authorization header or
 * `Accept: application/json` is an API call; anything else is the console.
 * The two never stand in for each other: a console session does not authorize an API call, and a
 * bearer token does not open the console.
 */
export function adminRouter(deps: AppDeps): Router {
  const { config } = deps;
  if (!config.adminToken) throw new Error('adminRouter needs ADMIN_TOKEN');
  const verify = tokenVerifier(config.adminToken);
  const fingerprint = adminFingerprint(config.adminToken, config.sessionSecret);
  const sessionCookie = sessionCookieOf(config);
  // Failed sign-ins per client IP (wrong token in the form or as a bearer), shared through Redis
  // when REDIS_URL is set, like the flows' login limits. The form and the API share one budget.
  const limit = bruteForceLimits(config, { name: 'admin-login', redis: deps.redis, failed: adminAuthFailed });
  // Forms and JSON (at most 32 levels deep: ./bodies.ts), 100kb at most.
  const bodies = adminBodies();

  // The route table, shared by the API and the console. Each handler answers JSON or HTML.
  const resources = Router();
  resources.get('/', (_req, res) => res.redirect(303, adminUrl(res, '/clients')));
  resources.use(clientRoutes(deps));
  resources.use(keyRoutes(deps));
  resources.use(trustedIssuerRoutes(deps));
  resources.use(sessionRoutes(deps));
  resources.use(tokenRoutes(deps));
  resources.use(userRoutes(deps));

  const api = Router();
  // The API takes JSON only (415 otherwise); introspection also a form, as Hydra's own does.
  api.use(...limit, requireBearer(verify), requireJsonBodies(['/tokens/introspect']), ...bodies, resources);

  const browser = Router();
  browser.use(
    sessionMiddleware(config, deps.sessionStore),
    adminSession(fingerprint, sessionCookie),
    ...bodies,
    // Bound to the session once signed in; the sign-in page itself stores nothing.
    sessionCsrfProtection(config, (_req, res) => signedIn(res)),
    sessionAuthRoutes(verify, fingerprint, limit, sessionCookie),
    requireAdminSession,
    methodOverride,
    resources,
  );

  const router = Router();
  router.use((req, res, next) => {
    // Admin pages show secrets (a new client's secret, private keys on request): never cache them.
    res.set('Cache-Control', 'no-store');
    if (req.headers.authorization !== undefined || wantsJson(req)) {
      // The shared error handler answers {error, error_description} for these.
      res.locals.apiRequest = true;
      api(req, res, next);
    } else {
      browser(req, res, next);
    }
  });
  return router;
}

/**
 * HTML forms can only GET and POST: a console form says which verb it stands for in `_method`
 * (PUT, PATCH, DELETE), so the console and the API share one route table. Runs after CSRF, which
 * has already checked the POST.
 */
const methodOverride: RequestHandler = (req, _res, next) => {
  const override = req.method === 'POST' && typeof req.body?._method === 'string' ? req.body._method.toUpperCase() : undefined;
  if (override === 'PUT' || override === 'PATCH' || override === 'DELETE') {
    req.method = override;
    delete req.body._method;
  }
  next();
};
