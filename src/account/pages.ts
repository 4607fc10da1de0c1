import type { Request, RequestHandler, Response } from 'express';
import type { AppDeps } from '../app.js';
import { clientView } from '../flows/client-view.js';
import { readString } from '../flows/challenge.js';
import { describeScope } from '../flows/scopes.js';
import type { ConsentSession } from '../hydra/types.js';
import { HttpError } from '../http/errors.js';
import type { Translate } from '../http/i18n.js';
import { translator } from '../http/locale.js';
import { allowFormTargets } from '../http/security.js';
import { clip } from '../http/text.js';
import { AccountInputError, PasswordRejectedError, type Account, type AuditContext, type ProfilePatch } from '../users/accounts.js';
import { MAX_PASSWORD_LENGTH, type PasswordProblem } from '../users/passwords.js';
import { accountSessionsEndedAt, endAccountSessions, saveSession, type AccountSession } from './session.js';
import type { signInRoutes } from './signin.js';

/**
 * The signed-in pages: Profile, Password, Connected applications, Sessions. Every request first
 * goes through `requireAccount`, which loads the account from the database and ends the session
 * when the account is gone or disabled, its password changed after this session signed in, or
 * the person signed out everywhere since.
 */

/**
 * The name claims a person edits here (OIDC Core §5.1), in the order the form shows them; each
 * one's label is `account.profile.fields.<claim>`.
 */
export const PROFILE_FIELDS = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username'] as const satisfies ReadonlyArray<keyof ProfilePatch>;

/** The store's limit on a claim (src/users/sql/store.ts), also the form's maxlength. */
const MAX_CLAIM_LENGTH = 1024;

/**
 * Notices after a redirect (`?done=`), as catalog keys: fixed texts, so nothing from the URL is
 * echoed. The URL values stay as they were (bookmarks, tests); the keys are the catalog's.
 */
const NOTICES: Record<string, string> = {
  profile: 'account.notices.profile',
  password: 'account.notices.password',
  'password-hydra': 'account.notices.password_hydra',
  revoked: 'account.notices.revoked',
  'revoked-all': 'account.notices.revoked_all',
};

