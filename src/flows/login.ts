import { Router, type RequestHandler, type Response } from 'express';
import type { AppDeps } from '../app.js';
import type { LoginRequest } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { splitUiLocales, translator, useLocale } from '../http/locale.js';
import { recordLoginOutcome } from '../http/rate-limit.js';
import { allowFormTargets } from '../http/security.js';
import { allowOwnScripts } from '../mfa/csp.js';
import { accountTag } from '../users/email.js';
import type { User } from '../users/store.js';
import { createWorkQueue, WorkQueueFullError } from '../users/work-queue.js';
import { readChallenge, readCheckbox, readString } from './challenge.js';
import { clientRedirectTargets, clientView } from './client-view.js';
import { DENIED, redirectAsHydraSays } from './redirect.js';
import { secondFactor } from './second-factor.js';

/**
 * What Hydra keeps with the login and hands to the consent step (`consent_request.context`).
 * Forks put their own facts here (tenant, login method, MFA state).
 */
export function loginContext(user: User): Record<string, unknown> {
  return { login_method: 'password', email: user.email };
}

interface LoginForm {
  email: string;
  remember: boolean;
  /** The catalog key of the form's error (login.error_*). */
  error?: 'login.error_missing' | 'login.error_wrong';
}

function renderLogin(res: Response, loginRequest: LoginRequest, challenge: string, form: LoginForm, passkeys = false): void {
  // The form's POST ends at Hydra and then at the client (or its error redirect): allow both.
  allowFormTargets(res, [loginRequest.request_url, ...clientRedirectTargets(loginRequest.client)]);
  // "Sign in with a passkey" and autofill run our two scripts (src/mfa/csp.ts).
  if (passkeys) allowOwnScripts(res);
  const t = translator(res);
  res.render('login', {
    passkeys,
    title: t('login.title'),
    challenge,
    application: clientView(loginRequest.client),
    email: form.email,
    remember: form.remember,
    error: form.error && t(form.error),
  });
}


/** Hydra's answer to the client when a remembered session belongs to a disabled or deleted account. */
const ACCOUNT_UNAVAILABLE = {
  error: 'access_denied',
  error_description: 'The account that was signed in on this browser can no longer sign in.',
  status_code: 403,
};

/** Seconds a sign-in turned away because too many password checks are running is told to wait. */
const BUSY_RETRY_AFTER = 2;

/**
 * `limit` runs before a login POST is checked: the brute-force limits, which count every attempt
 * that does not prove the password (see loginAttemptFailed in http/rate-limit.ts).
 */
export function loginRouter({ hydra, users, config, metrics, ...rest }: AppDeps, limit: RequestHandler[] = []): Router {
  const router = Router();
  // Every password check of this app goes through one bounded queue (users/work-queue.ts).
  const passwordChecks = createWorkQueue(config.passwordChecks);
  // The second step (TOTP, recovery codes) and the acr/amr sent to Hydra (flows/second-factor.ts).
  const factors = secondFactor({ hydra, users, config, metrics, ...rest }, loginContext);

  router.get('/login', async (req, res) => {
    const challenge = readChallenge(req.query.login_challenge, 'login_challenge');
    const loginRequest = await hydra.getLoginRequest(challenge);
    // The client's ui_locales come first (src/http/locale.ts), as on consent.
    useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales));
    if (loginRequest.skip) {
      // Hydra already authenticated this browser (its remember-me cookie). We must not ask for the
      // password again: accept with the same subject (Hydra forces remember=true here), or ask
      // only for a missing second factor — unless the account has
      // since been disabled or deleted (findBySubject skips those), whatever Hydra remembers.
      const user = await users.findBySubject(loginRequest.subject);
      if (!user) {
        req.log.info({ event: 'login_skip_refused' }, 'remembered login refused: the account is disabled or gone');
        const { redirect_to } = await hydra.rejectLoginRequest(challenge, ACCOUNT_UNAVAILABLE);
        metrics?.flowOutcome('login', 'rejected', loginRequest.client.client_id);
        redirectAsHydraSays(res, redirect_to);
        return;
      }
      // The level this session reached (kept by session_id when it was accepted): a client that
      // now asks for more (acr_values) gets the same subject asked for the missing factor.
      const reached = loginRequest.session_id ? await rest.factors?.loginLevel(loginRequest.session_id) : undefined;
      const methods = reached && reached.subject === loginRequest.subject ? reached.amr : ['pwd'];
      await factors.completeLogin(req, res, challenge, loginRequest, { user, methods, remember: true });
      return;
    }
    renderLogin(
      res,
      loginRequest,
      challenge,
      {
        email: loginRequest.oidc_context?.login_hint ?? '',
        remember: false,
      },
      factors.passkeys !== undefined,
    );
  });

  router.post('/login', ...limit, async (req, res) => {
    const challenge = readChallenge(req.body?.challenge, 'login_challenge');

    if (req.body.action === 'reject') {
      recordLoginOutcome(res, 'denied');
      const { redirect_to } = await hydra.rejectLoginRequest(challenge, DENIED);
      metrics?.flowOutcome('login', 'rejected');
      redirectAsHydraSays(res, redirect_to);
      return;
    }

    // Hydra first: an unknown (404), expired (410) or already handled challenge ends here, before
    // any argon2 work. The limiter counts such a POST as a failed attempt all the same.
    const loginRequest = await hydra.getLoginRequest(challenge);
    useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales));

    const email = (readString(req.body.email) ?? '').trim();
    const password = readString(req.body.password) ?? '';
    const remember = readCheckbox(req.body.remember);
    let user: User | undefined;
    if (email !== '' && password !== '') {
      try {
        user = await passwordChecks.run(() => users.verifyCredentials(email, password, { ip: req.ip }));
      } catch (err) {
        if (!(err instanceof WorkQueueFullError)) throw err;
        recordLoginOutcome(res, 'busy');
        metrics?.flowOutcome('login', 'busy', loginRequest.client.client_id);
        req.log.warn({ event: 'login_busy', running: err.running, waiting: err.waiting }, 'too many password checks at once');
        res.set('Retry-After', String(BUSY_RETRY_AFTER));
        throw new HttpError(503, 'Too many sign-ins are being checked right now. Please try again in a moment.', {
          title: 'Temporarily busy',
          i18n: { title: 'login.busy_title', message: 'login.busy' },
          expose: true,
          code: 'service_unavailable',
          cause: err,
        });
      }
    }

    if (!user) {
      recordLoginOutcome(res, 'wrong');
      metrics?.flowOutcome('login', 'failed_password', loginRequest.client.client_id);
      req.log.info({ event: 'login_failed', account: email ? accountTag(email) : undefined }, 'login failed');
      // The Hydra request stays open: the person simply tries again.
      res.status(401);
      renderLogin(
        res,
        loginRequest,
        challenge,
        {
          email,
          remember,
          error: email === '' || password === '' ? 'login.error_missing' : 'login.error_wrong',
        },
        factors.passkeys !== undefined,
      );
      return;
    }

    recordLoginOutcome(res, 'verified');
    // Accepted with acr/amr now, or on to the second step on this same challenge.
    await factors.completeLogin(req, res, challenge, loginRequest, { user, methods: ['pwd'], remember });
  });

  router.use(factors.routes);
  return router;
}
