import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { AppDeps } from '../app.js';
import type { LoginRequest } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import { localeContext, splitUiLocales, translator, useLocale } from '../http/locale.js';
import { bruteForceLimits } from '../http/rate-limit.js';
import { allowFormTargets } from '../http/security.js';
import { allowDataImages, allowOwnScripts } from '../mfa/csp.js';
import { acrFor, amrFor, levelOf, requestedLevel } from '../mfa/levels.js';
import { clearLoginState, clearWebAuthnChallenge, newLoginState, readLoginState, readWebAuthnChallenge, writeLoginState, writeWebAuthnChallenge, type LoginState } from '../mfa/login-state.js';
import { createPasskeys, type Passkeys } from '../mfa/passkeys.js';
import { createMfa, type Mfa } from '../mfa/service.js';
import { groupedSecret } from '../mfa/totp.js';
import type { Account } from '../users/accounts.js';
import { accountTag } from '../users/email.js';
import type { User } from '../users/store.js';
import { readChallenge, readCheckbox, readString } from './challenge.js';
import { clientRedirectTargets, clientView } from './client-view.js';
import { DENIED, hydraRedirectTarget, redirectAsHydraSays } from './redirect.js';

/**
 * The second step of a sign-in, on the same login challenge, and the acr/amr Hydra is told.
 *
 *   POST /login/factor           a TOTP code or a recovery code
 *   POST /login/enrol            the first code of an authenticator app added during sign-in
 *   POST /login/enrol/continue   after the recovery codes were shown once
 *
 * `completeLogin` decides, after a password (POST /login) or for a remembered session (GET
 * /login with skip): the level the client asks for with acr_values (src/mfa/levels.ts), raised
 * to two factors when MFA=required or the person has a factor; reached → accept with that acr;
 * otherwise ask for the missing factor (a signed state cookie carries the sign-in across, see
 * src/mfa/login-state.ts), enrol one (MFA=required, or MFA_ENROL_ON_DEMAND), or reject with
 * `unmet_authentication_requirements`. The level each Hydra login session reached is kept by
 * its session_id, since Hydra's login request says `skip` but not how that session signed in.
 */

/** What the second step knows of the person. */
export interface Person {
  id: string;
  subject: string;
  email: string;
}

export interface SecondFactor {
  readonly mfa?: Mfa;
  /** Passkeys (with MFA on): the login page offers "Sign in with a passkey" and autofill. */
  readonly passkeys?: Passkeys;
  /** Accepts, asks for a factor, or rejects; always answers the response. */
  completeLogin(req: Request, res: Response, challenge: string, loginRequest: LoginRequest, who: Who): Promise<void>;
  routes: Router;
}

/** Who signs in, with the methods (amr) proved so far; `extra` joins the login context. */
export interface Who {
  user: User;
  methods: string[];
  remember: boolean;
  extra?: Record<string, unknown>;
}

/** What a POST /login/factor came to (res.locals.factorOutcome), for the per-account limit. */
type FactorOutcome = 'wrong' | 'verified' | 'denied';

export const UNMET = {
  error: 'unmet_authentication_requirements',
  error_description: 'The account cannot reach the authentication level the application asked for.',
  status_code: 403,
} as const;

/** Where a refused account's words are in the catalogs. */
const ACCOUNT_REFUSED = { title: 'second_factor.account_refused_title', message: 'second_factor.account_refused' };

