// The SQL account store: the SAME cases against SQLite (a temporary file) and a real Postgres that
// this file starts (initdb + pg_ctl, test/support/postgres-server.ts). Without Postgres binaries
// the Postgres half is skipped with a message, except on CI (CI=true), where it fails.
import { hash as argon2Hash } from '@node-rs/argon2';
import BetterSqlite3 from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountConflictError, AccountInputError, PasswordRejectedError, type AuditContext } from '../../src/users/accounts.js';
import { accountTag } from '../../src/users/email.js';
import { hashPassword, type StoredUser } from '../../src/users/file-store.js';
import { importUsers } from '../../src/users/import.js';
import { needsRehash } from '../../src/users/passwords.js';
import { StoreUnavailableError } from '../../src/users/store.js';
import { openDatabase, type Database } from '../../src/users/sql/database.js';
import { openAccountStore, type SqlAccountStore } from '../../src/users/sql/store.js';
import type { DatabaseTarget } from '../../src/users/sql/url.js';
import { skipWithoutPostgres, startPostgresServer, type PostgresServer } from '../support/postgres-server.js';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

const admin: AuditContext = { actor: 'admin', ip: '203.0.113.7' };
const GOOD_PASSWORD = 'correct horse battery staple';

interface Backend {
  name: 'sqlite' | 'postgres';
  target: DatabaseTarget;
  /** Makes the database unable to answer writes (Postgres: stopped; SQLite: another process holds the write lock). */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), 'hlc-sqlite-'));
  const file = join(dir, 'nested', 'accounts.db');
  let locker: BetterSqlite3.Database | undefined;
  return {
    name: 'sqlite',
    target: { dialect: 'sqlite', file },
    async cut() {
      locker = new BetterSqlite3(file);
      locker.exec('BEGIN IMMEDIATE'); // holds the write lock, as a stuck second writer would
    },
    async restore() {
      locker?.exec('ROLLBACK');
      locker?.close();
      locker = undefined;
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const server: PostgresServer = await startPostgresServer();
  return {
    name: 'postgres',
    target: { dialect: 'postgres', url: server.url },
    cut: () => server.stop(),
    restore: () => server.start(),
    close: () => server.close(),
  };
}

const backends: Array<() => Promise<Backend>> = [sqliteBackend];
if (!skipWithoutPostgres()) backends.push(postgresBackend);

describe.each(backends.map((open) => ({ name: open === sqliteBackend ? 'sqlite' : 'postgres', open })))('SQL account store on $name', ({ open }) => {
  let backend: Backend;
  let store: SqlAccountStore;
  let raw: Database;
  let clockOffset = 0;
  let counter = 0;
  /** A fresh address per test, so the cases share one database without stepping on each other. */
  const email = (name: string) => `${name}-${++counter}@example.com`;

  beforeAll(async () => {
    backend = await open();
    store = await openAccountStore(backend.target, { timeoutMs: 1500, busyTimeoutMs: 200, now: () => Date.now() + clockOffset });
    raw = await openDatabase(backend.target);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await raw?.db.destroy();
    await backend?.close();
  });

  describe('migrations', () => {
    it('created the schema on first open, and a second open applies nothing', async () => {
      expect(store.appliedMigrations).toEqual(['0001_accounts', '0002_factors']);
      const again = await openAccountStore(backend.target);
      expect(again.appliedMigrations).toEqual([]);
      await again.close();
      const tables = await sql<{ n: number }>`select count(*) as n from accounts_migration`.execute(raw.db);
      expect(Number(tables.rows[0]!.n)).toBe(2);
    });

    it('creates the SQLite file 0600, in a directory it creates (Postgres: nothing to check)', async () => {
      if (backend.target.dialect !== 'sqlite') return;
      expect((await stat(backend.target.file)).mode & 0o777).toBe(0o600);
    });
  });

  describe('accounts', () => {
    it('creates an account with a UUID subject, the address as typed and the profile claims', async () => {
      const address = email('Alice').replace('alice', 'Alice');
      const account = await store.create({ email: `  ${address} `, password: GOOD_PASSWORD, profile: { name: 'Alice Example', given_name: 'Alice', website: 'https://alice.example' } }, admin);
      expect(account).toMatchObject({
        email: address,
        email_verified: false,
        disabled: false,
        has_password: true,
        profile: { name: 'Alice Example', given_name: 'Alice', website: 'https://alice.example' },
      });
      expect(account.subject).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(account.id).not.toBe(account.subject);
      expect(account.password_changed_at).toEqual(account.created_at);
      expect(account.profile.updated_at).toBe(Math.floor(account.created_at.getTime() / 1000));
      expect(await store.get(account.id)).toEqual(account);
      expect(await store.getByEmail(address.toUpperCase())).toEqual(account);
      expect(await store.getBySubject(account.subject)).toEqual(account);
      expect(await store.findBySubject(account.subject)).toEqual(account);
    });

    it('refuses a second account whose email differs only in case or Unicode form', async () => {
      const base = `josé-${++counter}@example.com`; // composed é (NFC)
      await store.create({ email: base, password: GOOD_PASSWORD }, admin);
      const variants = [
        base.toUpperCase(),
        base.normalize('NFD'), // e + combining acute accent
        base.replace('@example.com', '@ＥＸＡＭＰＬＥ.com'), // full-width letters (NFKC folds them)
      ];
      for (const variant of variants) {
        expect(variant).not.toBe(base);
        const error = await store.create({ email: variant, password: GOOD_PASSWORD }, admin).catch((e: unknown) => e);
        expect(error, JSON.stringify(variant)).toBeInstanceOf(AccountConflictError);
        expect((error as AccountConflictError).field).toBe('email');
        expect((error as AccountConflictError).status).toBe(409);
        expect(await store.getByEmail(variant)).toMatchObject({ email: base });
      }
      // Sign-in finds the account under any of its forms.
      expect(await store.verifyCredentials(base.normalize('NFD').toUpperCase(), GOOD_PASSWORD)).toMatchObject({ email: base });
    });

    it('refuses a taken subject, and a subject of a deleted account forever', async () => {
      const subject = `subject-${++counter}`;
      const first = await store.create({ email: email('sub'), subject, password: GOOD_PASSWORD }, admin);
      await expect(store.create({ email: email('sub'), subject, password: GOOD_PASSWORD }, admin)).rejects.toMatchObject({ name: 'AccountConflictError', field: 'subject' });
      expect(await store.delete(first.id, admin)).toBe(true);
      expect(await store.get(first.id)).toBeUndefined();
      expect(await store.delete(first.id, admin)).toBe(false);
      await expect(store.create({ email: email('sub'), subject, password: GOOD_PASSWORD }, admin)).rejects.toMatchObject({ name: 'AccountConflictError', field: 'subject' });
      // The address itself is free again.
      await expect(store.create({ email: first.email, password: GOOD_PASSWORD }, admin)).resolves.toMatchObject({ email: first.email });
    });

    it('refuses bad input: not an email, a javascript: URL claim, an odd birthdate, an unknown claim', async () => {
      for (const bad of ['not-an-email', 'a@b', '', 'x y@example.com']) {
        await expect(store.create({ email: bad, password: GOOD_PASSWORD }, admin), bad).rejects.toBeInstanceOf(AccountInputError);
      }
      await expect(store.create({ email: email('u'), profile: { picture: 'javascript:alert(1)' } }, admin)).rejects.toMatchObject({ field: 'picture' });
      await expect(store.create({ email: email('u'), profile: { birthdate: '1st of May' } }, admin)).rejects.toMatchObject({ field: 'birthdate' });
      await expect(store.create({ email: email('u'), profile: { shoe_size: '44' } as never }, admin)).rejects.toMatchObject({ field: 'shoe_size' });
      await expect(store.create({ email: email('u'), subject: 'has space' }, admin)).rejects.toMatchObject({ field: 'subject' });
    });

    it('refuses a password that is too short or too common, naming the reason', async () => {
      for (const [password, code] of [['seven77', 'too-short'], ['baseball', 'too-common'], ['qwertyuiop', 'too-common'], ['PASSWORD123', 'too-common']] as const) {
        const error = await store.create({ email: email('weak'), password }, admin).catch((e: unknown) => e);
        expect(error, password).toBeInstanceOf(PasswordRejectedError);
        expect((error as PasswordRejectedError).problem.code).toBe(code);
      }
      const address = email('self');
      await expect(store.create({ email: address, password: address }, admin)).rejects.toMatchObject({ problem: { code: 'matches-account' } });
    });

    it('creates an account without a password (for a set-password link): it cannot sign in', async () => {
      const account = await store.create({ email: email('nopw') }, admin);
      expect(account).toMatchObject({ has_password: false, password_changed_at: null });
      expect(await store.verifyCredentials(account.email, '')).toBeUndefined();
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD)).toBeUndefined();
    });

    it('lists by email with search (email or name, case-insensitive, wildcards literal) and paging', async () => {
      const tag = `list${++counter}`;
      for (const n of [3, 1, 2]) await store.create({ email: `${tag}-${n}@example.com`, profile: { name: `Person ${n}` } }, admin);
      await store.create({ email: `other-${tag}@example.com`, profile: { name: `Zed ${tag.toUpperCase()}_100%` } }, admin);
      const first = await store.list({ search: `${tag}-`, limit: 2 });
      expect(first.items.map((a) => a.email)).toEqual([`${tag}-1@example.com`, `${tag}-2@example.com`]);
      expect(first.next).toBeDefined();
      const second = await store.list({ search: `${tag}-`, limit: 2, after: first.next });
      expect(second.items.map((a) => a.email)).toEqual([`${tag}-3@example.com`]);
      expect(second.next).toBeUndefined();
      expect((await store.list({ search: `ZED ${tag}` })).items.map((a) => a.email)).toEqual([`other-${tag}@example.com`]);
      expect((await store.list({ search: '_100%' })).items.map((a) => a.email)).toEqual([`other-${tag}@example.com`]);
      expect((await store.list({ search: `${tag}%` })).items).toEqual([]);
    });

    it('updates profile claims (set, clear with null), bumps updated_at, and a new email is unverified', async () => {
      const account = await store.create({ email: email('upd'), email_verified: true, password: GOOD_PASSWORD, profile: { name: 'Old Name', nickname: 'old' } }, admin);
      clockOffset = 5000;
      const updated = await store.update(account.id, { profile: { name: 'New Name', nickname: null, locale: 'de-CH' } }, admin);
      clockOffset = 0;
      expect(updated?.profile).toEqual({ name: 'New Name', locale: 'de-CH', updated_at: expect.any(Number) });
      expect(updated!.profile.updated_at).toBeGreaterThan(account.profile.updated_at!);
      expect(updated!.email_verified).toBe(true);
      const moved = await store.update(account.id, { email: email('moved') }, admin);
      expect(moved?.email_verified).toBe(false);
      expect(await store.update('no-such-id', { profile: { name: 'x' } }, admin)).toBeUndefined();
      const taken = await store.create({ email: email('taken'), password: GOOD_PASSWORD }, admin);
      await expect(store.update(account.id, { email: taken.email.toUpperCase() }, admin)).rejects.toBeInstanceOf(AccountConflictError);
      const trail = await store.auditTrail(account.id);
      expect(trail.items.map((e) => [e.action, e.detail])).toContainEqual(['account.updated', 'name,nickname,locale']);
    });
  });

  describe('sign-in', () => {
    it('verifies the password, audits success and failure with ip and account tag, never the address', async () => {
      const account = await store.create({ email: email('signin'), password: GOOD_PASSWORD }, admin);
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD, { ip: '198.51.100.1' })).toMatchObject({ id: account.id, subject: account.subject });
      expect(await store.verifyCredentials(account.email, 'wrong password!', { ip: '198.51.100.2' })).toBeUndefined();
      const events = (await store.auditTrail(account.id)).items;
      expect(events.slice(0, 2).map((e) => ({ action: e.action, detail: e.detail, ip: e.ip, account: e.account, actor: e.actor }))).toEqual([
        { action: 'login.failed', detail: 'wrong-password', ip: '198.51.100.2', account: accountTag(account.email), actor: 'user' },
        { action: 'login.succeeded', detail: null, ip: '198.51.100.1', account: accountTag(account.email), actor: 'user' },
      ]);
      // An unknown address is on record by its tag only.
      const stranger = email('stranger');
      expect(await store.verifyCredentials(stranger, GOOD_PASSWORD)).toBeUndefined();
      const rows = await raw.db.selectFrom('audit_events').selectAll().where('account', '=', accountTag(stranger)).execute();
      expect(rows.map((r) => [r.action, r.detail, r.user_id])).toEqual([['login.failed', 'unknown-email', null]]);
    });

    it('a disabled account fails like a wrong password (audited as disabled), and is invisible to the flows', async () => {
      const account = await store.create({ email: email('dis'), password: GOOD_PASSWORD }, admin);
      expect((await store.setDisabled(account.id, true, admin))?.disabled).toBe(true);
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD)).toBeUndefined();
      expect(await store.findBySubject(account.subject)).toBeUndefined();
      expect(await store.getBySubject(account.subject)).toMatchObject({ disabled: true });
      expect((await store.auditTrail(account.id, { limit: 2 })).items.map((e) => [e.action, e.detail, e.actor])).toEqual([
        ['login.failed', 'disabled', 'user'],
        ['account.disabled', null, 'admin'],
      ]);
      await store.setDisabled(account.id, false, admin);
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD)).toMatchObject({ id: account.id });
    });

    it('re-hashes on sign-in when the argon2 parameters changed (an imported weaker hash)', async () => {
      const weak = await argon2Hash(GOOD_PASSWORD, { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
      expect(needsRehash(weak)).toBe(true);
      const account = await store.create({ email: email('rehash'), password_hash: weak }, admin);
      const hashOf = async () => (await raw.db.selectFrom('users').select('password_hash').where('id', '=', account.id).executeTakeFirstOrThrow()).password_hash!;
      expect(await store.verifyCredentials(account.email, 'not the password')).toBeUndefined();
      expect(await hashOf()).toBe(weak); // only a proven password is re-hashed
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD)).toBeDefined();
      const upgraded = await hashOf();
      expect(upgraded).not.toBe(weak);
      expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(needsRehash(upgraded)).toBe(false);
      expect((await store.auditTrail(account.id, { limit: 1 })).items[0]).toMatchObject({ action: 'login.succeeded', detail: 'rehashed' });
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD)).toBeDefined();
    });

    it('an unknown email costs about as much as a known one with a wrong password (no enumeration)', async () => {
      const account = await store.create({ email: email('timing'), password: GOOD_PASSWORD }, admin);
      const time = async (address: string) => {
        const start = performance.now();
        await store.verifyCredentials(address, 'wrong-password');
        return performance.now() - start;
      };
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      await time(account.email);
      await time('warm-up@example.com');
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 7; i++) {
        known.push(await time(account.email));
        unknown.push(await time(`nobody-${counter}-${i}@example.com`));
      }
      const ratio = median(unknown) / median(known);
      expect(ratio, `unknown ${median(unknown).toFixed(1)} ms vs known ${median(known).toFixed(1)} ms`).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });
  });

  describe('passwords', () => {
    it('setPassword records password_changed_at; the old password stops working; the policy applies', async () => {
      const account = await store.create({ email: email('pw'), password: GOOD_PASSWORD }, admin);
      clockOffset = 60_000;
      const changed = await store.setPassword(account.id, 'an entirely new passphrase', { actor: 'user' });
      clockOffset = 0;
      expect(changed!.password_changed_at!.getTime()).toBeGreaterThan(account.password_changed_at!.getTime());
      expect(await store.verifyCredentials(account.email, GOOD_PASSWORD)).toBeUndefined();
      expect(await store.verifyCredentials(account.email, 'an entirely new passphrase')).toBeDefined();
      await expect(store.setPassword(account.id, 'iloveyou', admin)).rejects.toMatchObject({ problem: { code: 'too-common' } });
      expect(await store.setPassword('no-such-id', GOOD_PASSWORD, admin)).toBeUndefined();
    });

    it('changePassword needs the current password (a wrong one is audited)', async () => {
      const account = await store.create({ email: email('chg'), password: GOOD_PASSWORD }, admin);
      expect(await store.changePassword(account.id, 'not it at all', 'my next passphrase', { actor: 'user', ip: '192.0.2.9' })).toBe(false);
      expect((await store.auditTrail(account.id, { limit: 1 })).items[0]).toMatchObject({ action: 'password.change_failed', ip: '192.0.2.9' });
      await expect(store.changePassword(account.id, GOOD_PASSWORD, 'password1', { actor: 'user' })).rejects.toBeInstanceOf(PasswordRejectedError);
      expect(await store.changePassword(account.id, GOOD_PASSWORD, 'my next passphrase', { actor: 'user' })).toBe(true);
      expect(await store.verifyCredentials(account.email, 'my next passphrase')).toBeDefined();
    });

    it('NFKC-normalises passwords: a decomposed or full-width form signs in as the same password', async () => {
      const account = await store.create({ email: email('nfkc'), password: 'crème brûlée forever' }, admin);
      expect(await store.verifyCredentials(account.email, 'crème brûlée forever'.normalize('NFD'))).toBeDefined();
      const fileHash = await hashPassword('ｆｕｌｌｗｉｄｔｈ pass'); // a raw (unnormalised) hash, as an old file may hold
      const imported = await store.create({ email: email('raw'), password_hash: fileHash }, admin);
      expect(await store.verifyCredentials(imported.email, 'ｆｕｌｌｗｉｄｔｈ pass')).toBeDefined();
    });
  });

  describe('one-time tokens', () => {
    it('work once; are stored hashed; expire; a newer link replaces an older one; a new password voids them', async () => {
      const account = await store.create({ email: email('tok') }, admin);
      const { token, expires_at } = await store.createToken(account.id, 'set-password', 3600, admin);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(expires_at.getTime()).toBeGreaterThan(Date.now() + 3500_000);
      const rows = await raw.db.selectFrom('one_time_tokens').selectAll().where('user_id', '=', account.id).execute();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(token);

      expect(await store.peekToken(token, 'set-password')).toMatchObject({ id: account.id });
      expect(await store.peekToken(token, 'set-password')).toMatchObject({ id: account.id }); // peeking uses nothing up
      const [a, b] = await Promise.all([store.consumeToken(token, 'set-password', { actor: 'user' }), store.consumeToken(token, 'set-password', { actor: 'user' })]);
      expect([a?.id, b?.id].filter(Boolean)).toEqual([account.id]); // exactly one of two racing uses wins
      expect(await store.consumeToken(token, 'set-password', { actor: 'user' })).toBeUndefined(); // reused
      expect(await store.peekToken(token, 'set-password')).toBeUndefined();

      const expiring = await store.createToken(account.id, 'set-password', 60, admin);
      clockOffset = 61_000;
      expect(await store.peekToken(expiring.token, 'set-password')).toBeUndefined();
      expect(await store.consumeToken(expiring.token, 'set-password', { actor: 'user' })).toBeUndefined(); // expired
      clockOffset = 0;

      const older = await store.createToken(account.id, 'set-password', 3600, admin);
      const newer = await store.createToken(account.id, 'set-password', 3600, admin);
      expect(await store.peekToken(older.token, 'set-password')).toBeUndefined();
      expect(await store.peekToken(newer.token, 'set-password')).toBeDefined();
      await store.setPassword(account.id, GOOD_PASSWORD, admin);
      expect(await store.consumeToken(newer.token, 'set-password', { actor: 'user' })).toBeUndefined();

      for (const junk of ['', 'short', 'x'.repeat(43), `${token}x`]) expect(await store.consumeToken(junk, 'set-password', { actor: 'user' })).toBeUndefined();
      await expect(store.createToken(account.id, 'set-password', 10, admin)).rejects.toBeInstanceOf(AccountInputError);
      await expect(store.createToken('no-such-id', 'set-password', 3600, admin)).rejects.toBeInstanceOf(AccountInputError);
      expect((await store.auditTrail(account.id)).items.filter((e) => e.action === 'token.used')).toHaveLength(1);
    });

    it("a disabled account's link does not work; deleting the account deletes its links", async () => {
      const account = await store.create({ email: email('tokdis') }, admin);
      const { token } = await store.createToken(account.id, 'set-password', 3600, admin);
      await store.setDisabled(account.id, true, admin);
      expect(await store.consumeToken(token, 'set-password', { actor: 'user' })).toBeUndefined();
      await store.setDisabled(account.id, false, admin);
      expect(await store.peekToken(token, 'set-password')).toBeDefined();
      await store.delete(account.id, admin);
      expect(await raw.db.selectFrom('one_time_tokens').select('token_hash').where('user_id', '=', account.id).execute()).toEqual([]);
    });
  });

  describe('audit trail', () => {
    it('keeps a deleted account\'s events, pages newest first, and holds no address, password or token', async () => {
      const account = await store.create({ email: email('Audit'), password: GOOD_PASSWORD }, admin);
      const { token } = await store.createToken(account.id, 'set-password', 3600, admin);
      await store.verifyCredentials(account.email, 'a wrong guess here');
      await store.appendAudit({ action: 'sessions.revoked', user_id: account.id, detail: 'login' }, admin);
      await store.delete(account.id, admin);
      const first = await store.auditTrail(account.id, { limit: 3 });
      expect(first.items.map((e) => e.action)).toEqual(['account.deleted', 'sessions.revoked', 'login.failed']);
      const rest = await store.auditTrail(account.id, { before: first.next });
      expect(rest.items.map((e) => e.action)).toEqual(['token.created', 'account.created']);
      expect(rest.next).toBeUndefined();
      const everything = JSON.stringify(await raw.db.selectFrom('audit_events').selectAll().execute()).toLowerCase();
      for (const secret of [account.email.toLowerCase(), 'audit-', GOOD_PASSWORD, 'a wrong guess', token.toLowerCase(), '@example.com']) {
        expect(everything).not.toContain(secret);
      }
    });
  });

  describe('login levels (step-up)', () => {
    const savedAt = async (sessionId: string) =>
      raw.db.selectFrom('login_levels').select(['updated_at', 'level']).where('session_id', '=', sessionId).executeTakeFirst();
    const day = 24 * 3600_000;

    it('writes a level only when it changed or the row is an hour old, and sweeps expired rows now and then', async () => {
      const session = `session-${++counter}`;
      const pwd = { subject: 'sub-levels', level: 1, amr: ['pwd'] };
      try {
        // A row Hydra forgot long ago: swept by the first save that sweeps.
        await raw.db.insertInto('login_levels').values({ session_id: `gone-${counter}`, subject: 's', level: 1, amr: '["pwd"]', updated_at: Date.now() - 10 * day }).execute();
        clockOffset = 61_000; // past the sweep interval of any earlier save in this store
        await store.factors.saveLoginLevel(session, pwd, 2 * day);
        const first = await savedAt(session);
        expect(first).toMatchObject({ level: 1 });
        expect(await savedAt(`gone-${counter}`)).toBeUndefined();

        // A remembered login saving what it just read: no write.
        clockOffset += 5000;
        await store.factors.saveLoginLevel(session, pwd, 2 * day);
        expect(Number((await savedAt(session))!.updated_at)).toBe(Number(first!.updated_at));

        // A step-up: written at once.
        clockOffset += 1000;
        await store.factors.saveLoginLevel(session, { subject: 'sub-levels', level: 2, amr: ['pwd', 'otp'] }, 2 * day);
        const raised = await savedAt(session);
        expect(raised).toMatchObject({ level: 2 });
        expect(Number(raised!.updated_at)).toBeGreaterThan(Number(first!.updated_at));
        expect(await store.factors.loginLevel(session)).toEqual({ subject: 'sub-levels', level: 2, amr: ['pwd', 'otp'] });

        // The same level an hour later: its time refreshed, so the sweep keeps a session still in use.
        clockOffset += 3600_000 + 1000;
        await store.factors.saveLoginLevel(session, { subject: 'sub-levels', level: 2, amr: ['pwd', 'otp'] }, 2 * day);
        expect(Number((await savedAt(session))!.updated_at)).toBeGreaterThan(Number(raised!.updated_at));
      } finally {
        clockOffset = 0;
      }
    });
  });

  describe('import of the JSON user file', () => {
    it('adds users with their subjects and hashes, is idempotent, and skips conflicts and retired subjects', async () => {
      const hash = await hashPassword('imported password 1');
      const users: StoredUser[] = [
        { subject: `imp-a-${++counter}`, email: email('imp-a'), email_verified: true, password_hash: hash, profile: { name: 'Imported A', updated_at: 1700000000 } },
        { subject: `imp-b-${counter}`, email: email('imp-b'), email_verified: false, password_hash: hash, profile: {} },
      ];
      expect(await importUsers(store, users, { actor: 'cli' })).toEqual({ created: 2, kept: 0, skipped: [] });
      expect(await store.verifyCredentials(users[0]!.email, 'imported password 1')).toMatchObject({
        subject: users[0]!.subject,
        email_verified: true,
        profile: { name: 'Imported A', updated_at: 1700000000 },
      });
      const edited = await store.getBySubject(users[1]!.subject);
      await store.update(edited!.id, { profile: { name: 'Edited in the console' } }, admin);
      expect(await importUsers(store, users, { actor: 'cli' })).toEqual({ created: 0, kept: 2, skipped: [] });
      expect((await store.getBySubject(users[1]!.subject))?.profile.name).toBe('Edited in the console');

      await store.delete(edited!.id, admin);
      const clash = { ...users[0]!, subject: `imp-c-${counter}`, email: users[0]!.email.toUpperCase() };
      const result = await importUsers(store, [...users, clash], { actor: 'cli' });
      expect(result.created).toBe(0);
      expect(result.kept).toBe(1);
      expect(result.skipped.map((s) => s.index)).toEqual([1, 2]);
      expect(result.skipped[0]!.reason).toMatch(/deleted account/);
      expect(result.skipped[1]!.reason).toMatch(/email address already exists/);
    });
  });

  describe('when the database cannot answer', () => {
    it('a call fails within the deadline with StoreUnavailableError, and works again once it is back', async () => {
      const account = await store.create({ email: email('outage'), password: GOOD_PASSWORD }, admin);
      await backend.cut();
      try {
        const started = Date.now();
        const error = await store.setDisabled(account.id, true, admin).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toMatch(/^database unavailable \(set disabled\): /);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(await store.ping()).toBe(backend.name === 'sqlite'); // SQLite readers never wait in WAL mode
      } finally {
        await backend.restore();
      }
      expect(await store.ping()).toBe(true);
      expect((await store.setDisabled(account.id, true, admin))?.disabled).toBe(true);
    }, 60_000);

    it('the login page answers 503 (no crash) while it is gone, and signs in again when it is back', async () => {
      const account = await store.create({ email: email('web'), password: GOOD_PASSWORD }, admin);
      const t: TestApp = await buildTestApp({ users: store });
      try {
        const attempt = async () => {
          const challenge = t.hydra.addLoginRequest();
          const { agent, csrf } = await agentWithForm(t.app, `/login?login_challenge=${challenge}`);
          return agent.post('/login').type('form').send({ _csrf: csrf, challenge, email: account.email, password: GOOD_PASSWORD });
        };
        await backend.cut();
        try {
          const down = await attempt();
          expect(down.status).toBe(503);
          expect(down.text).toContain('The account database could not be reached');
        } finally {
          await backend.restore();
        }
        const up = await attempt();
        expect(up.status).toBe(302);
        expect(t.hydra.accepted.login.at(-1)?.body).toMatchObject({ subject: account.subject });
      } finally {
        await t.close();
      }
    }, 60_000);
  });
});

