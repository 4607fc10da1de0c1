import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { describeError, HttpError } from '../http/errors.js';
import { plainText, type Translate } from '../http/i18n.js';
import { translator } from '../http/locale.js';
import { safeHttpUrl } from '../http/urls.js';
import { AccountConflictError, AccountInputError, PasswordRejectedError, type Account, type AccountPatch, type AccountStore, type AuditContext, type AuditEvent, type NewAccount, type ProfilePatch } from '../users/accounts.js';
import { PROFILE_CLAIM_NAMES } from '../users/claims.js';
import { canonicalEmail } from '../users/email.js';
import { MAX_PASSWORD_LENGTH } from '../users/passwords.js';
import type { ProfileClaims } from '../users/store.js';
import { factorAdminRoutes, factorRows, factorView } from './factors.js';
import { adminUrl, attempt, bodyObject, field, isApi, pager, parseOr400, readPaging, redirectDone, renderAdmin, renderConfirm, type PagerView } from './view.js';

/**
 * The accounts of the user database (AccountStore, src/users/accounts.ts): list and search,
 * create (with a password, or with a one-time set-password link), edit the profile claims,
 * disable and enable, delete, issue a set-password link, and each account's audit trail.
 *
 * Every change goes to the store with `{ actor: 'admin', ip }`, and the store appends the audit
 * event in the same transaction. Disabling or deleting an account also revokes the subject's
 * consent and login sessions at Hydra: otherwise Hydra's remember-me cookie would skip the login
 * page and sign a disabled person straight back in. The store change comes first and stands
 * when Hydra then fails; the answer is a 502 that says so and names what is left to revoke.
 */

/** How long an admin-issued set-password link works: long enough to reach someone's inbox. */
export const SET_PASSWORD_LINK_TTL_SECONDS = 3 * 24 * 3600;
const MAX_LINK_TTL_SECONDS = 30 * 24 * 3600;
/** The store pages by at most 200 accounts or events. */
const MAX_PAGE_SIZE = 200;
const MAX_SEARCH = 200;

/** The profile claims an admin edits; `updated_at` is the store's. */
const CLAIMS = PROFILE_CLAIM_NAMES.filter((name) => name !== 'updated_at');
type Claim = (typeof CLAIMS)[number];

/** Each claim's label is `admin_users.claims.<name>`; these have a hint under the field too. */
const CLAIM_FIELDS: Partial<Record<Claim, { hint: string; type?: 'url' }>> = {
  profile: { hint: 'admin_users.claim_hints.url', type: 'url' },
  picture: { hint: 'admin_users.claim_hints.url', type: 'url' },
  website: { hint: 'admin_users.claim_hints.url', type: 'url' },
  birthdate: { hint: 'admin_users.claim_hints.birthdate' },
  zoneinfo: { hint: 'admin_users.claim_hints.zoneinfo' },
  locale: { hint: 'admin_users.claim_hints.locale' },
};

/** A catalog key for a stored word (an action, `action:detail`, an actor): letters, digits, `_`, `-`. */
const catalogKey = (word: string) => word.replace(/[^A-Za-z0-9_-]/g, '_');

/**
 * An audit action as the console words it (`admin_users.events.*`): the action with its detail
 * first (`factor.added:webauthn` → "Passkey added"), then the action alone; '' for an action the
 * catalog does not know (a fork's own), which the page then shows only as stored.
 */
function eventLabel(t: Translate, action: string, detail: string | null): string {
  const candidates = detail ? [`${action}:${detail}`, action] : [action];
  for (const candidate of candidates) {
    const label = String(t(`admin_users.events.${catalogKey(candidate)}`, { defaultValue: '' }));
    if (label !== '') return label;
  }
  return '';
}

/** Who did it (`admin_users.actors.*`), or the stored word for an actor the catalog does not know. */
function actorLabel(t: Translate, actor: string): string {
  return String(t(`admin_users.actors.${catalogKey(actor)}`, { defaultValue: '' })) || actor;
}


// ---- The API's bodies ------------------------------------------------------------------------

const claimShape = <T extends z.ZodType>(value: T) => Object.fromEntries(CLAIMS.map((name) => [name, value.optional()])) as Record<Claim, z.ZodOptional<T>>;

