import { chmod, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type pg from 'pg';
import { StoreUnavailableError } from '../store.js';
import type { AccountsSchema } from './schema.js';
import { describeTarget, type DatabaseTarget, type Dialect } from './url.js';

export type { DatabaseTarget, Dialect } from './url.js';

/**
 * DATABASE_URL → a Kysely instance over SQLite (better-sqlite3) or Postgres (pg), with a deadline
 * on every call. Kysely because it is a typed query builder, not an ORM: the SQL stays visible,
 * the same queries compile for both dialects, and it ships a migrator. Nothing here knows about
 * accounts; src/users/sql/store.ts does.
 *
 * Each driver is loaded when its dialect is opened, not at import: a SQLite deployment never
 * loads pg (3 MB of heap), a Postgres one never loads better-sqlite3.
 */

export interface DatabaseOptions {
  /**
   * Deadline for one call, in ms: Postgres statement_timeout, pg's client-side query timeout and
   * the wait for a pooled connection. Default 5000.
   */
  timeoutMs?: number;
  /**
   * SQLite: how long a write waits for another process's lock (the CLI, a second instance on the
   * same file). better-sqlite3 waits synchronously, blocking the event loop: keep it short.
   * Default 1000.
   */
  busyTimeoutMs?: number;
  /** Postgres pool size per instance. Default 10. */
  poolSize?: number;
  /** Errors of idle pooled connections (the server went away): logged, never thrown. */
  onIdleError?: (error: Error) => void;
}

export interface Database {
  db: Kysely<AccountsSchema>;
  dialect: Dialect;
  description: string;
  timeoutMs: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_BUSY_TIMEOUT_MS = 1000;

// pg returns int8 (bigint, bigserial) as a string to be safe beyond 2^53; ours are milliseconds
// and row counters, far below it. Set per pool, not globally, so nothing else is affected.
const INT8_OID = 20;
const pgTypesOf = (types: typeof pg.types) => ({
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (value: string) => Number(value) : types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
});

/** Opens (and for SQLite creates) the database and checks that it answers. Throws StoreUnavailableError with one clear line. */
export async function openDatabase(target: DatabaseTarget, options: DatabaseOptions = {}): Promise<Database> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const description = describeTarget(target);
  let db: Kysely<AccountsSchema>;
  if (target.dialect === 'sqlite') {
    db = await openSqlite(target.file, options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, description);
  } else {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: target.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: timeoutMs,
      // The server cancels a statement past the deadline; the client gives up a little later
      // still, for a server that no longer answers at all (a partition, a stopped VM).
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1000,
      idle_in_transaction_session_timeout: timeoutMs * 2,
      keepAlive: true,
      application_name: 'hydra-login-consent',
      types: pgTypesOf(pg.types),
    });
    // A pg client whose connection drops emits 'error'; with no listener that is an uncaught
    // exception, a crash. The pool listens on idle clients only; Kysely attaches none to the
    // client it has checked out, so every client gets one of its own (the failing query still
    // rejects, and the pool discards the client when it comes back).
    pool.on('error', (error) => options.onIdleError?.(error));
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<AccountsSchema>({ dialect: new PostgresDialect({ pool }) });
  }
  try {
    await withDeadline(sql`select 1`.execute(db), timeoutMs + 1500, 'connecting');
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw new StoreUnavailableError(`database ${description} is unreachable: ${reasonOf(error)}`, { cause: error });
  }
  return { db, dialect: target.dialect, description, timeoutMs };
}

async function openSqlite(file: string, busyTimeoutMs: number, description: string): Promise<Kysely<AccountsSchema>> {
  let database: BetterSqlite3.Database;
  try {
    // Inside the try: a native addon that will not load (built for another Node) is one clear line too.
    const { default: Sqlite } = await import('better-sqlite3');
    const isNew = file !== ':memory:' && !existsSync(file);
    // Password hashes live here: the directory and the file are the owner's only.
    if (isNew) await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    database = new Sqlite(file, { timeout: busyTimeoutMs });
    if (isNew) await chmod(file, 0o600);
  } catch (error) {
    throw new StoreUnavailableError(`database ${description} cannot be opened: ${reasonOf(error)}`, { cause: error });
  }
  // WAL: readers never wait for the writer, and the CLI can write while the server runs.
  // better-sqlite3 is synchronous: every query runs on the event loop, so the store keeps each
  // one tiny and indexed (a lookup by key, an insert), and no request does other file I/O.
  // synchronous is left as better-sqlite3 builds SQLite (SQLITE_DEFAULT_WAL_SYNCHRONOUS=1): in WAL
  // mode a commit is not fsynced (~16 µs here; an explicit FULL measured ~0.18 ms). A crash of the
  // process loses nothing; a power loss may lose the last commits, never the file.
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  return new Kysely<AccountsSchema>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
}

/** Distinct SQL texts kept prepared; the store issues a few dozen, so this is never reached in practice. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SQLite driver prepares every query anew, and preparing (SQLite parsing and planning
 * the SQL) was a quarter of a sign-in lookup's CPU. The store's queries are a small fixed set of
 * SQL texts with parameters, so each is prepared once and reused, as better-sqlite3 intends.
 */
function withStatementCache(database: BetterSqlite3.Database) {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => database.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement === undefined) {
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
        statement = database.prepare(text);
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

/** Rejects with StoreUnavailableError when `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`database did not answer within ${ms} ms (${what})`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Why a database call failed, in a few words: a code or pg's message, never query parameters. */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0]! : String(error);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code} ${message}` : message;
}

// SQLSTATE classes and codes that mean "not now" rather than "never": connection exceptions (08),
// operator intervention (57: shutdown, statement timeout), insufficient resources (53),
// serialization failure and deadlock (40001, 40P01), lock not available (55P03).
const PG_UNAVAILABLE = /^(08|53|57|40001$|40P01$|55P03$)/;
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY|NOMEM|PROTOCOL|CORRUPT|NOTADB)/;
const PG_CLIENT_UNAVAILABLE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Cannot use a pool after calling end|connection has been discarded|The database connection is not open/i;

/** True for errors that mean the database cannot answer now (503), as opposed to a bug (500). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') {
    if (NET_UNAVAILABLE.has(e.code) || SQLITE_UNAVAILABLE.test(e.code)) return true;
    if (/^[0-9A-Z]{5}$/.test(e.code) && PG_UNAVAILABLE.test(e.code)) return true;
  }
  return typeof e?.message === 'string' && PG_CLIENT_UNAVAILABLE.test(e.message);
}

/** A unique constraint was violated (23505 on Postgres, SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
