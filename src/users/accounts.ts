import type { PasswordProblem } from './passwords.js';
import type { ProfileClaims, User, UserStore } from './store.js';

/**
 * Account administration: what the admin console and API, the /account area and the users CLI
 * call. The SQL store (src/users/sql/store.ts) implements it; the flows only need UserStore.
 *
 * Every change takes an AuditContext (who and from where) and appends one audit event in the
 * same call. Events hold ids, the hashed account tag, an action and a short detail word: never a
 * password, a token, a challenge or an email address in clear.
 */

/** An account as administration sees it: the user, plus what the flows never need. */
export interface Account extends User {
  /** Row id (a UUID), used in admin URLs; distinct from `subject`, which Hydra sees. */
  id: string;
  disabled: boolean;
  /** False when the account was created for a one-time set-password link and has none yet. */
  has_password: boolean;
  created_at: Date;
  updated_at: Date;
  password_changed_at: Date | null;
}

export interface NewAccount {
  email: string;
  /** Checked against the password policy, then hashed. Omit it to send a set-password link. */
  password?: string;
  /** An argon2 PHC hash made elsewhere (the JSON import); not checked against the policy. */
  password_hash?: string;
  /** Default: a random UUID. A subject that ever existed here (even deleted) is refused. */
  subject?: string;
  email_verified?: boolean;
  profile?: ProfileClaims;
  disabled?: boolean;
}

/** The profile claims an update may set (a string) or remove (null); `updated_at` is automatic. */
export type ProfilePatch = { [K in Exclude<keyof ProfileClaims, 'updated_at'>]?: string | null };

export interface AccountPatch {
  /** A new address is unverified unless `email_verified` says otherwise in the same patch. */
  email?: string;
  email_verified?: boolean;
  profile?: ProfilePatch;
}

/** Who does something, from where. `actor`: 'admin', 'cli', 'system', 'user' (the person themself). */
export interface AuditContext {
  actor: string;
  ip?: string;
}

export type KnownAuditAction =
  | 'login.succeeded'
  | 'login.failed'
  | 'account.created'
  | 'account.updated'
  | 'account.disabled'
  | 'account.enabled'
  | 'account.deleted'
  | 'password.changed'
  | 'password.change_failed'
  | 'token.created'
  | 'token.used';
/** The store's own actions, or one a caller appends (e.g. 'sessions.revoked'). */
export type AuditAction = KnownAuditAction | (string & {});

export interface AuditEvent {
  id: number;
  at: Date;
  actor: string;
  action: AuditAction;
  /** The account acted on; kept after the account is deleted. */
  user_id: string | null;
  /** accountTag() of the email involved, e.g. for a failed sign-in with an unknown address. */
  account: string | null;
  ip: string | null;
  /** One short word or phrase: 'wrong-password', 'disabled', 'set-password', 'rehashed'. */
  detail: string | null;
}

export interface NewAuditEvent {
  action: AuditAction;
  user_id?: string;
  account?: string;
  detail?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` (accounts) or `before` (audit) for the next page; absent on the last one. */
  next?: string;
}

export interface AccountQuery {
  /** Case-insensitive substring of the email address or the name. */
  search?: string;
  /** 1–200, default 50. */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string;
}

export type TokenPurpose = 'set-password';

export interface IssuedToken {
  /** The secret for the link: 256 random bits, base64url. Only its SHA-256 is stored. */
  token: string;
  expires_at: Date;
}

export interface AccountStore extends UserStore {
  create(account: NewAccount, by: AuditContext): Promise<Account>;
  get(id: string): Promise<Account | undefined>;
  getByEmail(email: string): Promise<Account | undefined>;
  /** Including disabled accounts (UserStore.findBySubject is for the flows and skips them). */
  getBySubject(subject: string): Promise<Account | undefined>;
  /** Ordered by email address; paged with `after`. */
  list(query?: AccountQuery): Promise<Page<Account>>;
  /** undefined when there is no such account. */
  update(id: string, patch: AccountPatch, by: AuditContext): Promise<Account | undefined>;
  /** Checks the policy, hashes, records password_changed_at, voids outstanding set-password links. */
  setPassword(id: string, password: string, by: AuditContext): Promise<Account | undefined>;
  /** setPassword after checking the current password; false when it is wrong (audited). */
  changePassword(id: string, current: string, next: string, by: AuditContext): Promise<boolean>;
  setDisabled(id: string, disabled: boolean, by: AuditContext): Promise<Account | undefined>;
  /** Deletes the account and its links; its subject is retired, never to be given out again. */
  delete(id: string, by: AuditContext): Promise<boolean>;

  appendAudit(event: NewAuditEvent, by: AuditContext): Promise<void>;
  /** Newest first; paged with `before`. */
  auditTrail(userId: string, query?: { limit?: number; before?: string }): Promise<Page<AuditEvent>>;

  /** A one-time link secret for `userId`, valid for `ttlSeconds`. */
  createToken(userId: string, purpose: TokenPurpose, ttlSeconds: number, by: AuditContext): Promise<IssuedToken>;
  /** The account a live (unused, unexpired) token belongs to, without using it up. */
  peekToken(token: string, purpose: TokenPurpose): Promise<Account | undefined>;
  /** Uses the token up, atomically: the first caller gets the account, every later one undefined. */
  consumeToken(token: string, purpose: TokenPurpose, by: AuditContext): Promise<Account | undefined>;

  /** True when a trivial query answers within the deadline (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Another account already has this email address (compared in canonical form) or subject. */
export class AccountConflictError extends Error {
  override readonly name = 'AccountConflictError';
  // Read by the error handler as a client error with a safe message (409).
  readonly status = 409;
  readonly expose = true;
  constructor(
    readonly field: 'email' | 'subject',
    message: string,
  ) {
    super(message);
  }
}

/** The password breaks the policy; `problem.message` is for the person choosing it (400). */
export class PasswordRejectedError extends Error {
  override readonly name = 'PasswordRejectedError';
  readonly status = 400;
  readonly expose = true;
  constructor(readonly problem: PasswordProblem) {
    super(problem.message);
  }
}

/** Which problem an AccountInputError is, for a screen that words it in its own language (the message is the API's English). */
export type AccountInputProblem = 'email-required' | 'email-invalid' | 'claim-too-long' | 'claim-not-url' | 'birthdate-invalid';

/** Input the store refuses: not an email address, a bad claim, an unknown account for a link (400). */
export class AccountInputError extends Error {
  override readonly name = 'AccountInputError';
  readonly status = 400;
  readonly expose = true;
  constructor(
    readonly field: string,
    message: string,
    readonly code?: AccountInputProblem,
  ) {
    super(message);
  }
}