/** POST /admin/users: `{email, password?, name, ...claims}`; the store checks the values themselves. */
const createSchema = z.strictObject({
  email: z.string('must be a string'),
  password: z.string('must be a string').optional(),
  subject: z.string('must be a string').optional(),
  email_verified: z.boolean('must be true or false').optional(),
  disabled: z.boolean('must be true or false').optional(),
  ...claimShape(z.string('must be a string')),
});

/** PATCH /admin/users/:id: the fields to change; a claim set to null (or '') is removed. */
const patchSchema = z.strictObject({
  email: z.string('must be a string').optional(),
  email_verified: z.boolean('must be true or false').optional(),
  disabled: z.boolean('must be true or false').optional(),
  ...claimShape(z.string('must be a string or null').nullable()),
});

const linkSchema = z.strictObject({
  expires_in: z.number('must be a number of seconds').int('must be whole seconds').min(60, 'must be at least 60 seconds').max(MAX_LINK_TTL_SECONDS, `must be at most ${MAX_LINK_TTL_SECONDS} seconds (30 days)`).optional(),
});

function pickClaims<T>(body: Partial<Record<Claim, T>>): Partial<Record<Claim, T>> {
  const claims: Partial<Record<Claim, T>> = {};
  for (const name of CLAIMS) if (body[name] !== undefined) claims[name] = body[name];
  return claims;
}

// ---- What the API answers ---------------------------------------------------------------------

/** An account as the API shows it: flat like the create body, dates as RFC 3339, never a hash. */
export function userJson(account: Account): Record<string, unknown> {
  const { updated_at: profileUpdatedAt, ...claims } = account.profile;
  return {
    id: account.id,
    subject: account.subject,
    email: account.email,
    email_verified: account.email_verified,
    ...claims,
    // The OIDC `updated_at` claim (seconds); `updated_at` below is the row's.
    profile_updated_at: profileUpdatedAt ?? null,
    disabled: account.disabled,
    has_password: account.has_password,
    created_at: account.created_at.toISOString(),
    updated_at: account.updated_at.toISOString(),
    password_changed_at: account.password_changed_at?.toISOString() ?? null,
  };
}

function auditJson(event: AuditEvent): Record<string, unknown> {
  return { ...event, at: event.at.toISOString() };
}

// ---- Paging: the store's cursors as our page_token ---------------------------------------------

function readStorePaging(req: Request): { pageSize?: number; pageToken?: string } {
  const paging = readPaging(req);
  if (paging.pageSize !== undefined && paging.pageSize > MAX_PAGE_SIZE) {
    throw new HttpError(400, `page_size: must be at most ${MAX_PAGE_SIZE}`, {
      i18n: { title: 'errors.bad_request_title', message: 'admin_users.page_size_too_big', values: { max: MAX_PAGE_SIZE } },
    });
  }
  return paging;
}

/** Link header and console pager for a forward-only store page; `first` once past the first page. */
function storePager(res: Response, next: string | undefined, path: string, query: Record<string, string | undefined>, paging: { pageSize?: number; pageToken?: string }): PagerView {
  return pager(res, { items: [], next, first: paging.pageToken ? '' : undefined }, path, query, paging);
}

// ---- The console's forms ----------------------------------------------------------------------

/** The create and edit form as typed, so a failed submit shows it again (never the password). */
interface UserForm {
  email: string;
  email_verified: boolean;
  claims: Record<Claim, string>;
  /** Create only: set a password now, or issue a one-time link. */
  credential: 'link' | 'password';
}

function emptyForm(): UserForm {
  return { email: '', email_verified: false, claims: Object.fromEntries(CLAIMS.map((name) => [name, ''])) as Record<Claim, string>, credential: 'link' };
}

function formFromAccount(account: Account): UserForm {
  const form = emptyForm();
  form.email = account.email;
  form.email_verified = account.email_verified;
  for (const name of CLAIMS) form.claims[name] = account.profile[name] ?? '';
  return form;
}

function readForm(body: unknown): UserForm {
  const form = emptyForm();
  form.email = (field(body, 'email') ?? '').trim();
  form.email_verified = field(body, 'email_verified') !== undefined;
  for (const name of CLAIMS) form.claims[name] = (field(body, name) ?? '').trim();
  form.credential = field(body, 'credential') === 'password' ? 'password' : 'link';
  return form;
}

