import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction, type Updateable } from 'kysely';
import { z } from 'zod';
import { safeHttpUrl } from '../../http/urls.js';
import {
  AccountConflictError,
  AccountInputError,
  PasswordRejectedError,
  type Account,
  type AccountPatch,
  type AccountQuery,
  type AccountStore,
  type AuditContext,
  type AuditEvent,
  type IssuedToken,
  type NewAccount,
  type NewAuditEvent,
  type Page,
  type TokenPurpose,
} from '../accounts.js';
import { PROFILE_CLAIM_NAMES } from '../claims.js';
import { accountTag, canonicalEmail, displayEmail } from '../email.js';
import { dummyHash, hashPassword } from '../file-store.js';
import { checkPassword, DEFAULT_MIN_PASSWORD_LENGTH, needsRehash, normalizePassword, verifyPassword, type PasswordPolicy } from '../passwords.js';
import { StoreUnavailableError, type ProfileClaims, type SignInContext } from '../store.js';
import type { WorkQueue } from '../work-queue.js';
import { isUnavailable, isUniqueViolation, openDatabase, reasonOf, withDeadline, type Database, type DatabaseOptions, type DatabaseTarget } from './database.js';
import type { FactorStore } from '../factors.js';
import { createSqlFactorStore } from './factors.js';
import { insertAuditEvent } from './audit.js';
import { migrateToLatest } from './migrations.js';
import type { AccountsSchema, UsersTable } from './schema.js';

/**
 * The AccountStore over SQL (SQLite or Postgres, one set of Kysely queries). Every call goes
 * through `guard`: a deadline, and database errors sorted into StoreUnavailableError (503, try
 * again), AccountConflictError (409) or a bug (500). With SQLite each query runs synchronously on
 * the event loop, so each is a single-row lookup or write by an indexed key; only the admin's
 * search scans, bounded by its page size.
 */

export interface SqlStoreOptions {
  passwordPolicy?: PasswordPolicy;
  /**
   * Bounds the argon2 hashing of create/setPassword (src/users/work-queue.ts). Sign-in checks are
   * bounded by the login flow around verifyCredentials, so they do not pass through it here.
   */
  hashQueue?: WorkQueue;
  /** Milliseconds since the epoch; tests move it to expire tokens. */
  now?: () => number;
  /**
   * Told of every step through guard() once it settled: its name (a fixed string such as
   * 'sign-in lookup' or 'audit', so a bounded metrics label), seconds, and whether it succeeded.
   */
  onQuery?: (what: string, seconds: number, ok: boolean) => void;
}

export interface SqlAccountStore extends AccountStore {
  /** The database, for logs (no password). */
  readonly description: string;
  readonly dialect: Database['dialect'];
  /** The migrations this open applied (empty when the schema was current). */
  readonly appliedMigrations: readonly string[];
  /** Second factors, recovery codes and login levels, in the same database (src/users/sql/factors.ts). */
  readonly factors: FactorStore;
}

/** Opens the database, migrates it and returns the store. Throws StoreUnavailableError (one clear line) when it cannot. */
export async function openAccountStore(
  target: DatabaseTarget,
  options: SqlStoreOptions & DatabaseOptions = {},
): Promise<SqlAccountStore> {
  const database = await openDatabase(target, options);
  let applied: string[];
  try {
    applied = await withDeadline(migrateToLatest(database.db, database.dialect), database.timeoutMs * 6, 'migrating');
  } catch (error) {
    await database.db.destroy().catch(() => undefined);
    if (error instanceof StoreUnavailableError) throw error;
    if (isUnavailable(error)) throw new StoreUnavailableError(`database ${database.description} became unreachable while migrating: ${reasonOf(error)}`, { cause: error });
    throw error;
  }
  // Warm the dummy hash so the first sign-in with an unknown email costs what the others do.
  await dummyHash();
  return createSqlAccountStore(database, applied, options);
}

const PROFILE_COLUMNS = PROFILE_CLAIM_NAMES.filter((name) => name !== 'updated_at');
type ProfileColumn = (typeof PROFILE_COLUMNS)[number];
const URL_CLAIMS = new Set<string>(['profile', 'picture', 'website']);

