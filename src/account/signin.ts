import type { Request, RequestHandler, Response } from 'express';
import * as client from 'openid-client';
import type { AppDeps } from '../app.js';
import { readString } from '../flows/challenge.js';
import { HttpError } from '../http/errors.js';
import { translator } from '../http/locale.js';
import { sessionCookie } from '../http/session.js';
import { clip } from '../http/text.js';
import { ACCOUNT_SCOPE, accountUrls } from './client.js';
import { setPendingSignIn, takePendingSignIn } from './flow-cookie.js';
import { createAccountOidc } from './oidc.js';
import { ACCOUNT_SESSION_COOKIE, destroySession, regenerateSession, saveSession } from './session.js';

/**
 * Signing in to the account area, through Hydra, as its own first-party client: authorization
 * code + PKCE (S256), state and nonce, with openid-client. Hydra runs its login (and skips it
 * when the browser is already signed in there), our consent screen lets a first party through
 * without a question, and the callback below turns the ID token's `sub` into a session of ours.
 * Signing out destroys that session and logs out at Hydra too (RP-initiated logout).
 */

/** The pages a sign-in may return to, relative to /account. Anything else lands on the profile. */
const RETURN_PATHS = new Set(['/', '/password', '/applications', '/sessions', '/factors']);

export function returnPath(path: string): string {
  return RETURN_PATHS.has(path) ? path : '/';
}

/** The error codes Hydra sends back that have a sentence a person understands: `account.signin.<code>`. */
const CALLBACK_ERRORS = new Set(['access_denied', 'login_required', 'consent_required', 'request_unauthorized']);