/** The console's own checks: English for the log, a catalog key for the form. */
function formProblem(message: string, key: string): HttpError {
  return new HttpError(400, message, { i18n: { title: 'errors.bad_request_title', message: key } });
}

function requireEmail(email: string): void {
  if (email === '') throw formProblem('email: is required', 'admin_users.problems.email_required');
}

/**
 * A failed form submit in the page's language. The store's errors say which problem they are
 * (AccountInputError.code, PasswordRejectedError's problem code, the conflicting field), our own
 * carry a catalog key; anything else keeps the English message attempt() gives (Hydra's words).
 */
function problemText(t: Translate, err: unknown, minPasswordLength: number): string | undefined {
  const text = plainText(t);
  const known = (key: string, values: Record<string, unknown> = {}) => text(key, { ...values, defaultValue: '' }) || undefined;
  if (err instanceof PasswordRejectedError) return known(`admin_users.password_problems.${err.problem.code}`, { min: minPasswordLength, max: MAX_PASSWORD_LENGTH });
  if (err instanceof AccountConflictError) return err.field === 'email' ? known('admin_users.problems.email_taken') : undefined;
  if (err instanceof AccountInputError) return err.code ? known(`admin_users.problems.${err.code}`, { name: err.field }) : undefined;
  if (err instanceof HttpError && err.i18n?.message) return known(err.i18n.message, err.i18n.values);
  return undefined;
}

function userPath(id: string, suffix = ''): string {
  return `/users/${encodeURIComponent(id)}${suffix}`;
}

/** One row of the account page: the value as text, a link only when it is http(s). */
function profileRows(account: Account): Array<{ name: string; label: string; text: string; href?: string }> {
  return CLAIMS.filter((name) => account.profile[name] !== undefined).map((name) => {
    const text = account.profile[name] as string;
    return { name, label: `admin_users.claims.${name}`, text, href: CLAIM_FIELDS[name]?.type === 'url' ? safeHttpUrl(text) : undefined };
  });
}

/** Why revoking at Hydra failed after a disable or delete: what stands, what is left. */
interface RevokeFailure {
  what: 'disabled' | 'deleted';
  subject: string;
  failed: Array<'consent' | 'login'>;
  /** The first failure as describeError words it (English, and its catalog keys). */
  reason: ReturnType<typeof describeError>;
}

/** The outcome of a promise, fulfilled or rejected, without throwing. */
function settled<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then((value) => ({ status: 'fulfilled', value }), (reason: unknown) => ({ status: 'rejected', reason }));
}

const SESSION_NAMES = { consent: 'consent sessions', login: 'login sessions' } as const;

/** The API's (and the log's) English sentence for a RevokeFailure. */
function revokeFailureMessage({ what, subject, failed, reason }: RevokeFailure): string {
  return `The user was ${what}, but Hydra could not revoke their ${failed.map((name) => SESSION_NAMES[name]).join(' and ')}: ${reason.message} ` +
    `Until that is done, a remembered session can still sign them in: revoke the sessions of subject ${subject} under Sessions, or retry.`;
}

/** The same sentence in the page's language (plain text: the template escapes it). */
function revokeFailureText(t: Translate, { what, subject, failed, reason }: RevokeFailure): string {
  const text = plainText(t);
  const sessions = failed.length === 2 ? 'both' : failed[0]!;
  const because = reason.i18n?.message ? text(reason.i18n.message, reason.i18n.values) : reason.message;
  return text('admin_users.revoke_failed.message', {
    what: text(`admin_users.revoke_failed.what_${what}`),
    sessions: text(`admin_users.revoke_failed.sessions_${sessions}`),
    reason: because,
    subject,
  });
}

// ---- Routes -----------------------------------------------------------------------------------

/** The page's words for the store's and our own problems (attempt's `reword`). */
function reworded(res: Response, minPasswordLength: number): (err: unknown) => string | undefined {
  return (err) => problemText(translator(res), err, minPasswordLength);
}