/** Every column but the hash: what administration reads. */
const ACCOUNT_COLUMNS = [
  'id',
  'subject',
  'email',
  'email_key',
  'email_verified',
  ...PROFILE_COLUMNS,
  'profile_updated_at',
  'disabled',
  'created_at',
  'updated_at',
  'password_changed_at',
] as const satisfies readonly (keyof UsersTable)[];
type AccountRow = Pick<Selectable<UsersTable>, (typeof ACCOUNT_COLUMNS)[number]> & { has_password: number | boolean };

const hasPassword = sql<number>`case when password_hash is null then 0 else 1 end`.as('has_password');

function toAccount(row: AccountRow): Account {
  const profile: ProfileClaims = {};
  for (const name of PROFILE_COLUMNS) {
    const value = row[name];
    if (value !== null) profile[name] = value;
  }
  profile.updated_at = row.profile_updated_at;
  return {
    id: row.id,
    subject: row.subject,
    email: row.email,
    email_verified: row.email_verified === 1,
    profile,
    disabled: row.disabled === 1,
    has_password: Number(row.has_password) === 1,
    created_at: new Date(row.created_at),
    updated_at: new Date(row.updated_at),
    password_changed_at: row.password_changed_at === null ? null : new Date(row.password_changed_at),
  };
}

// ---- input checks: the admin API and the CLI pass what people typed ---------------------------

const emailSchema = z.email({ pattern: z.regexes.unicodeEmail });
const PHC_ARGON2 = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const MAX_CLAIM_LENGTH = 1024;

function checkedEmail(raw: unknown): { email: string; key: string } {
  if (typeof raw !== 'string') throw new AccountInputError('email', 'An email address is required.', 'email-required');
  const email = displayEmail(raw);
  const key = canonicalEmail(raw);
  const domain = key.slice(key.lastIndexOf('@') + 1);
  if (key.length > 254 || !emailSchema.safeParse(key).success || !domain.includes('.')) {
    throw new AccountInputError('email', 'This is not an email address.', 'email-invalid');
  }
  return { email, key };
}

function checkedSubject(raw: unknown): string {
  // OIDC limits `sub` to 255 ASCII characters; control characters would only cause grief.
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 255 || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new AccountInputError('subject', 'A subject is 1 to 255 printable ASCII characters, without spaces.');
  }
  return raw;
}

function checkedClaim(name: string, value: unknown): string | null {
  if (!(PROFILE_COLUMNS as readonly string[]).includes(name)) throw new AccountInputError(name, `"${name}" is not a profile claim.`);
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new AccountInputError(name, `${name} must be text.`);
  const text = value.trim().normalize('NFC');
  if (text === '') return null;
  if (text.length > MAX_CLAIM_LENGTH) throw new AccountInputError(name, `${name} is longer than ${MAX_CLAIM_LENGTH} characters.`, 'claim-too-long');
  // URL claims end up in links and <img src> on relying parties' pages: only http(s).
  if (URL_CLAIMS.has(name) && safeHttpUrl(text) === undefined) throw new AccountInputError(name, `${name} must be an http(s) URL.`, 'claim-not-url');
  // OIDC Core §5.1: YYYY-MM-DD, or YYYY alone, or 0000-MM-DD when the year is withheld.
  if (name === 'birthdate' && !/^\d{4}(?:-\d{2}-\d{2})?$/.test(text)) throw new AccountInputError(name, 'birthdate must be YYYY-MM-DD or YYYY.', 'birthdate-invalid');
  return text;
}

function profileColumns(profile: Record<string, unknown>): Partial<Record<ProfileColumn, string | null>> {
  const columns: Partial<Record<ProfileColumn, string | null>> = {};
  for (const [name, value] of Object.entries(profile)) {
    if (name === 'updated_at') continue;
    columns[name as ProfileColumn] = checkedClaim(name, value);
  }
  return columns;
}

function clamp(limit: number | undefined, fallback: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(200, Math.max(1, Math.trunc(limit)));
}

/** Base64url of a string, for opaque page cursors. */
const encodeCursor = (value: string) => Buffer.from(value, 'utf8').toString('base64url');
const decodeCursor = (value: string) => Buffer.from(value, 'base64url').toString('utf8');

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

