import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { StoreUnavailableError } from '../store.js';
import type { Dialect } from './url.js';
import type { AccountsSchema } from './schema.js';

/**
 * Schema migrations, in code (no files to find at run time, so the compiled image needs nothing
 * beside dist/). They run at start-up and with `npm run users -- migrate`. Kysely's Migrator
 * records them in `accounts_migration` and takes a lock first (on Postgres an advisory lock in
 * the migration's transaction), so several instances starting at once migrate exactly once.
 * Never edit a released migration: add the next one.
 */

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_accounts': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('subject', 'text', (c) => c.notNull().unique())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('email_key', 'text', (c) => c.notNull().unique())
          .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('name', 'text')
          .addColumn('given_name', 'text')
          .addColumn('family_name', 'text')
          .addColumn('middle_name', 'text')
          .addColumn('nickname', 'text')
          .addColumn('preferred_username', 'text')
          .addColumn('profile', 'text')
          .addColumn('picture', 'text')
          .addColumn('website', 'text')
          .addColumn('gender', 'text')
          .addColumn('birthdate', 'text')
          .addColumn('zoneinfo', 'text')
          .addColumn('locale', 'text')
          .addColumn('profile_updated_at', 'bigint', (c) => c.notNull())
          .addColumn('password_hash', 'text')
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('password_changed_at', 'bigint')
          .execute();

        // SQLite's rowid alias needs exactly INTEGER PRIMARY KEY; Postgres has bigserial.
        await db.schema
          .createTable('audit_events')
          .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigserial', (c) =>
            dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('user_id', 'text')
          .addColumn('account', 'text')
          .addColumn('ip', 'text')
          .addColumn('detail', 'text')
          .execute();
        // A user's trail, newest first: the one query that reads this table.
        await db.schema.createIndex('audit_events_user').on('audit_events').columns(['user_id', 'id']).execute();

        await db.schema
          .createTable('one_time_tokens')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('purpose', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .execute();
        await db.schema.createIndex('one_time_tokens_user').on('one_time_tokens').column('user_id').execute();
        await db.schema.createIndex('one_time_tokens_expiry').on('one_time_tokens').column('expires_at').execute();

        await db.schema
          .createTable('retired_subjects')
          .addColumn('subject', 'text', (c) => c.primaryKey())
          .addColumn('retired_at', 'bigint', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        for (const table of ['retired_subjects', 'one_time_tokens', 'audit_events', 'users']) {
          await db.schema.dropTable(table).execute();
        }
      },
    },
    // Second factors (TOTP, passkeys), recovery codes, and the level each Hydra login session reached.
    '0002_factors': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('factors')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('label', 'text', (c) => c.notNull())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('credential_id', 'text', (c) => c.unique())
          .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('meta', 'text')
          .addColumn('last_challenge', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .execute();
        await db.schema.createIndex('factors_user').on('factors').column('user_id').execute();

        await db.schema
          .createTable('recovery_codes')
          .addColumn('code_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('used_at', 'bigint')
          .execute();
        await db.schema.createIndex('recovery_codes_user').on('recovery_codes').column('user_id').execute();

        await db.schema
          .createTable('login_levels')
          .addColumn('session_id', 'text', (c) => c.primaryKey())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('level', 'integer', (c) => c.notNull())
          .addColumn('amr', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('login_levels_updated').on('login_levels').column('updated_at').execute();
      },
      async down(db: Kysely<unknown>) {
        for (const table of ['login_levels', 'recovery_codes', 'factors']) {
          await db.schema.dropTable(table).execute();
        }
      },
    },
  };
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/** Brings the schema up to date. Returns the names it applied (none when already current). */
export async function migrateToLatest(db: Kysely<AccountsSchema>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new CodeMigrations(dialect),
    migrationTableName: 'accounts_migration',
    migrationLockTableName: 'accounts_migration_lock',
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error');
    if (error instanceof StoreUnavailableError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`database migration ${failed?.migrationName ?? '(lock)'} failed: ${reason}`, { cause: error });
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