export function userRoutes(deps: AppDeps): Router {
  const router = Router();
  const { accounts, hydra, config } = deps;
  if (!accounts) {
    // A fork that implements only UserStore has nothing to administer here.
    router.use('/users', () => {
      throw new HttpError(501, 'This deployment has no account store (deps.accounts): users are managed where they live.', {
        title: 'No user database',
        i18n: { title: 'admin_users.no_store_title', message: 'admin_users.no_store' },
      });
    });
    return router;
  }
  const store: AccountStore = accounts;

  const by = (req: Request): AuditContext => ({ actor: 'admin', ip: req.ip });

  const setPasswordUrl = (token: string) => `${config.baseUrl}/account/set-password?token=${encodeURIComponent(token)}`;

  const minPasswordLength = config.passwordPolicy.minLength;
  const notFound = () => new HttpError(404, 'There is no user with this id.', { title: 'User not found', i18n: { title: 'admin_users.not_found_title', message: 'admin_users.not_found' } });

  async function load(id: string): Promise<Account> {
    const account = await store.get(id);
    if (!account) throw notFound();
    return account;
  }

  async function issueLink(req: Request, account: Account, ttlSeconds = SET_PASSWORD_LINK_TTL_SECONDS): Promise<{ url: string; expires_at: string }> {
    // peekToken and consumeToken ignore disabled accounts: such a link would only ever fail.
    if (account.disabled) {
      throw new HttpError(409, 'This user is disabled: enable them before issuing a set-password link.', {
        i18n: { title: 'admin_users.link_disabled_title', message: 'admin_users.link_disabled' },
      });
    }
    const issued = await store.createToken(account.id, 'set-password', ttlSeconds, by(req));
    return { url: setPasswordUrl(issued.token), expires_at: issued.expires_at.toISOString() };
  }

  /**
   * Revokes every consent session (and with them the tokens issued on them) and every login
   * session of the subject at Hydra. Returns undefined when both went through, else what failed
   * (for the 502). Either way the outcome goes into the account's audit trail.
   */
  async function revokeAtHydra(req: Request, account: Account, what: 'disabled' | 'deleted'): Promise<RevokeFailure | undefined> {
    const { subject } = account;
    // One after the other: Hydra on SQLite answers two revocations of one subject that race
    // each other with "Unable to serialize access due to a concurrent update".
    const consent = await settled(hydra.revokeConsentSessions({ subject, all: true }));
    const login = await settled(hydra.revokeAuthenticationSession(subject));
    const failed: Array<[string, unknown]> = [];
    if (consent.status === 'rejected') failed.push(['consent sessions', consent.reason]);
    if (login.status === 'rejected') failed.push(['login sessions', login.reason]);
    const event = failed.length === 0
      ? { action: 'sessions.revoked', user_id: account.id, detail: what }
      : { action: 'sessions.revoke_failed', user_id: account.id, detail: failed.map(([name]) => name.split(' ')[0]).join(',') };
    try {
      await store.appendAudit(event, by(req));
    } catch (err) {
      // The account change itself is on record (the store wrote it with the change).
      req.log?.warn({ event: 'audit_failed', action: event.action, err: err instanceof Error ? err.message : String(err) }, 'could not record the Hydra revocation');
    }
    if (failed.length === 0) return undefined;
    req.log?.warn({ event: 'sessions_revoke_failed', user: account.id, failed: failed.map(([name]) => name) }, 'revoking Hydra sessions failed');
    return {
      what,
      subject,
      failed: failed.map(([name]) => (name === 'consent sessions' ? 'consent' : 'login')),
      reason: describeError(failed[0]![1], false),
    };
  }

  /** The API's 502 for a failed revocation (English, like every error_description). */
  function revokeFailed(failure: RevokeFailure): HttpError {
    return new HttpError(502, revokeFailureMessage(failure), { expose: true, title: 'Revoking sessions failed' });
  }

  /** The console's 502 after a disable or delete whose revocation failed: what stands, what is left. */
  function renderRevokeFailed(req: Request, res: Response, account: Account, failure: RevokeFailure): void {
    const t = translator(res);
    res.status(502);
    renderAdmin(req, res, 'user-revoke-failed', 'users', {
      title: plainText(t)('admin_users.revoke_failed.title'),
      message: revokeFailureText(t, failure),
      email: account.email,
      subject: account.subject,
      what: failure.what,
      userHref: failure.what === 'disabled' ? adminUrl(res, userPath(account.id)) : undefined,
      revokeConsent: adminUrl(res, '/sessions/consent', { subject: account.subject, all: 'true', action: 'delete' }),
      revokeLogin: adminUrl(res, '/sessions/login', { subject: account.subject, action: 'delete' }),
    });
  }

  function renderForm(req: Request, res: Response, locals: { mode: 'create' | 'edit'; form: UserForm; id?: string; error?: string }): void {
    const cancel = locals.mode === 'create' ? adminUrl(res, '/users') : adminUrl(res, userPath(locals.id ?? ''));
    renderAdmin(req, res, 'user-form', 'users', {
      title: plainText(translator(res))(locals.mode === 'create' ? 'admin_users.form.create_title' : 'admin_users.form.edit_title'),
      ...locals,
      action: locals.mode === 'create' ? adminUrl(res, '/users') : adminUrl(res, userPath(locals.id ?? '')),
      cancel,
      claims: CLAIMS.map((name) => ({ name, label: `admin_users.claims.${name}`, ...CLAIM_FIELDS[name], value: locals.form.claims[name] })),
      minPasswordLength,
    });
  }

  function renderLink(req: Request, res: Response, account: Account, link: { url: string; expires_at: string }, created: boolean): void {
    res.status(201);
    renderAdmin(req, res, 'user-link', 'users', {
      title: plainText(translator(res))(created ? 'admin_users.link.created_title' : 'admin_users.link.issued_title'),
      created,
      email: account.email,
      url: link.url,
      expiresAt: new Date(link.expires_at),
      href: adminUrl(res, userPath(account.id)),
    });
  }

  async function renderUser(req: Request, res: Response, account: Account): Promise<void> {
    const paging = readStorePaging(req);
    const trail = await store.auditTrail(account.id, { limit: paging.pageSize ?? 20, before: paging.pageToken });
    const links = storePager(res, trail.next, userPath(account.id, '/audit'), {}, paging);
    const path = userPath(account.id);
    const t = translator(res);
    const factors = await factorRows(deps, account);
    renderAdmin(req, res, 'user', 'users', {
      title: account.profile.name || account.email,
      account: {
        id: account.id,
        subject: account.subject,
        email: account.email,
        name: account.profile.name ?? '',
        emailVerified: account.email_verified,
        disabled: account.disabled,
        hasPassword: account.has_password,
        createdAt: account.created_at,
        updatedAt: account.updated_at,
        passwordChangedAt: account.password_changed_at,
      },
      profile: profileRows(account),
      // Second factors (src/admin/factors.ts); undefined without a factor store.
      factors: factors && factorView(factors),
      // The stored action stays on the page next to its label: it is what the logs and the API say.
      events: trail.items.map((event) => ({
        at: event.at,
        label: eventLabel(t, event.action, event.detail),
        code: event.action,
        actor: actorLabel(t, event.actor),
        ip: event.ip ?? '',
        detail: event.detail ?? '',
      })),
      pager: links,
      self: adminUrl(res, path),
      edit: adminUrl(res, path, { action: 'edit' }),
      disable: adminUrl(res, path, { action: 'disable' }),
      reset: adminUrl(res, path, { action: 'reset' }),
      remove: adminUrl(res, path, { action: 'delete' }),
      sessions: adminUrl(res, '/sessions/consent', { subject: account.subject }),
    });
  }

  router.get('/users', async (req, res) => {
    if (!isApi(res) && field(req.query, 'action') === 'new') {
      renderForm(req, res, { mode: 'create', form: emptyForm() });
      return;
    }
    const search = field(req.query, 'search')?.trim() ?? '';
    if (search.length > MAX_SEARCH) {
      throw new HttpError(400, `search: is longer than ${MAX_SEARCH} characters`, {
        i18n: { title: 'errors.bad_request_title', message: 'admin_users.search_too_long', values: { max: MAX_SEARCH } },
      });
    }
    const paging = readStorePaging(req);
    const page = await store.list({ search: search || undefined, limit: paging.pageSize, after: paging.pageToken });
    const links = storePager(res, page.next, '/users', { search: search || undefined }, paging);
    if (isApi(res)) {
      res.json(page.items.map(userJson));
      return;
    }
    renderAdmin(req, res, 'users', 'users', {
      title: plainText(translator(res))('admin_users.list.title'),
      search,
      pager: links,
      create: adminUrl(res, '/users', { action: 'new' }),
      users: page.items.map((account) => ({
        email: account.email,
        name: account.profile.name ?? '',
        disabled: account.disabled,
        hasPassword: account.has_password,
        createdAt: account.created_at,
        href: adminUrl(res, userPath(account.id)),
      })),
    });
  });

  router.post('/users', async (req, res) => {
    if (isApi(res)) {
      const body = parseOr400(createSchema, bodyObject(req));
      const input: NewAccount = {
        email: body.email,
        password: body.password,
        subject: body.subject,
        email_verified: body.email_verified,
        disabled: body.disabled,
        profile: pickClaims(body) as ProfileClaims,
      };
      const account = await store.create(input, by(req));
      const answer = userJson(account);
      if (body.password === undefined && !account.disabled) {
        const link = await issueLink(req, account);
        Object.assign(answer, { set_password_url: link.url, set_password_expires_at: link.expires_at });
      }
      res.location(adminUrl(res, userPath(account.id))).status(201).json(answer);
      return;
    }
    const form = readForm(req.body);
    const password = field(req.body, 'password') ?? '';
    let created: Account | undefined;
    let link: { url: string; expires_at: string } | undefined;
    const error = await attempt(res, async () => {
      requireEmail(form.email);
      if (form.credential === 'password' && password === '') {
        throw formProblem('password: enter one, or choose to send a set-password link', 'admin_users.problems.password_required');
      }
      created = await store.create(
        {
          email: form.email,
          email_verified: form.email_verified,
          password: form.credential === 'password' ? password : undefined,
          profile: Object.fromEntries(Object.entries(form.claims).filter(([, value]) => value !== '')) as ProfileClaims,
        },
        by(req),
      );
    }, reworded(res, minPasswordLength));
    if (error !== undefined || !created) {
      renderForm(req, res, { mode: 'create', form, error });
      return;
    }
    if (form.credential === 'link') link = await issueLink(req, created);
    if (link) {
      renderLink(req, res, created, link, true);
      return;
    }
    redirectDone(res, userPath(created.id), {}, 'created');
  });

  router.get('/users/:id', async (req, res) => {
    const account = await load(req.params.id);
    if (isApi(res)) {
      res.json(userJson(account));
      return;
    }
    const path = userPath(account.id);
    const text = plainText(translator(res));
    const facts: Array<[string, string]> = [
      [text('admin_users.fields.email'), account.email],
      [text('admin_users.fields.name'), account.profile.name ?? ''],
      [text('admin_users.fields.subject'), account.subject],
    ];
    switch (field(req.query, 'action')) {
      case 'edit':
        renderForm(req, res, { mode: 'edit', id: account.id, form: formFromAccount(account) });
        return;
      case 'delete':
        renderConfirm(req, res, 'users', {
          title: text('admin_users.confirm.delete_title'),
          message: text('admin_users.confirm.delete_message'),
          facts,
          action: adminUrl(res, path),
          method: 'DELETE',
          button: text('admin_users.confirm.delete_button'),
          cancel: adminUrl(res, path),
        });
        return;
      case 'disable':
        renderConfirm(req, res, 'users', {
          title: text('admin_users.confirm.disable_title'),
          message: text('admin_users.confirm.disable_message'),
          facts,
          action: adminUrl(res, path),
          method: 'POST',
          fields: { _method: 'PATCH', disabled: 'true' },
          button: text('admin_users.confirm.disable_button'),
          cancel: adminUrl(res, path),
        });
        return;
      case 'reset':
        renderConfirm(req, res, 'users', {
          title: text('admin_users.confirm.reset_title'),
          message: text('admin_users.confirm.reset_message', { count: SET_PASSWORD_LINK_TTL_SECONDS / 3600 }),
          facts,
          action: adminUrl(res, userPath(account.id, '/set-password-link')),
          method: 'POST',
          button: text('admin_users.confirm.reset_button'),
          cancel: adminUrl(res, path),
        });
        return;
      default:
        await renderUser(req, res, account);
    }
  });

  router.get('/users/:id/audit', async (req, res) => {
    const account = await load(req.params.id);
    if (!isApi(res)) {
      await renderUser(req, res, account);
      return;
    }
    const paging = readStorePaging(req);
    const trail = await store.auditTrail(account.id, { limit: paging.pageSize, before: paging.pageToken });
    storePager(res, trail.next, userPath(account.id, '/audit'), {}, paging);
    res.json(trail.items.map(auditJson));
  });

  /** Disables or enables; a disable always revokes at Hydra (so repeating it retries a failed revocation). */
  async function applyDisabled(req: Request, account: Account, disabled: boolean): Promise<{ account: Account; failure?: RevokeFailure }> {
    let current = account;
    if (account.disabled !== disabled) current = (await store.setDisabled(account.id, disabled, by(req))) ?? (await load(account.id));
    return { account: current, failure: disabled ? await revokeAtHydra(req, current, 'disabled') : undefined };
  }

  router.patch('/users/:id', async (req, res) => {
    const account = await load(req.params.id);
    if (isApi(res)) {
      const raw = bodyObject(req);
      if ('password' in raw) throw new HttpError(400, 'password: cannot be set here; POST /admin/users/:id/set-password-link issues a one-time link for the person to set it');
      const body = parseOr400(patchSchema, raw);
      const patch: AccountPatch = {};
      if (body.email !== undefined) patch.email = body.email;
      if (body.email_verified !== undefined) patch.email_verified = body.email_verified;
      const claims = pickClaims(body) as ProfilePatch;
      if (Object.keys(claims).length > 0) patch.profile = claims;
      let current = account;
      if (Object.keys(patch).length > 0) current = (await store.update(account.id, patch, by(req))) ?? (await load(account.id));
      if (body.disabled !== undefined) {
        const result = await applyDisabled(req, current, body.disabled);
        if (result.failure) throw revokeFailed(result.failure);
        current = result.account;
      }
      res.json(userJson(current));
      return;
    }
    const disabled = field(req.body, 'disabled');
    if (disabled === 'true' || disabled === 'false') {
      const result = await applyDisabled(req, account, disabled === 'true');
      if (result.failure) {
        renderRevokeFailed(req, res, result.account, result.failure);
        return;
      }
      redirectDone(res, userPath(account.id), {}, disabled === 'true' ? 'disabled' : 'enabled');
      return;
    }
    const form = readForm(req.body);
    const error = await attempt(res, async () => {
      requireEmail(form.email);
      const profile = Object.fromEntries(CLAIMS.map((name) => [name, form.claims[name] === '' ? null : form.claims[name]])) as ProfilePatch;
      // A changed address is unverified (the store's rule): the box only speaks for the address it was shown with.
      const sameAddress = canonicalEmail(form.email) === canonicalEmail(account.email);
      await store.update(account.id, { email: form.email, ...(sameAddress ? { email_verified: form.email_verified } : {}), profile }, by(req));
    }, reworded(res, minPasswordLength));
    if (error !== undefined) {
      renderForm(req, res, { mode: 'edit', id: account.id, form, error });
      return;
    }
    redirectDone(res, userPath(account.id), {}, 'saved');
  });

  router.delete('/users/:id', async (req, res) => {
    const account = await load(req.params.id);
    // Another request may have deleted it meanwhile: then it is simply not there.
    if (!(await store.delete(account.id, by(req)))) throw notFound();
    const failure = await revokeAtHydra(req, account, 'deleted');
    if (isApi(res)) {
      if (failure) throw revokeFailed(failure);
      res.status(204).end();
      return;
    }
    if (failure) {
      renderRevokeFailed(req, res, account, failure);
      return;
    }
    redirectDone(res, '/users', {}, 'deleted');
  });

  router.post('/users/:id/set-password-link', async (req, res) => {
    const account = await load(req.params.id);
    if (isApi(res)) {
      const body = parseOr400(linkSchema, bodyObject(req));
      res.status(201).json(await issueLink(req, account, body.expires_in));
      return;
    }
    renderLink(req, res, account, await issueLink(req, account), false);
  });

  router.use(factorAdminRoutes(deps, load));
  return router;
}