/** Dates on the account pages: the page's language, in UTC (what the pages have always said). */
const UTC_DATE: Intl.DateTimeFormatOptions = { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' };

/** Why the store refused a password (src/users/passwords.ts), in the page's language. */
export function passwordProblem(t: Translate, problem: PasswordProblem, minLength: number): string {
  switch (problem.code) {
    case 'too-short': return t('account.password_problems.too_short', { count: minLength });
    case 'too-long': return t('account.password_problems.too_long', { count: MAX_PASSWORD_LENGTH });
    case 'matches-account': return t('account.password_problems.matches_account');
    case 'too-common': return t('account.password_problems.too_common');
  }
}

/** Hydra gives at most 500 consent sessions a page on v1; the first page is what we show. */
const CONSENT_PAGE_SIZE = 500;

export interface ConnectedApplication {
  id: string;
  name: string;
  logoUri?: string;
  clientUri?: string;
  scopes: Array<{ name: string; description: string }>;
  /** ISO date of the latest consent, when Hydra says. */
  grantedAt?: string;
}

/**
 * One entry per client: a person may have consented several times (other scopes, other sessions).
 * `describe` words a scope (the page passes describeScope with its translator).
 */
export function connectedApplications(sessions: readonly ConsentSession[], hide: string, describe: (scope: string) => string = (scope) => scope): ConnectedApplication[] {
  const byClient = new Map<string, { view: ReturnType<typeof clientView>; scopes: Set<string>; grantedAt?: string }>();
  for (const session of sessions) {
    const client = session.consent_request?.client;
    const id = client?.client_id;
    if (!id || id === hide) continue;
    const entry = byClient.get(id) ?? { view: clientView(client), scopes: new Set<string>() };
    for (const scope of session.grant_scope ?? []) entry.scopes.add(scope);
    const at = session.handled_at;
    if (typeof at === 'string' && !Number.isNaN(Date.parse(at)) && (entry.grantedAt === undefined || Date.parse(at) > Date.parse(entry.grantedAt))) entry.grantedAt = new Date(at).toISOString();
    byClient.set(id, entry);
  }
  return [...byClient.entries()]
    .map(([id, { view, scopes, grantedAt }]) => ({
      id: clip(id, 255),
      name: view.name,
      logoUri: view.logoUri,
      clientUri: view.clientUri,
      scopes: [...scopes].map((scope) => ({ name: clip(scope, 200), description: clip(describe(scope)) })),
      grantedAt,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The subset of a password form's fields, as strings ('' when absent or not a string). */
function fields<const K extends string>(body: unknown, names: readonly K[]): Record<K, string> {
  const source = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  return Object.fromEntries(names.map((name) => [name, readString(source[name]) ?? ''])) as Record<K, string>;
}

export function pageRoutes(deps: AppDeps, signIn: ReturnType<typeof signInRoutes>) {
  const { config, hydra, accounts, sessionStore } = deps;
  if (!config.account || !accounts) throw new Error('pageRoutes needs the account area and a user database');
  const accountClientId = config.account.clientId;
  const base = `${config.basePath}/account`;
  const log = (req: Request) => req.log ?? deps.logger;
  const by = (req: Request): AuditContext => ({ actor: 'user', ip: req.ip });
  const current = (res: Response) => res.locals.account as Account;
  const session = (req: Request) => req.session.account as AccountSession;

  function render(req: Request, res: Response, view: string, page: 'profile' | 'password' | 'applications' | 'sessions' | 'factors', locals: Record<string, unknown>): void {
    const done = readString(req.query.done);
    const t = translator(res);
    const notice = done === undefined || !Object.hasOwn(NOTICES, done) ? undefined : t(NOTICES[done]!);
    res.render(`account/${view}`, {
      wide: true,
      account: current(res),
      notice,
      error: undefined,
      utcDate: UTC_DATE,
      nav: {
        items: [
          { href: base, label: t('account.nav.profile'), current: page === 'profile' },
          { href: `${base}/password`, label: t('account.nav.password'), current: page === 'password' },
          // Second factors (src/account/factors.ts), unless MFA=off or there is no factor store.
          ...(deps.factors && config.mfa.mode !== 'off' ? [{ href: `${base}/factors`, label: t('account.nav.factors'), current: page === 'factors' }] : []),
          { href: `${base}/applications`, label: t('account.nav.applications'), current: page === 'applications' },
          { href: `${base}/sessions`, label: t('account.nav.sessions'), current: page === 'sessions' },
        ],
        logout: { action: `${base}/logout`, csrfToken: res.locals.csrfToken as string },
      },
      ...locals,
    });
  }

  const done = (res: Response, path: string, notice: keyof typeof NOTICES) => res.redirect(303, `${base}${path}?done=${notice}`);

  /** Loads the signed-in account, or signs in (GET), or ends a session that no longer holds. */
  const requireAccount: RequestHandler = async (req, res, next) => {
    const signed = req.session.account;
    if (!signed) {
      if (req.method === 'GET' || req.method === 'HEAD') return signIn.startSignIn(req, res, req.path);
      throw new HttpError(401, 'You are not signed in to your account any more. Open it again to sign in.', {
        title: 'Signed out',
        i18n: { title: 'account.errors.signed_out_title', message: 'account.errors.signed_out' },
      });
    }
    const [account, endedAt] = await Promise.all([accounts.get(signed.userId), accountSessionsEndedAt(sessionStore, signed.subject)]);
    const passwordChangedAt = account?.password_changed_at?.getTime() ?? 0;
    const over =
      !account || account.disabled || account.subject !== signed.subject || passwordChangedAt > signed.authAt || (endedAt !== undefined && endedAt > signed.authAt);
    if (over) {
      log(req).info({ event: 'account_session_ended', reason: !account ? 'gone' : account.disabled ? 'disabled' : 'signed-out' }, 'account area: session no longer valid');
      await signIn.endSession(req, res);
      return res.status(401).render('account/signed-out', { title: translator(res)('account.signed_out.title'), ended: true, everywhere: false, hydraUnreachable: false, signInUrl: `${base}/login` });
    }
    res.locals.account = account;
    // The nav's "Sign out" form ends at Hydra's logout endpoint (and back): Chromium applies
    // form-action to every redirect after a POST, so Hydra's origin joins 'self'.
    allowFormTargets(res, [config.hydra.publicUrl]);
    next();
  };

  // ---- Profile ---------------------------------------------------------------------------------

  function renderProfile(req: Request, res: Response, values: Record<string, string>, error?: string, status = 200): void {
    const t = translator(res);
    res.status(status);
    render(req, res, 'profile', 'profile', {
      title: t('account.profile.title'),
      fields: PROFILE_FIELDS.map((name) => ({ name, label: t(`account.profile.fields.${name}`), value: values[name] ?? '' })),
      maxLength: MAX_CLAIM_LENGTH,
      error,
    });
  }

  const profile: RequestHandler = (req, res) => {
    const claims = current(res).profile as Record<string, unknown>;
    renderProfile(req, res, Object.fromEntries(PROFILE_FIELDS.map((name) => [name, typeof claims[name] === 'string' ? claims[name] : ''])));
  };

  /** The store's refusal of a claim, in the page's language (the store words it in English for the API). */
  function profileError(t: Translate, err: AccountInputError): string {
    const known = (PROFILE_FIELDS as readonly string[]).includes(err.field);
    // The label is the catalog's, not the person's input: the page escapes the whole message itself.
    const field = known ? t(`account.profile.fields.${err.field}`) : err.field;
    const plain = { interpolation: { escapeValue: false } } as const;
    if (err.code === 'claim-too-long') return t('account.profile.too_long', { ...plain, field, count: MAX_CLAIM_LENGTH });
    return t('account.profile.invalid', { ...plain, field });
  }

  const saveProfile: RequestHandler = async (req, res) => {
    const values = fields(req.body, PROFILE_FIELDS);
    // An emptied field removes the claim (the store turns '' into null).
    const patch: ProfilePatch = Object.fromEntries(PROFILE_FIELDS.map((name) => [name, values[name].trim() === '' ? null : values[name]]));
    try {
      await accounts.update(current(res).id, { profile: patch }, by(req));
    } catch (err) {
      if (err instanceof AccountInputError) return renderProfile(req, res, values, profileError(translator(res), err), 400);
      throw err;
    }
    done(res, '', 'profile');
  };

  // ---- Password --------------------------------------------------------------------------------

  function renderPassword(req: Request, res: Response, error?: string, status = 200): void {
    res.status(status);
    render(req, res, 'password', 'password', { title: translator(res)('account.password.title'), error, minLength: config.passwordPolicy.minLength });
  }

  const password: RequestHandler = (req, res) => renderPassword(req, res);

  /**
   * The current password, then the new one (policy checked by the store). Afterwards every
   * other session ends: Hydra's login sessions of this person (every browser, this one included:
   * Hydra revokes them by subject, not "all but one"), so each application's next sign-in asks
   * for the new password; and every other /account session, whose sign-in is now older than the
   * password. This browser stays in /account: its session moves its sign-in time to the change.
   */
  const changePassword: RequestHandler = async (req, res) => {
    const t = translator(res);
    // A refused form comes back empty: passwords are never echoed into a page.
    const form = fields(req.body, ['current_password', 'new_password', 'confirm_password'] as const);
    if (form.current_password === '' || form.new_password === '') return renderPassword(req, res, t('account.password.missing'), 400);
    if (form.new_password !== form.confirm_password) return renderPassword(req, res, t('account.password.mismatch'), 400);
    const account = current(res);
    let changed: boolean;
    try {
      changed = await accounts.changePassword(account.id, form.current_password, form.new_password, by(req));
    } catch (err) {
      if (err instanceof PasswordRejectedError) return renderPassword(req, res, passwordProblem(t, err.problem, config.passwordPolicy.minLength), 400);
      throw err;
    }
    // 401 is what the rate limit counts (a wrong current password, per person and per IP).
    if (!changed) return renderPassword(req, res, t('account.password.wrong'), 401);
    const after = await accounts.get(account.id);
    session(req).authAt = Math.max(after?.password_changed_at?.getTime() ?? Date.now(), session(req).authAt);
    await saveSession(req);
    try {
      await hydra.revokeAuthenticationSession(account.subject);
      await accounts.appendAudit({ action: 'sessions.revoked', user_id: account.id, detail: 'password-changed' }, by(req));
    } catch (err) {
      log(req).warn({ event: 'account_revoke_failed', error: err instanceof Error ? err.message : String(err) }, 'account area: password changed, Hydra login sessions not revoked');
      return done(res, '/password', 'password-hydra');
    }
    done(res, '/password', 'password');
  };

  // ---- Connected applications -----------------------------------------------------------------

  const applications: RequestHandler = async (req, res) => {
    const page = await hydra.listSubjectConsentSessions({ subject: current(res).subject, pageSize: CONSENT_PAGE_SIZE });
    const t = translator(res);
    render(req, res, 'applications', 'applications', { title: t('account.applications.title'), applications: connectedApplications(page.items, accountClientId, (scope) => describeScope(scope, t)) });
  };

  /** Hydra deletes the consent and every token issued on it: the application is signed out of the person's data. */
  const revokeApplication: RequestHandler = async (req, res) => {
    const clientId = readString(req.body?.client)?.trim();
    if (!clientId || clientId.length > 255) {
      throw new HttpError(400, 'Choose an application to disconnect.', { i18n: { title: 'account.errors.no_application_title', message: 'account.errors.no_application' } });
    }
    const account = current(res);
    await hydra.revokeConsentSessions({ subject: account.subject, client: clientId });
    await accounts.appendAudit({ action: 'consent.revoked', user_id: account.id, detail: clientId }, by(req));
    done(res, '/applications', 'revoked');
  };

  const revokeAllApplications: RequestHandler = async (req, res) => {
    const account = current(res);
    await hydra.revokeConsentSessions({ subject: account.subject, all: true });
    await accounts.appendAudit({ action: 'consent.revoked', user_id: account.id, detail: 'all' }, by(req));
    done(res, '/applications', 'revoked-all');
  };

  // ---- Sessions --------------------------------------------------------------------------------

  const SIGN_IN_EVENTS = new Set(['login.succeeded', 'login.failed']);

  const sessions: RequestHandler = async (req, res) => {
    const trail = await accounts.auditTrail(current(res).id, { limit: 100 });
    const recent = trail.items
      .filter((event) => SIGN_IN_EVENTS.has(event.action))
      .slice(0, 10)
      .map((event) => ({ at: event.at.toISOString(), ok: event.action === 'login.succeeded', ip: event.ip ?? '' }));
    render(req, res, 'sessions', 'sessions', { title: translator(res)('account.sessions.title'), signedInAt: new Date(session(req).authAt).toISOString(), recent });
  };

  /**
   * "Sign out everywhere": Hydra's login sessions of this person first (if Hydra cannot be
   * reached nothing else happens, and the error page says so), then every /account session,
   * this one included.
   */
  const signOutEverywhere: RequestHandler = async (req, res) => {
    const account = current(res);
    await hydra.revokeAuthenticationSession(account.subject);
    await endAccountSessions(sessionStore, account.subject);
    await accounts.appendAudit({ action: 'sessions.revoked', user_id: account.id, detail: 'everywhere' }, by(req));
    await signIn.endSession(req, res);
    res.redirect(303, `${base}/signed-out?reason=everywhere`);
  };

  return { render, requireAccount, profile, saveProfile, password, changePassword, applications, revokeApplication, revokeAllApplications, sessions, signOutEverywhere };
}
