import type { Request, RequestHandler, Response } from 'express';
import type { AppDeps } from '../app.js';
import { readString } from '../flows/challenge.js';
import { HttpError } from '../http/errors.js';
import { translator } from '../http/locale.js';
import { allowDataImages, allowOwnScripts } from '../mfa/csp.js';
import { createPasskeys } from '../mfa/passkeys.js';
import { createMfa } from '../mfa/service.js';
import { groupedSecret } from '../mfa/totp.js';
import type { Account, AuditContext } from '../users/accounts.js';
import type { pageRoutes } from './pages.js';
import { saveSession } from './session.js';

/**
 * /account/factors: the person's second factors.
 *
 *   GET  /factors                  the list: authenticator apps, recovery codes left
 *   GET  /factors/totp             a new key (QR code and text); POST /factors/totp confirms it with its first code
 *   POST /factors/recovery-codes   ten new codes, shown once (the old ones stop working)
 *   POST /factors/remove           removes one factor (the last one takes the recovery codes with it)
 *
 * The pending key lives in this signed-in session (server-side), sealed as in the database, and
 * becomes a factor only when a code from it is confirmed. Every change is audited by the store.
 *
 * Every change needs a recent sign-in at Hydra (the ID token's auth_time, ACCOUNT_REAUTH_AFTER):
 * a session cookie that leaked, or a browser left signed in, must not be enough to add a passkey
 * (a way in without the password) or to remove the factor that guards the account. An older
 * sign-in is sent to Hydra with prompt=login, which asks for the password and factor again.
 */

declare module 'express-session' {
  interface SessionData {
    /** The sealed TOTP secret being set up on /account/factors/totp. */
    pendingTotp?: string;
    /** The WebAuthn challenge of a passkey being registered. */
    passkeyChallenge?: string;
  }
}

/** `?done=` of this page, as catalog keys (fixed texts: nothing from the URL is echoed). */
const NOTICES: Record<string, string> = {
  'totp-added': 'account.notices.totp_added',
  removed: 'account.notices.factor_removed',
  'passkey-added': 'account.notices.passkey_added',
};

/** An exposed 4xx of these pages, with its words in the catalog (`account.errors.<key>`, `<key>_title`). */
function factorError(status: number, message: string, key: string): HttpError {
  return new HttpError(status, message, { expose: true, i18n: { title: `account.errors.${key}_title`, message: `account.errors.${key}` } });
}

