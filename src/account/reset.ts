import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AppDeps } from '../app.js';
import { readString } from '../flows/challenge.js';
import { HttpError } from '../http/errors.js';
import type { Translate } from '../http/i18n.js';
import { translator } from '../http/locale.js';
import { bruteForceLimits, normaliseAccount, TooManyAttemptsError } from '../http/rate-limit.js';
import type { Account, AuditContext } from '../users/accounts.js';
import { accountTag } from '../users/email.js';
import { checkPassword } from '../users/passwords.js';
import { resetPasswordMail } from './mail.js';
import { passwordProblem } from './pages.js';

/**
 * One-time links: "Forgot password?" (asks for an address, mails a link) and the page every
 * set-password link opens, whether it came by that mail or from an administrator
 * (`/account/set-password?token=…`, src/admin/users.ts). Tokens are the store's: 256 random bits,
 * kept as a SHA-256, expiring, used up atomically once.
 */

/** Reset mails to one address per LOGIN_RATE_LIMIT_WINDOW, whoever asks: enough to retry, too few to flood a mailbox. */
export const RESET_MAILS_PER_ADDRESS = 3;

/** A 429 in the words of this page, with Retry-After (the error handler reads `retryAfter`). */
class TooManyResetRequestsError extends HttpError {
  constructor(readonly retryAfter: number) {
    const minutes = Math.max(1, Math.ceil(retryAfter / 60));
    super(429, `Too many requests for a new password. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, {
      title: 'Too many requests',
      i18n: { title: 'account.errors.too_many_resets_title', message: 'account.errors.too_many_resets', values: { count: minutes } },
    });
  }
}

/** The limiter's own 429 says "failed sign-in attempts": reworded for this form. */
function reworded(limits: RequestHandler[]): RequestHandler[] {
  return limits.map((limit) => (req: Request, res: Response, next: NextFunction) =>
    limit(req, res, (err?: unknown) => next(err instanceof TooManyAttemptsError ? new TooManyResetRequestsError(err.retryAfter) : err)),
  );
}

const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+$/;

export function resetRoutes(deps: AppDeps) {
  const { config, accounts, mailer, hydra } = deps;
  if (!accounts) throw new Error('resetRoutes needs a user database');
  const base = `${config.basePath}/account`;
  const log = (req: Request) => req.log ?? deps.logger;
  const by = (req: Request): AuditContext => ({ actor: 'user', ip: req.ip });
  const setPasswordLink = (token: string) => `${config.baseUrl}/account/set-password?token=${encodeURIComponent(token)}`;

  // ---- Forgot password ---------------------------------------------------------------------------

  /**
   * Every request counts (not only failures): per client IP as many as sign-ins may fail, per
   * address RESET_MAILS_PER_ADDRESS. The per-address count is kept whether or not the address
   * has an account, so a 429 says nothing about that either.
   */
  const forgotLimits = reworded(
    bruteForceLimits(
      { rateLimit: { ...config.rateLimit, perAccount: RESET_MAILS_PER_ADDRESS } },
      { name: 'account-forgot', redis: deps.redis, account: (req) => normaliseAccount((req.body as Record<string, unknown> | undefined)?.email), failed: () => true },
    ),
  );

  const showForgot: RequestHandler = (_req, res) => {
    res.render('account/forgot', { title: translator(res)('account.forgot.title'), email: '', error: undefined });
  };

  /**
   * Looks the address up, issues a link and mails it: after the answer, so its timing tells nothing.
   * The mail speaks the language of the page it was asked for from (`t`, `lang`): the person asking
   * is the one who reads it, and it is the only language we know of theirs (accounts keep none).
   */
  async function mailResetLink(req: Request, email: string, t: Translate, lang: string): Promise<void> {
    const account = await accounts!.getByEmail(email);
    if (!account || account.disabled) {
      log(req).info({ event: 'password_reset_requested', account: accountTag(email), sent: false }, 'password reset: no usable account');
      return;
    }
    const issued = await accounts!.createToken(account.id, 'set-password', config.passwordResetTtl, by(req));
    await mailer!.send(resetPasswordMail(account.email, setPasswordLink(issued.token), issued.expires_at, t, lang));
    log(req).info({ event: 'password_reset_requested', account: accountTag(email), sent: true }, 'password reset: link mailed');
  }

  /**
   * The same page for every address that looks like one, answered before the database or the
   * mail server is asked: whether an account exists is neither said nor measurable here.
   */
  const forgot: RequestHandler = (req, res) => {
    const t = translator(res);
    const email = (readString(req.body?.email) ?? '').trim();
    if (email.length > 254 || !LOOKS_LIKE_EMAIL.test(email)) {
      // The address comes back as typed (what can be kept), so it can be corrected rather than retyped.
      res.status(400).render('account/forgot', { title: t('account.forgot.title'), email: email.slice(0, 254), error: t('account.forgot.invalid') });
      return;
    }
    void mailResetLink(req, email, t, String(res.locals.lang ?? 'en')).catch((err: unknown) => {
      log(req).warn({ event: 'password_reset_failed', account: accountTag(email), error: err instanceof Error ? err.message : String(err) }, 'password reset: the link could not be sent');
    });
    res.render('account/forgot-sent', { title: t('account.forgot.sent_title') });
  };

  // ---- Set a password with a one-time link -------------------------------------------------------

  function renderSetPassword(res: Response, account: Account, token: string, error?: string, status = 200): void {
    res.status(status).render('account/set-password', {
      title: translator(res)('account.set_password.title'),
      email: account.email,
      token,
      error,
      minLength: config.passwordPolicy.minLength,
    });
  }

  function invalidLink(res: Response): void {
    res.status(410).render('account/link-invalid', {
      title: translator(res)('account.set_password.invalid_title'),
      forgotUrl: mailer ? `${base}/forgot` : undefined,
    });
  }

  /** GET /account/set-password?token=…: the form, for a live link; the token is only looked at, not used. */
  const showSetPassword: RequestHandler = async (req, res) => {
    const token = readString(req.query.token) ?? '';
    const account = await accounts.peekToken(token, 'set-password');
    if (!account) return invalidLink(res);
    renderSetPassword(res, account, token);
  };

  /**
   * POST: the policy is checked before the token is used, so a refused password leaves the link
   * working; then the token is used up (atomically: of two tabs, one wins) and the password set.
   * Afterwards the person's Hydra login sessions are revoked, as after any password change: a
   * reset is what someone does who fears another knows the old one.
   */
  const setPassword: RequestHandler = async (req, res) => {
    const token = readString(req.body?.token) ?? '';
    const password = readString(req.body?.password) ?? '';
    const confirm = readString(req.body?.confirm_password) ?? '';
    const account = await accounts.peekToken(token, 'set-password');
    if (!account) return invalidLink(res);
    const t = translator(res);
    if (password === '') return renderSetPassword(res, account, token, t('account.set_password.missing'), 400);
    if (password !== confirm) return renderSetPassword(res, account, token, t('account.set_password.mismatch'), 400);
    const problem = checkPassword(password, config.passwordPolicy, [account.email, account.profile.name]);
    if (problem) return renderSetPassword(res, account, token, passwordProblem(t, problem, config.passwordPolicy.minLength), 400);
    const owner = await accounts.consumeToken(token, 'set-password', by(req));
    if (!owner) return invalidLink(res);
    await accounts.setPassword(owner.id, password, by(req));
    try {
      await hydra.revokeAuthenticationSession(owner.subject);
    } catch (err) {
      log(req).warn({ event: 'account_revoke_failed', error: err instanceof Error ? err.message : String(err) }, 'password set by link; Hydra login sessions not revoked');
    }
    res.render('account/set-password-done', { title: t('account.set_password.done_title'), accountUrl: config.account ? base : undefined });
  };

  return { forgotLimits, showForgot, forgot, showSetPassword, setPassword };
}