/** LIKE pattern for a substring, with the wildcards in it escaped (ESCAPE '\' in the query). */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function conflictFrom(error: unknown): AccountConflictError {
  const e = error as { constraint?: unknown; message?: unknown };
  const where = `${String(e.constraint ?? '')} ${String(e.message ?? '')}`;
  return /subject/.test(where)
    ? new AccountConflictError('subject', 'This subject is already taken.')
    : new AccountConflictError('email', 'An account with this email address already exists.');
}

export function createSqlAccountStore(database: Database, appliedMigrations: readonly string[], options: SqlStoreOptions = {}): SqlAccountStore {
  const { db, description, dialect } = database;
  const policy = options.passwordPolicy ?? { minLength: DEFAULT_MIN_PASSWORD_LENGTH };
  const now = options.now ?? Date.now;
  // The backstop behind the drivers' own timeouts (statement_timeout, busy_timeout).
  const deadlineMs = database.timeoutMs + 2000;

  /** Runs one database step under the deadline and sorts its errors (see the file comment). */
  async function guard<T>(what: string, step: () => Promise<T>): Promise<T> {
    const started = options.onQuery ? performance.now() : 0;
    try {
      const result = await withDeadline(step(), deadlineMs, what);
      options.onQuery?.(what, (performance.now() - started) / 1000, true);
      return result;
    } catch (error) {
      options.onQuery?.(what, (performance.now() - started) / 1000, false);
      if (error instanceof StoreUnavailableError || error instanceof AccountConflictError || error instanceof AccountInputError) throw error;
      if (isUniqueViolation(error)) throw conflictFrom(error);
      if (isUnavailable(error)) throw new StoreUnavailableError(`database unavailable (${what}): ${reasonOf(error)}`, { cause: error });
      throw error;
    }
  }

  const hashNew = (password: string) => {
    const run = () => hashPassword(normalizePassword(password));
    return options.hashQueue ? options.hashQueue.run(run) : run();
  };

  const audit = (trx: Kysely<AccountsSchema> | Transaction<AccountsSchema>, event: NewAuditEvent, by: AuditContext, at = now()) =>
    insertAuditEvent(trx, event, by, at);

  // Qualified, so a join (peekToken) cannot make a column ambiguous.
  const QUALIFIED_COLUMNS = ACCOUNT_COLUMNS.map((column) => `users.${column}` as const);
  const selectAccounts = () => db.selectFrom('users').select([...QUALIFIED_COLUMNS, hasPassword]);

  async function getWhere(what: string, column: 'id' | 'email_key' | 'subject', value: string): Promise<Account | undefined> {
    const row = await guard(what, () => selectAccounts().where(column, '=', value).executeTakeFirst());
    return row && toAccount(row);
  }

  function rejectPassword(password: string, account: { email: string; name?: string | undefined }): void {
    const problem = checkPassword(password, policy, [account.email, account.name]);
    if (problem) throw new PasswordRejectedError(problem);
  }

  const store: SqlAccountStore = {
    description,
    dialect,
    appliedMigrations,
    factors: createSqlFactorStore(db, guard, now),

    async verifyCredentials(email: unknown, password: unknown, context?: SignInContext) {
      // Request bodies are untyped at runtime; anything odd is simply "no such user".
      const secret = typeof password === 'string' ? password : '';
      const key = typeof email === 'string' ? canonicalEmail(email) : '';
      const by = { actor: 'user', ip: context?.ip };
      const tag = key === '' ? undefined : accountTag(key);
      const row =
        key === '' || key.length > 254
          ? undefined
          : await guard('sign-in lookup', () =>
              db.selectFrom('users').select([...ACCOUNT_COLUMNS, hasPassword, 'password_hash']).where('email_key', '=', key).executeTakeFirst(),
            );
      if (row === undefined || row.password_hash === null) {
        // One argon2 verification either way: response times do not tell which accounts exist.
        await verifyPassword(await dummyHash(), secret);
        await guard('audit', () => audit(db, { action: 'login.failed', user_id: row?.id, account: tag, detail: row ? 'no-password' : 'unknown-email' }, by));
        return undefined;
      }
      if (!(await verifyPassword(row.password_hash, secret))) {
        await guard('audit', () => audit(db, { action: 'login.failed', user_id: row.id, account: tag, detail: 'wrong-password' }, by));
        return undefined;
      }
      // Checked after the password, so a disabled account answers like a wrong password, in the
      // same time, and the attempt is on record as such.
      if (row.disabled === 1) {
        await guard('audit', () => audit(db, { action: 'login.failed', user_id: row.id, account: tag, detail: 'disabled' }, by));
        return undefined;
      }
      let detail: string | undefined;
      if (needsRehash(row.password_hash)) {
        // The argon2 parameters changed since this hash was made: upgrade it now that we know
        // the password. Best effort: on failure the next sign-in tries again.
        try {
          const upgraded = await hashNew(secret);
          const oldHash = row.password_hash;
          await guard('rehash', () =>
            db.updateTable('users').set({ password_hash: upgraded }).where('id', '=', row.id).where('password_hash', '=', oldHash).execute(),
          );
          detail = 'rehashed';
        } catch {
          detail = 'rehash-failed';
        }
      }
      await guard('audit', () => audit(db, { action: 'login.succeeded', user_id: row.id, account: tag, detail }, by));
      return toAccount(row);
    },

    async findBySubject(subject) {
      if (typeof subject !== 'string') return undefined;
      const row = await guard('find subject', () => selectAccounts().where('subject', '=', subject).where('disabled', '=', 0).executeTakeFirst());
      return row && toAccount(row);
    },

    async create(input: NewAccount, by) {
      const { email, key } = checkedEmail(input.email);
      const subject = checkedSubject(input.subject ?? randomUUID());
      const profile = profileColumns({ ...input.profile });
      let passwordHash: string | null = null;
      if (input.password !== undefined) {
        rejectPassword(input.password, { email: key, name: profile.name ?? undefined });
        passwordHash = await hashNew(input.password);
      } else if (input.password_hash !== undefined) {
        if (!PHC_ARGON2.test(input.password_hash)) throw new AccountInputError('password_hash', 'password_hash must be an argon2 PHC string.');
        passwordHash = input.password_hash;
      }
      const at = now();
      const id = randomUUID();
      const importedUpdatedAt = input.profile?.updated_at;
      await guard('create account', () =>
        db.transaction().execute(async (trx) => {
          const retired = await trx.selectFrom('retired_subjects').select('subject').where('subject', '=', subject).executeTakeFirst();
          if (retired) throw new AccountConflictError('subject', 'This subject belonged to a deleted account and is never given out again.');
          await trx
            .insertInto('users')
            .values({
              id,
              subject,
              email,
              email_key: key,
              email_verified: input.email_verified ? 1 : 0,
              ...profile,
              profile_updated_at: typeof importedUpdatedAt === 'number' ? importedUpdatedAt : Math.floor(at / 1000),
              password_hash: passwordHash,
              disabled: input.disabled ? 1 : 0,
              created_at: at,
              updated_at: at,
              password_changed_at: passwordHash === null ? null : at,
            })
            .execute();
          await audit(trx, { action: 'account.created', user_id: id, account: accountTag(key), detail: input.password_hash ? 'imported' : undefined }, by, at);
        }),
      );
      return (await store.get(id))!;
    },

    get: (id) => (typeof id === 'string' ? getWhere('get account', 'id', id) : Promise.resolve(undefined)),
    getByEmail: (email) => (typeof email === 'string' ? getWhere('get account', 'email_key', canonicalEmail(email)) : Promise.resolve(undefined)),
    getBySubject: (subject) => (typeof subject === 'string' ? getWhere('get account', 'subject', subject) : Promise.resolve(undefined)),

    async list(query: AccountQuery = {}): Promise<Page<Account>> {
      const limit = clamp(query.limit, 50);
      const search = query.search?.trim().normalize('NFKC').toLowerCase() ?? '';
      const rows = await guard('list accounts', () => {
        let q = selectAccounts().orderBy('email_key').limit(limit + 1);
        if (query.after) q = q.where('email_key', '>', decodeCursor(query.after));
        if (search !== '') {
          const pattern = containsPattern(search);
          // SQLite has no default LIKE escape character; Postgres's is the same backslash.
          q = q.where(sql<boolean>`(email_key like ${pattern} escape '\\' or lower(name) like ${pattern} escape '\\')`);
        }
        return q.execute();
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map(toAccount),
        ...(rows.length > limit ? { next: encodeCursor(page.at(-1)!.email_key) } : {}),
      };
    },

    async update(id, patch: AccountPatch, by) {
      const at = now();
      const set: Updateable<UsersTable> = {};
      const changed: string[] = [];
      if (patch.email !== undefined) {
        const { email, key } = checkedEmail(patch.email);
        const current = await store.get(id);
        if (!current) return undefined;
        set.email = email;
        set.email_key = key;
        changed.push('email');
        // A new address has not been verified by anyone yet.
        if (canonicalEmail(current.email) !== key && patch.email_verified === undefined) set.email_verified = 0;
      }
      if (patch.email_verified !== undefined) {
        set.email_verified = patch.email_verified ? 1 : 0;
        changed.push('email_verified');
      }
      if (patch.profile !== undefined) {
        const columns = profileColumns(patch.profile);
        Object.assign(set, columns);
        changed.push(...Object.keys(columns));
        set.profile_updated_at = Math.floor(at / 1000);
      }
      set.updated_at = at;
      const updated = await guard('update account', () =>
        db.transaction().execute(async (trx) => {
          const result = await trx.updateTable('users').set(set).where('id', '=', id).executeTakeFirst();
          if (Number(result.numUpdatedRows) === 0) return false;
          await audit(trx, { action: 'account.updated', user_id: id, detail: changed.join(',') || undefined }, by, at);
          return true;
        }),
      );
      return updated ? store.get(id) : undefined;
    },

    async setPassword(id, password, by) {
      const account = await store.get(id);
      if (!account) return undefined;
      rejectPassword(password, { email: account.email, name: account.profile.name });
      const passwordHash = await hashNew(password);
      const at = now();
      await guard('set password', () =>
        db.transaction().execute(async (trx) => {
          await trx.updateTable('users').set({ password_hash: passwordHash, password_changed_at: at, updated_at: at }).where('id', '=', id).execute();
          // A reset link still in someone's mailbox must not undo this change.
          await trx.deleteFrom('one_time_tokens').where('user_id', '=', id).where('used_at', 'is', null).execute();
          await audit(trx, { action: 'password.changed', user_id: id }, by, at);
        }),
      );
      return store.get(id);
    },

    async changePassword(id, current, next, by) {
      const row = await guard('change password', () =>
        db.selectFrom('users').select(['email', 'name', 'password_hash']).where('id', '=', id).executeTakeFirst(),
      );
      if (!row) return false;
      // The new password's problems first: cheap, and no argon2 run for a password we refuse.
      rejectPassword(next, { email: row.email, name: row.name ?? undefined });
      const ok = row.password_hash !== null && (await verifyPassword(row.password_hash, typeof current === 'string' ? current : ''));
      if (!ok) {
        await guard('audit', () => audit(db, { action: 'password.change_failed', user_id: id, detail: 'wrong-password' }, by));
        return false;
      }
      return (await store.setPassword(id, next, by)) !== undefined;
    },

    async setDisabled(id, disabled, by) {
      const at = now();
      const updated = await guard('set disabled', () =>
        db.transaction().execute(async (trx) => {
          const result = await trx.updateTable('users').set({ disabled: disabled ? 1 : 0, updated_at: at }).where('id', '=', id).executeTakeFirst();
          if (Number(result.numUpdatedRows) === 0) return false;
          await audit(trx, { action: disabled ? 'account.disabled' : 'account.enabled', user_id: id }, by, at);
          return true;
        }),
      );
      return updated ? store.get(id) : undefined;
    },

    async delete(id, by) {
      const at = now();
      return guard('delete account', () =>
        db.transaction().execute(async (trx) => {
          const row = await trx.selectFrom('users').select(['subject', 'email_key']).where('id', '=', id).executeTakeFirst();
          if (!row) return false;
          await trx.insertInto('retired_subjects').values({ subject: row.subject, retired_at: at }).execute();
          await trx.deleteFrom('one_time_tokens').where('user_id', '=', id).execute();
          await trx.deleteFrom('users').where('id', '=', id).execute();
          await audit(trx, { action: 'account.deleted', user_id: id, account: accountTag(row.email_key) }, by, at);
          return true;
        }),
      );
    },

    async appendAudit(event, by) {
      await guard('audit', () => audit(db, event, by));
    },

    async auditTrail(userId, query = {}) {
      const limit = clamp(query.limit, 50);
      const before = query.before === undefined ? undefined : Number(query.before);
      const rows = await guard('audit trail', () => {
        let q = db.selectFrom('audit_events').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').limit(limit + 1);
        if (before !== undefined && Number.isSafeInteger(before)) q = q.where('id', '<', before);
        return q.execute();
      });
      const page = rows.slice(0, limit);
      const items: AuditEvent[] = page.map((row) => ({ ...row, id: Number(row.id), at: new Date(row.at) }));
      return { items, ...(rows.length > limit ? { next: String(page.at(-1)!.id) } : {}) };
    },

    async createToken(userId, purpose: TokenPurpose, ttlSeconds, by): Promise<IssuedToken> {
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
        throw new AccountInputError('ttl', `A link lasts between 60 seconds and ${MAX_TOKEN_TTL_SECONDS / 86400} days.`);
      }
      const token = randomBytes(32).toString('base64url');
      const at = now();
      const expiresAt = at + ttlSeconds * 1000;
      const created = await guard('create token', () =>
        db.transaction().execute(async (trx) => {
          const user = await trx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
          if (!user) return false;
          // Only the newest link of a kind works; expired ones are swept while we are here.
          await trx.deleteFrom('one_time_tokens').where('user_id', '=', userId).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
          await trx.deleteFrom('one_time_tokens').where('expires_at', '<', at).execute();
          await trx.insertInto('one_time_tokens').values({ token_hash: hashToken(token), user_id: userId, purpose, created_at: at, expires_at: expiresAt, used_at: null }).execute();
          await audit(trx, { action: 'token.created', user_id: userId, detail: purpose }, by, at);
          return true;
        }),
      );
      if (!created) throw new AccountInputError('id', 'There is no such account.');
      return { token, expires_at: new Date(expiresAt) };
    },

    async peekToken(token, purpose) {
      // Looked up by its SHA-256: what the query compares is not the secret, so no timing leak.
      if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return undefined;
      const at = now();
      const row = await guard('peek token', () =>
        selectAccounts()
          .innerJoin('one_time_tokens as t', 't.user_id', 'users.id')
          .where('t.token_hash', '=', hashToken(token))
          .where('t.purpose', '=', purpose)
          .where('t.used_at', 'is', null)
          .where('t.expires_at', '>', at)
          .where('users.disabled', '=', 0)
          .executeTakeFirst(),
      );
      return row && toAccount(row);
    },

    async consumeToken(token, purpose, by) {
      if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return undefined;
      const at = now();
      // One conditional UPDATE: of two concurrent uses, exactly one sees the row still unused.
      const userId = await guard('consume token', () =>
        db.transaction().execute(async (trx) => {
          const used = await trx
            .updateTable('one_time_tokens')
            .set({ used_at: at })
            .where('token_hash', '=', hashToken(token))
            .where('purpose', '=', purpose)
            .where('used_at', 'is', null)
            .where('expires_at', '>', at)
            .where('user_id', 'in', (eb) => eb.selectFrom('users').select('id').where('disabled', '=', 0))
            .returning('user_id')
            .executeTakeFirst();
          if (!used) return undefined;
          await audit(trx, { action: 'token.used', user_id: used.user_id, detail: purpose }, by, at);
          return used.user_id;
        }),
      );
      return userId === undefined ? undefined : store.get(userId);
    },

    async ping() {
      try {
        await guard('ping', () => sql`select 1`.execute(db));
        return true;
      } catch {
        return false;
      }
    },

    async close() {
      await db.destroy();
    },
  };
  return store;
}
