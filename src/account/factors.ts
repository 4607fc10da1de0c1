import type { Request, RequestHandler, Response } from 'express';
import type { AppDeps } from '../app.js';
import { readString } from '../flows/challenge.js';
import { HttpError } from '../http/errors.js';
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
 */

declare module 'express-session' {
  interface SessionData {
    /** The sealed TOTP secret being set up on /account/factors/totp. */
    pendingTotp?: string;
    /** The WebAuthn challenge of a passkey being registered. */
    passkeyChallenge?: string;
  }
}

const NOTICES: Record<string, string> = {
  'totp-added': 'The authenticator app was added: sign-ins now ask for a code from it.',
  removed: 'The factor was removed.',
  'passkey-added': 'The passkey was added: use it after your password, or to sign in without one.',
};

export function factorRoutes(deps: AppDeps, pages: ReturnType<typeof pageRoutes>) {
  const { config, factors } = deps;
  if (!factors) throw new Error('factorRoutes needs deps.factors');
  const mfa = createMfa(config, factors);
  const passkeys = createPasskeys(config, factors);
  const base = `${config.basePath}/account/factors`;
  const current = (res: Response) => res.locals.account as Account;
  const by = (req: Request): AuditContext => ({ actor: 'user', ip: req.ip });

  const list: RequestHandler = async (req, res) => {
    const account = current(res);
    const [items, codesLeft] = await Promise.all([factors.list(account.id), factors.recoveryCodesLeft(account.id)]);
    const done = readString(req.query.done);
    // "Add a passkey" runs our two scripts (src/mfa/csp.ts); no other account page does.
    allowOwnScripts(res);
    pages.render(req, res, 'factors', 'factors', {
      title: 'Two-step verification',
      required: config.mfa.mode === 'required',
      factors: items.map((f) => ({ id: f.id, kind: f.kind === 'totp' ? 'Authenticator app' : 'Passkey', label: f.label, createdAt: f.created_at.toISOString(), lastUsedAt: f.last_used_at?.toISOString() ?? '' })),
      codesLeft,
      factorNotice: done === undefined ? undefined : NOTICES[done],
    });
  };

  async function renderTotp(req: Request, res: Response, sealed: string, error?: string, status = 200) {
    const account = current(res);
    const pending = await mfa.pendingTotp(account.id, sealed, account.email);
    if (!pending) throw new HttpError(400, 'This setup expired. Start again.', { expose: true });
    allowDataImages(res);
    res.status(status);
    pages.render(req, res, 'factors-totp', 'factors', { title: 'Add an authenticator app', qr: pending.qr, secret: groupedSecret(pending.secret), error });
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
    if (!sealed) throw new HttpError(400, 'There is no authenticator app being set up. Start again.', { expose: true });
    const label = (readString(req.body?.label) ?? '').trim() || 'Authenticator app';
    if (!(await mfa.confirmTotp(account.id, sealed, readString(req.body?.code) ?? '', label, by(req)))) {
      return renderTotp(req, res, sealed, 'That code is not right. Check the time on your phone and enter the current code.', 400);
    }
    delete req.session.pendingTotp;
    // The first factor comes with recovery codes: without them a lost phone locks the person out.
    if ((await factors.recoveryCodesLeft(account.id)) === 0) return showCodes(req, res);
    res.redirect(303, `${base}?done=totp-added`);
  };

  async function showCodes(req: Request, res: Response) {
    const codes = await mfa.regenerateRecoveryCodes(current(res).id, by(req));
    pages.render(req, res, 'factors-codes', 'factors', { title: 'Recovery codes', codes });
  }

  const regenerateCodes: RequestHandler = async (req, res) => {
    if ((await factors.list(current(res).id)).length === 0) throw new HttpError(409, 'Add an authenticator app first: recovery codes stand in for it.', { expose: true });
    await showCodes(req, res);
  };

  const remove: RequestHandler = async (req, res) => {
    const id = readString(req.body?.factor) ?? '';
    if (!(await factors.remove(current(res).id, id, by(req)))) throw new HttpError(404, 'There is no such factor.', { title: 'Not found' });
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
    if (!expected) throw new HttpError(400, 'There is no passkey being added. Start again.', { expose: true });
    const label = (readString(req.body?.label) ?? '').trim() || 'Passkey';
    if (!(await passkeys.register(current(res).id, req.body?.credential, expected, label, by(req)))) {
      throw new HttpError(400, 'This passkey could not be added.', { expose: true, title: 'Passkey refused' });
    }
    res.json({ redirect_to: `${base}?done=passkey-added` });
  };

  return { list, startTotp, confirmTotp, regenerateCodes, remove, passkeyOptions, registerPasskey };
}