export function signInRoutes(deps: AppDeps) {
  const { config, accounts } = deps;
  if (!config.account || !accounts) throw new Error('signInRoutes needs the account area and a user database');
  const oidc = createAccountOidc(config);
  const urls = accountUrls(config.baseUrl);
  const base = `${config.basePath}/account`;
  const cookie = sessionCookie(config, ACCOUNT_SESSION_COOKIE);
  const log = (req: Request) => req.log ?? deps.logger;

  async function configuration(req: Request): Promise<client.Configuration> {
    try {
      return await oidc.configuration();
    } catch (err) {
      log(req).warn({ event: 'account_discovery_failed', error: err instanceof Error ? err.message : String(err) }, 'account area: OpenID discovery at Hydra failed');
      throw new HttpError(502, 'The sign-in service could not be reached. Please try again in a moment.', {
        title: 'The sign-in service is unavailable',
        i18n: { title: 'account.errors.unreachable_title', message: 'account.errors.unreachable' },
        expose: true,
        cause: err,
      });
    }
  }

  /** The page for a sign-in that did not complete; `key` is its sentence in `account.signin`. */
  function problem(res: Response, status: number, key: string, details?: { error?: string; hint?: string }): void {
    const t = translator(res);
    res.status(status).render('account/problem', { title: t('account.signin.problem_title'), message: t(`account.signin.${key}`), details, signInUrl: `${base}/login` });
  }

  /** Sends the browser to Hydra's authorization endpoint; what to check on return goes in the sealed cookie. */
  async function startSignIn(req: Request, res: Response, returnTo: string, reauthenticate = false): Promise<void> {
    const rp = await configuration(req);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    await setPendingSignIn(config, req, res, { state, nonce, codeVerifier, returnTo: returnPath(returnTo) });
    const url = client.buildAuthorizationUrl(rp, {
      redirect_uri: urls.redirectUri,
      scope: ACCOUNT_SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      // "Confirm it's you" (src/account/factors.ts): Hydra asks again even with a remembered session.
      ...(reauthenticate ? { prompt: 'login' } : {}),
    });
    res.redirect(303, url.href);
  }

  /** GET /account/login[?return_to=/applications][&reauth=1] */
  const start: RequestHandler = async (req, res) => {
    await startSignIn(req, res, readString(req.query.return_to) ?? '/', readString(req.query.reauth) === '1');
  };

  /** GET /account/callback: Hydra's answer. Single use: the pending sign-in is gone after it, whatever happens. */
  const callback: RequestHandler = async (req, res) => {
    const pending = await takePendingSignIn(config, req, res);
    const error = readString(req.query.error);
    if (error) {
      const meaning = CALLBACK_ERRORS.has(error) ? error : 'other_error';
      const description = [readString(req.query.error_description), readString(req.query.error_hint)].filter(Boolean).join(' ');
      return problem(res, 400, meaning, { error: clip(error, 100), hint: description ? clip(description) : undefined });
    }
    if (!pending) {
      return problem(res, 400, 'not_started');
    }
    const state = readString(req.query.state);
    if (state === undefined || state !== pending.state) {
      // What protects against a forged callback: a state this browser's sign-in did not send.
      return problem(res, 400, 'wrong_state');
    }
    const rp = await configuration(req);
    let tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
    try {
      // openid-client derives redirect_uri from this URL minus its query: it must be the
      // registered one (BASE_URL), not whatever Host header reached us.
      const current = new URL(urls.redirectUri);
      current.search = new URL(req.originalUrl, 'http://placeholder').search;
      tokens = await client.authorizationCodeGrant(rp, current, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      log(req).warn({ event: 'account_sign_in_failed', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, 'account area: code exchange failed');
      return problem(res, 502, 'not_confirmed');
    }
    const claims = tokens.claims();
    const subject = claims?.sub;
    const idToken = tokens.id_token;
    const account = subject === undefined ? undefined : await accounts.getBySubject(subject);
    if (!account || account.disabled || subject === undefined || idToken === undefined) {
      // Hydra signed in someone the user database does not have (another store, a deleted or
      // disabled account): nothing to show them here.
      log(req).info({ event: 'account_sign_in_refused', found: Boolean(account), disabled: account?.disabled }, 'account area: no usable account for the signed-in subject');
      return problem(res, 403, 'no_account');
    }
    // A new session id at sign-in (against session fixation), holding only what we need.
    await regenerateSession(req);
    // Hydra's auth_time: when the person last signed in there, not when this session began.
    const verifiedAt = typeof claims?.auth_time === 'number' ? claims.auth_time * 1000 : 0;
    req.session.account = { userId: account.id, subject, idToken, authAt: Date.now(), verifiedAt };
    await saveSession(req);
    log(req).info({ event: 'account_signed_in' }, 'account area: signed in');
    res.redirect(303, `${base}${pending.returnTo === '/' ? '' : pending.returnTo}`);
  };

  /** Ends our session (and its cookie). */
  async function endSession(req: Request, res: Response): Promise<void> {
    await destroySession(req);
    // csurf's token lived in that session: a page rendered after this has none to offer.
    delete res.locals.csrfToken;
    res.clearCookie(cookie.name, { path: cookie.path, httpOnly: true, sameSite: 'lax', secure: config.secureCookies || (config.trustProxy !== false && req.secure) });
  }

  /**
   * POST /account/logout: our session first, then Hydra's, with the ID token as id_token_hint.
   * Hydra shows our logout screen, which lets this first-party client through without asking,
   * and sends the browser to /account/signed-out.
   */
  const logout: RequestHandler = async (req, res) => {
    const idToken = req.session.account?.idToken;
    await endSession(req, res);
    if (idToken === undefined) return res.redirect(303, `${base}/signed-out`);
    let rp: client.Configuration;
    try {
      rp = await oidc.configuration();
    } catch {
      // Signed out here; Hydra's own session could not be ended, and the page says so.
      return res.redirect(303, `${base}/signed-out?hydra=unreachable`);
    }
    res.redirect(303, client.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: urls.postLogoutRedirectUri }).href);
  };

  /** GET /account/signed-out: where Hydra's logout ends, and where "sign out everywhere" lands. */
  const signedOut: RequestHandler = (req, res) => {
    const reason = readString(req.query.reason);
    res.render('account/signed-out', {
      title: translator(res)('account.signed_out.title'),
      everywhere: reason === 'everywhere',
      ended: reason === 'ended',
      hydraUnreachable: readString(req.query.hydra) === 'unreachable',
      signInUrl: `${base}/login`,
    });
  };

  return { start, callback, logout, signedOut, startSignIn, endSession };
}