describe('start-up with a database that cannot be reached', () => {
  it('Postgres: one line naming the database (password hidden) and the reason', async () => {
    const { freePort } = await import('../../scripts/free-port.js');
    const port = await freePort();
    const error = await openAccountStore({ dialect: 'postgres', url: `postgres://app:hunter22@127.0.0.1:${port}/accounts` }, { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`^database postgres://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/accounts is unreachable: .*ECONNREFUSED`));
    expect(message).not.toContain('hunter22');
    expect(message).not.toContain('\n');
  });

  it('the server exits 1 with one line on stderr, before listening', async () => {
    const { freePort } = await import('../../scripts/free-port.js');
    const port = await freePort();
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { PATH: process.env.PATH, HYDRA_ADMIN_URL: 'http://127.0.0.1:9', DATABASE_URL: `postgresql://app:hunter22@127.0.0.1:${port}/accounts`, LOG_LEVEL: 'silent', PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^fatal: database postgresql://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/accounts is unreachable: .*ECONNREFUSED`)),
    ]);
    expect(result.stderr + result.stdout).not.toContain('hunter22');
  }, 40_000);

  it('SQLite: one line when the file cannot be created', async () => {
    const error = await openAccountStore({ dialect: 'sqlite', file: '/proc/version/accounts.db' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/^database sqlite:\/proc\/version\/accounts\.db cannot be opened: E[A-Z]+/);
  });
});