export function factorRoutes(deps: AppDeps, pages: ReturnType<typeof pageRoutes>) {
  const { config, factors } = deps;
  if (!factors) throw new Error('factorRoutes needs deps.factors');
  const mfa = createMfa(config, factors);
  const passkeys = createPasskeys(config, factors);
  const base = `${config.basePath}/account/factors`;
  const current = (res: Response) => res.locals.account as Account;
  const by = (req: Request): AuditContext => ({ actor: 'user', ip: req.ip });
  const reauthAfterMs = (config.account?.reauthAfter ?? 0) * 1000;
  const reauthUrl = `${config.basePath}/account/login?return_to=/factors&reauth=1`;
  const recent = (req: Request) => Date.now() - (req.session.account?.verifiedAt ?? 0) <= reauthAfterMs;

  /** Before every route that changes factors: an old sign-in goes to Hydra to be asked again, then back to this page. */
  const recentSignIn: RequestHandler = (req, res, next) => {
    if (recent(req)) return next();
    if (req.accepts(['html', 'json']) === 'json') {
      res.status(403).json({ error: 'reauthentication_required', error_description: 'Sign in again to change your second factors.', redirect_to: reauthUrl });
    } else {
      res.redirect(303, reauthUrl);
    }
  };

  const list: RequestHandler = async (req, res) => {
    const account = current(res);
    const [items, codesLeft] = await Promise.all([factors.list(account.id), factors.recoveryCodesLeft(account.id)]);
    const done = readString(req.query.done);
    const t = translator(res);
    // "Add a passkey" runs our two scripts (src/mfa/csp.ts); no other account page does.
    allowOwnScripts(res);
    pages.render(req, res, 'factors', 'factors', {
      title: t('account.factors.title'),
      required: config.mfa.mode === 'required',
      factors: items.map((f) => ({
        id: f.id,
        kind: t(f.kind === 'totp' ? 'account.factors.kind_totp' : 'account.factors.kind_passkey'),
        label: f.label,
        createdAt: f.created_at.toISOString(),
        lastUsedAt: f.last_used_at?.toISOString() ?? '',
      })),
      codesLeft,
      // On an old sign-in the page shows the factors and one way to change them: confirm it's you.
      reauthUrl: recent(req) ? undefined : reauthUrl,
      factorNotice: done === undefined || !Object.hasOwn(NOTICES, done) ? undefined : t(NOTICES[done]!),
    });
  };

  async function renderTotp(req: Request, res: Response, sealed: string, error?: string, status = 200) {
    const account = current(res);
    const pending = await mfa.pendingTotp(account.id, sealed, account.email);
    if (!pending) throw factorError(400, 'This setup expired. Start again.', 'totp_expired');
    allowDataImages(res);
    res.status(status);
    pages.render(req, res, 'factors-totp', 'factors', { title: translator(res)('account.factors.totp_title'), qr: pending.qr, secret: groupedSecret(pending.secret), error });
  }

  const startTotp: RequestHandler = async (req, res) => {
    const account = current(res);
    const enrolment = await mfa.beginTotp(account.id, account.email);
    req.session.pendingTotp = enrolment.sealed;
    await renderTotp(req, res, enrolment.sealed);
  };

  const confirmTotp: RequestHandler = async (req, res) => {
    const account = current(res);
    const sealed = req.session.pendingTotp;
    if (!sealed) throw factorError(400, 'There is no authenticator app being set up. Start again.', 'no_totp');
    const t = translator(res);
    // An unnamed factor is named in the language it was added in: it is the person's own label from then on.
    const label = (readString(req.body?.label) ?? '').trim() || t('account.factors.totp_default_label');
    if (!(await mfa.confirmTotp(account.id, sealed, readString(req.body?.code) ?? '', label, by(req)))) {
      return renderTotp(req, res, sealed, t('account.factors.totp_wrong'), 400);
    }
    delete req.session.pendingTotp;
    // The first factor comes with recovery codes: without them a lost phone locks the person out.
    if ((await factors.recoveryCodesLeft(account.id)) === 0) return showCodes(req, res);
    res.redirect(303, `${base}?done=totp-added`);
  };

  async function showCodes(req: Request, res: Response) {
    const codes = await mfa.regenerateRecoveryCodes(current(res).id, by(req));
    pages.render(req, res, 'factors-codes', 'factors', { title: translator(res)('account.factors.codes_title'), codes });
  }

  const regenerateCodes: RequestHandler = async (req, res) => {
    if ((await factors.list(current(res).id)).length === 0) throw factorError(409, 'Add an authenticator app first: recovery codes stand in for it.', 'no_factor_yet');
    await showCodes(req, res);
  };

  const remove: RequestHandler = async (req, res) => {
    const id = readString(req.body?.factor) ?? '';
    if (!(await factors.remove(current(res).id, id, by(req)))) throw factorError(404, 'There is no such factor.', 'no_such_factor');
    res.redirect(303, `${base}?done=removed`);
  };

  // Passkeys: options (the challenge kept in this session), then the browser's answer.
  const passkeyOptions: RequestHandler = async (req, res) => {
    const options = await passkeys.registrationOptions(current(res));
    req.session.passkeyChallenge = options.challenge;
    await saveSession(req);
    res.json(options);
  };

  const registerPasskey: RequestHandler = async (req, res) => {
    const expected = req.session.passkeyChallenge;
    delete req.session.passkeyChallenge;
    if (!expected) throw factorError(400, 'There is no passkey being added. Start again.', 'no_passkey');
    const label = (readString(req.body?.label) ?? '').trim() || translator(res)('account.factors.passkey_default_label');
    if (!(await passkeys.register(current(res).id, req.body?.credential, expected, label, by(req)))) {
      throw factorError(400, 'This passkey could not be added.', 'passkey_refused');
    }
    res.json({ redirect_to: `${base}?done=passkey-added` });
  };

  return { list, recentSignIn, startTotp, confirmTotp, regenerateCodes, remove, passkeyOptions, registerPasskey };
}
