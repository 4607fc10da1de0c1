import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { AppDeps } from '../app.js';
import { sessionCsrfProtection } from '../http/csrf.js';
import { bruteForceLimits, TooManyAttemptsError } from '../http/rate-limit.js';
import { noStore } from '../http/security.js';
import { sessionMiddleware } from '../http/session.js';
import { HttpError } from '../http/errors.js';
import { factorRoutes } from './factors.js';
import { pageRoutes } from './pages.js';
import { resetRoutes } from './reset.js';
import { ACCOUNT_SESSION_COOKIE, signedIn } from './session.js';
import { signInRoutes } from './signin.js';

/**
 * /account: the self-service account area, and the one-time set-password links.
 *
 *   GET  /set-password?token=…   POST /set-password      a one-time link (mailed, or from an admin)
 *   GET  /forgot                 POST /forgot            "Forgot password?" (with SMTP_URL)
 *   GET  /login[?return_to=]     GET  /callback          sign-in through Hydra (authorization code + PKCE)
 *   POST /logout                 GET  /signed-out        sign-out, here and at Hydra
 *   GET  /                       POST /profile           the name claims
 *   GET  /password               POST /password          change it (current password required)
 *   GET  /applications           POST /applications/revoke, /applications/revoke-all
 *   GET  /sessions               POST /sessions/revoke   "sign out everywhere"
 *   GET  /factors[/totp]         POST /factors/totp, /factors/recovery-codes, /factors/remove   second factors
 *
 * Its own session cookie (`hlc_account`); CSRF bound to that session once signed in, and in a
 * cookie before (the anonymous pages store nothing server-side). The signed-in part exists only
 * with config.account (HYDRA_PUBLIC_URL, ACCOUNT_ENABLED); the links work without it.
 */

const FORM_LIMIT = '16kb';

/** A wrong current password counts like a failed sign-in; its 429 says so in this page's words. */
function passwordLimits(deps: AppDeps): RequestHandler[] {
  const limits = bruteForceLimits(deps.config, {
    name: 'account-password',
    redis: deps.redis,
    account: (req) => req.session.account?.subject,
    failed: (res) => res.statusCode === 401,
  });
  return limits.map((limit) => (req: Request, res: Response, next: NextFunction) =>
    limit(req, res, (err?: unknown) => {
      if (!(err instanceof TooManyAttemptsError)) return next(err);
      const wrapped = new HttpError(429, 'Too many wrong passwords. Please wait a while before trying again.', {
        title: 'Too many attempts',
        i18n: { title: 'account.errors.too_many_passwords_title', message: 'account.errors.too_many_passwords' },
      });
      next(Object.assign(wrapped, { retryAfter: err.retryAfter }));
    }),
  );
}

export function accountRouter(deps: AppDeps): Router {
  const { config } = deps;
  if (!deps.accounts) throw new Error('accountRouter needs deps.accounts (the user database)');

  const router = Router();
  router.use(
    noStore,
    express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 50 }),
    sessionMiddleware(config, deps.sessionStore, ACCOUNT_SESSION_COOKIE),
    sessionCsrfProtection(config, (req) => signedIn(req)),
  );

  const reset = resetRoutes(deps);
  router.get('/set-password', reset.showSetPassword);
  router.post('/set-password', reset.setPassword);
  if (deps.mailer) {
    router.get('/forgot', reset.showForgot);
    router.post('/forgot', ...reset.forgotLimits, reset.forgot);
  }

  if (config.account) {
    const signIn = signInRoutes(deps);
    router.get('/login', signIn.start);
    router.get('/callback', signIn.callback);
    router.post('/logout', signIn.logout);
    router.get('/signed-out', signIn.signedOut);

    // Each signed-in route: load (and re-check) the account first, then the page.
    const pages = pageRoutes(deps, signIn);
    const signed = pages.requireAccount;
    router.get('/', signed, pages.profile);
    router.post('/profile', signed, pages.saveProfile);
    router.get('/password', signed, pages.password);
    router.post('/password', signed, ...passwordLimits(deps), pages.changePassword);
    router.get('/applications', signed, pages.applications);
    router.post('/applications/revoke', signed, pages.revokeApplication);
    router.post('/applications/revoke-all', signed, pages.revokeAllApplications);
    router.get('/sessions', signed, pages.sessions);
    router.post('/sessions/revoke', signed, pages.signOutEverywhere);
    // Second factors (src/account/factors.ts): TOTP and recovery codes.
    if (deps.factors && config.mfa.mode !== 'off') {
      const factors = factorRoutes(deps, pages);
      router.get('/factors', signed, factors.list);
      // Every change needs a recent sign-in at Hydra (ACCOUNT_REAUTH_AFTER).
      const change = [signed, factors.recentSignIn];
      router.get('/factors/totp', ...change, factors.startTotp);
      router.post('/factors/totp', ...change, factors.confirmTotp);
      router.post('/factors/recovery-codes', ...change, factors.regenerateCodes);
      router.post('/factors/remove', ...change, factors.remove);
      router.post('/factors/passkey/options', ...change, factors.passkeyOptions);
      router.post('/factors/passkey', ...change, factors.registerPasskey);
    }
  }
  return router;
}