export function secondFactor(deps: AppDeps, loginContext: (user: User) => Record<string, unknown>): SecondFactor {
  const { config, hydra, metrics, accounts } = deps;
  const mfa = deps.factors && accounts && config.mfa.mode !== 'off' ? createMfa(config, deps.factors) : undefined;
  const passkeys = mfa ? createPasskeys(config, mfa.store) : undefined;
  const states = new WeakMap<Request, LoginState>();

  /** Hydra's redirect, as a 302 for a form, or as JSON for the passkey script (a fetch cannot follow it across origins). */
  function answerRedirect(res: Response, redirectTo: string): void {
    if (res.locals.answerJson === true) res.json({ redirect_to: hydraRedirectTarget(redirectTo) });
    else redirectAsHydraSays(res, redirectTo);
  }

  async function personOf(user: User): Promise<Person | undefined> {
    const id = (user as Partial<Account>).id ?? (await accounts?.getBySubject(user.subject))?.id;
    return id === undefined ? undefined : { id, subject: user.subject, email: user.email };
  }

  function renderStep(res: Response, view: string, loginRequest: LoginRequest, locals: Record<string, unknown>): void {
    allowFormTargets(res, [loginRequest.request_url, ...clientRedirectTargets(loginRequest.client)]);
    res.render(view, { application: clientView(loginRequest.client), error: undefined, ...locals });
  }

  async function accept(req: Request, res: Response, challenge: string, loginRequest: LoginRequest, user: User, methods: string[], remember: boolean, extra: Record<string, unknown> = {}) {
    const amr = amrFor(methods);
    const level = levelOf(amr);
    const { redirect_to } = await hydra.acceptLoginRequest(challenge, {
      subject: user.subject,
      // remember=false makes Hydra drop any earlier session cookie; true keeps one for remember_for seconds.
      ...(loginRequest.skip ? {} : { remember, remember_for: config.loginRememberFor }),
      amr,
      acr: acrFor(config, level),
      // The language this sign-in was in goes on to the consent step (consent reads context.locale).
      context: { ...loginContext(user), ...localeContext(useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales))), ...extra },
    });
    // Step-up needs the level this Hydra login session reached; the session outlives the accept.
    if (loginRequest.session_id && deps.factors) {
      await deps.factors.saveLoginLevel(loginRequest.session_id, { subject: user.subject, level, amr }, (config.loginRememberFor || 24 * 3600) * 1000 + 24 * 3600 * 1000);
    }
    clearLoginState(config, res);
    metrics?.flowOutcome('login', loginRequest.skip ? 'skipped' : 'accepted', loginRequest.client.client_id);
    req.log.info({ event: 'login_succeeded', account: accountTag(user.email), acr_level: level }, 'login succeeded');
    answerRedirect(res, redirect_to);
  }

  async function reject(req: Request, res: Response, challenge: string, loginRequest: LoginRequest, why: string) {
    req.log.info({ event: 'login_unmet', why }, 'login rejected: authentication level cannot be reached');
    const { redirect_to } = await hydra.rejectLoginRequest(challenge, UNMET);
    clearLoginState(config, res);
    metrics?.flowOutcome('login', 'rejected', loginRequest.client.client_id);
    answerRedirect(res, redirect_to);
  }

  /** `error` is a catalog key (second_factor.error_*), as are the titles. */
  async function renderCode(res: Response, loginRequest: LoginRequest, challenge: string, userId: string, error?: string) {
    const [totp, keys] = await Promise.all([mfa!.store.totpFactors(userId), mfa!.store.passkeys(userId)]);
    if (keys.length > 0) allowOwnScripts(res);
    const t = translator(res);
    renderStep(res, 'login-factor', loginRequest, { title: t('second_factor.title'), challenge, error: error && t(error), hasTotp: totp.length > 0, hasPasskey: keys.length > 0 });
  }

  async function renderEnrol(res: Response, loginRequest: LoginRequest, challenge: string, state: LoginState, error?: string) {
    const pending = await mfa!.pendingTotp(state.u, state.k!, state.e);
    if (!pending) throw new HttpError(400, 'This sign-in could not be continued. Please start again.', { expose: true, i18n: { title: 'errors.bad_request_title', message: 'second_factor.not_continuable' } });
    allowDataImages(res);
    const t = translator(res);
    renderStep(res, 'login-enrol', loginRequest, { title: t('second_factor.enrol_title'), challenge, qr: pending.qr, secret: groupedSecret(pending.secret), uri: pending.uri, error: error && t(error) });
  }

  async function completeLogin(req: Request, res: Response, challenge: string, loginRequest: LoginRequest, who: Who) {
    const { user, methods, remember } = who;
    const reached = levelOf(amrFor(methods));
    const person = mfa ? await personOf(user) : undefined;
    const hasFactor = person ? await mfa!.hasFactor(person.id) : false;
    let wanted: number = requestedLevel(config, loginRequest.oidc_context?.acr_values);
    // Whoever has a factor uses it; with MFA=required, everyone.
    if (mfa && (hasFactor || config.mfa.mode === 'required')) wanted = Math.max(wanted, 2);
    if (reached >= wanted) return accept(req, res, challenge, loginRequest, user, methods, remember, who.extra);
    if (!mfa || !person) return reject(req, res, challenge, loginRequest, 'no-mfa');
    // Phishing-resistant needs a passkey: without one, no factor will do.
    if (wanted >= 3 && (await mfa.store.passkeys(person.id)).length === 0) {
      await mfa.store.audit({ action: 'factor.refused', user_id: person.id, detail: 'no-passkey-for-acr' }, { actor: 'user', ip: req.ip });
      return reject(req, res, challenge, loginRequest, 'phishing-resistant');
    }
    const base = { u: person.id, s: person.subject, e: person.email, r: remember, m: methods };
    if (hasFactor) {
      writeLoginState(config, res, newLoginState(challenge, base));
      await renderCode(res, loginRequest, challenge, person.id);
      return;
    }
    if (config.mfa.mode === 'required' || config.mfa.enrolOnDemand) {
      const enrolment = await mfa.beginTotp(person.id, person.email);
      const state = newLoginState(challenge, { ...base, k: enrolment.sealed });
      writeLoginState(config, res, state);
      await renderEnrol(res, loginRequest, challenge, state);
      return;
    }
    await deps.factors!.audit({ action: 'factor.refused', user_id: person.id, detail: 'no-factor-for-acr' }, { actor: 'user', ip: req.ip });
    return reject(req, res, challenge, loginRequest, 'no-factor');
  }

  /** Loads the challenge and the state; a missing, forged, expired or foreign state is a 403 (audited). */
  const loadState: RequestHandler = async (req, res, next) => {
    const challenge = readChallenge(req.body?.challenge, 'login_challenge');
    const read = readLoginState(config, req, challenge);
    if ('problem' in read) {
      res.locals.factorOutcome = 'wrong';
      await deps.factors?.audit({ action: 'factor.refused', user_id: read.state?.u, detail: read.problem }, { actor: 'user', ip: req.ip });
      req.log.info({ event: 'second_step_refused', why: read.problem }, 'second step without a valid password step');
      throw new HttpError(403, 'This sign-in step is not valid: it has expired or belongs to another sign-in. Please start again.', {
        title: 'Sign-in expired',
        i18n: { title: 'second_factor.state_invalid_title', message: 'second_factor.state_invalid' },
        expose: true,
        code: 'invalid_login_state',
      });
    }
    states.set(req, read.state);
    res.locals.challenge = challenge;
    next();
  };

  // Like passwords: per IP, and per account (the state's account), counting wrong codes.
  const limits = bruteForceLimits(config, {
    name: 'login-factor',
    redis: deps.redis,
    account: (req) => states.get(req)?.u,
    failed: (res) => {
      const outcome = res.locals.factorOutcome as FactorOutcome | undefined;
      if (outcome !== undefined) return outcome === 'wrong';
      return res.statusCode < 500 && res.statusCode !== 429;
    },
    onLimited: () => metrics?.flowOutcome('login', 'rate_limited'),
  });

  /** The state's account as the flows see it: a disabled or deleted account stops here. */
  async function userOf(state: LoginState): Promise<User> {
    const user = await deps.users.findBySubject(state.s);
    if (!user) throw new HttpError(403, 'This account can no longer sign in.', { expose: true, title: 'Sign-in refused', i18n: ACCOUNT_REFUSED });
    return user;
  }

  const routes = Router();
  if (mfa) {
    routes.post('/login/factor', limits[0]!, loadState, ...limits.slice(1), async (req, res) => {
      const state = states.get(req)!;
      const challenge = res.locals.challenge as string;
      const loginRequest = await hydra.getLoginRequest(challenge);
      useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales));
      if (req.body.action === 'reject') {
        res.locals.factorOutcome = 'denied';
        const { redirect_to } = await hydra.rejectLoginRequest(challenge, DENIED);
        clearLoginState(config, res);
        redirectAsHydraSays(res, redirect_to);
        return;
      }
      const user = await userOf(state);
      const by = { actor: 'user', ip: req.ip };
      const check = await mfa.checkCode(state.u, readString(req.body.code) ?? '', by);
      if (!check.ok) {
        res.locals.factorOutcome = 'wrong';
        metrics?.flowOutcome('login', 'second_factor_failed', loginRequest.client.client_id);
        res.status(401);
        await renderCode(res, loginRequest, challenge, state.u, check.reason === 'reused-code' ? 'second_factor.error_reused' : 'second_factor.error_wrong');
        return;
      }
      res.locals.factorOutcome = 'verified';
      metrics?.flowOutcome('login', 'second_factor_passed', loginRequest.client.client_id);
      // Through completeLogin again: a client that asked for a passkey (phishing-resistant) is not done yet.
      await completeLogin(req, res, challenge, loginRequest, { user, methods: [...state.m, 'otp'], remember: state.r, extra: { second_factor: check.method } });
    });

    // ---- Passkeys: the second factor (with the state), or the only one (without) -----------------

    routes.post('/login/passkey/options', async (req, res) => {
      const challenge = readChallenge(req.body?.challenge, 'login_challenge');
      // An unknown or expired challenge ends here (404/410), before any options are made.
      await hydra.getLoginRequest(challenge);
      const read = readLoginState(config, req, challenge);
      const options = await passkeys!.authenticationOptions('problem' in read ? undefined : read.state.u);
      writeWebAuthnChallenge(config, res, challenge, options.challenge);
      res.json(options);
    });

    /** The state when there is a valid one; a passkey without one is a sign-in with no password. */
    const optionalState: RequestHandler = (req, res, next) => {
      const challenge = readChallenge(req.body?.challenge, 'login_challenge');
      const read = readLoginState(config, req, challenge);
      if (!('problem' in read)) states.set(req, read.state);
      res.locals.challenge = challenge;
      res.locals.answerJson = true;
      next();
    };

    routes.post('/login/passkey', limits[0]!, optionalState, ...limits.slice(1), async (req, res) => {
      const challenge = res.locals.challenge as string;
      const state = states.get(req);
      const by = { actor: 'user', ip: req.ip };
      const expected = readWebAuthnChallenge(config, req, challenge);
      clearWebAuthnChallenge(config, res);
      res.locals.factorOutcome = 'wrong';
      if (!expected) {
        await mfa.store.audit({ action: 'factor.refused', user_id: state?.u, detail: 'webauthn:no-challenge' }, by);
        throw new HttpError(403, 'This passkey request expired. Please try again.', {
          expose: true,
          title: 'Sign-in expired',
          i18n: { title: 'mfa.passkey_expired_title', message: 'mfa.passkey_expired' },
          code: 'passkey_expired',
        });
      }
      // Without a password step the passkey is the whole sign-in: the authenticator must verify the person.
      const check = await passkeys!.authenticate(req.body?.credential, expected, { userId: state?.u, requireUserVerification: !state }, by);
      if (!check.ok) {
        metrics?.flowOutcome('login', 'second_factor_failed');
        throw new HttpError(401, 'This passkey could not be used to sign in.', {
          expose: true,
          title: 'Passkey refused',
          i18n: { title: 'mfa.passkey_refused_title', message: 'mfa.passkey_refused' },
          code: `passkey_${check.reason.replace(/-/g, '_')}`,
        });
      }
      const account = await accounts!.get(check.userId);
      const user = account && !account.disabled ? await deps.users.findBySubject(account.subject) : undefined;
      if (!account || !user) {
        await mfa.store.audit({ action: 'factor.refused', user_id: check.userId, detail: 'webauthn:disabled' }, by);
        throw new HttpError(403, 'This account can no longer sign in.', { expose: true, title: 'Sign-in refused', i18n: ACCOUNT_REFUSED, code: 'account_disabled' });
      }
      res.locals.factorOutcome = 'verified';
      // Hydra after the passkey: a replayed assertion is refused (and audited) as such even when the
      // challenge it came with is long handled.
      const loginRequest = await hydra.getLoginRequest(challenge);
      useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales));
      metrics?.flowOutcome('login', 'second_factor_passed', loginRequest.client.client_id);
      const methods = state ? [...state.m, ...check.amr] : check.amr;
      await completeLogin(req, res, challenge, loginRequest, { user, methods, remember: state ? state.r : readCheckbox(req.body?.remember), extra: state ? { second_factor: 'passkey' } : { login_method: 'passkey' } });
    });

    routes.post('/login/enrol', limits[0]!, loadState, ...limits.slice(1), async (req, res) => {
      const state = states.get(req)!;
      const challenge = res.locals.challenge as string;
      const loginRequest = await hydra.getLoginRequest(challenge);
      useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales));
      if (!state.k || state.d) throw new HttpError(400, 'There is nothing to set up in this sign-in.', { expose: true, i18n: { title: 'errors.bad_request_title', message: 'second_factor.nothing_to_set_up' } });
      await userOf(state);
      const by = { actor: 'user', ip: req.ip };
      const t = translator(res);
      // The factor's name in the account's list: the language of this sign-in.
      const label = (readString(req.body.label) ?? '').trim() || t('second_factor.default_label');
      if (!(await mfa.confirmTotp(state.u, state.k, readString(req.body.code) ?? '', label, by))) {
        res.locals.factorOutcome = 'wrong';
        res.status(401);
        await renderEnrol(res, loginRequest, challenge, state, 'second_factor.enrol_wrong');
        return;
      }
      res.locals.factorOutcome = 'verified';
      const codes = await mfa.regenerateRecoveryCodes(state.u, by);
      const { k: _pending, ...rest } = state;
      writeLoginState(config, res, { ...rest, m: [...state.m, 'otp'], d: true });
      renderStep(res, 'login-recovery-codes', loginRequest, { title: t('second_factor.codes_title'), challenge, codes });
    });

    routes.post('/login/enrol/continue', loadState, async (req, res) => {
      const state = states.get(req)!;
      if (!state.d) {
        throw new HttpError(403, 'This sign-in step is not valid. Please start again.', {
          expose: true,
          title: 'Sign-in expired',
          i18n: { title: 'second_factor.state_invalid_title', message: 'second_factor.step_invalid' },
        });
      }
      res.locals.factorOutcome = 'verified';
      const challenge = res.locals.challenge as string;
      const loginRequest = await hydra.getLoginRequest(challenge);
      useLocale(res, splitUiLocales(loginRequest.oidc_context?.ui_locales));
      await accept(req, res, challenge, loginRequest, await userOf(state), state.m, state.r, { second_factor: 'totp' });
    });
  }

  return { mfa, passkeys, completeLogin, routes };
}
