import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AuditContext, NewAuditEvent } from '../accounts.js';
import type { Factor, FactorKind, FactorStore, LoginLevel, PasskeyFactor, TotpFactor } from '../factors.js';
import { insertAuditEvent } from './audit.js';
import type { AccountsSchema, FactorsTable } from './schema.js';

/**
 * FactorStore over the accounts database. `guard` is the account store's: the same deadline and
 * error sorting (503 when the database is away). Every write that changes what can sign in
 * appends its audit event in the same transaction.
 */

type Guard = <T>(what: string, step: () => Promise<T>) => Promise<T>;
type Db = Kysely<AccountsSchema> | Transaction<AccountsSchema>;

function toFactor(row: Selectable<FactorsTable>): Factor {
  return {
    id: row.id,
    user_id: row.user_id,
    kind: row.kind as FactorKind,
    label: row.label,
    created_at: new Date(Number(row.created_at)),
    last_used_at: row.last_used_at === null ? null : new Date(Number(row.last_used_at)),
  };
}

function toPasskey(row: Selectable<FactorsTable>): PasskeyFactor {
  let meta: { transports?: unknown; deviceType?: unknown } = {};
  try {
    meta = JSON.parse(row.meta ?? '{}') as typeof meta;
  } catch {
    // an unreadable row: no transports
  }
  return {
    ...toFactor(row),
    kind: 'webauthn',
    credentialId: row.credential_id ?? '',
    publicKey: row.secret,
    counter: Number(row.counter),
    transports: Array.isArray(meta.transports) ? meta.transports.filter((t): t is string => typeof t === 'string') : [],
    deviceType: typeof meta.deviceType === 'string' ? meta.deviceType : 'singleDevice',
  };
}

/** A kept login level older than this is written again when the session signs in. */
const LOGIN_LEVEL_REFRESH_MS = 3600_000;
/** Expired login levels are swept on a save at most this often. */
const LOGIN_LEVEL_SWEEP_EVERY_MS = 60_000;

export function createSqlFactorStore(db: Kysely<AccountsSchema>, guard: Guard, now: () => number = Date.now): FactorStore {
  let lastSwept = Number.NEGATIVE_INFINITY;
  const audit = (trx: Db, event: NewAuditEvent, by: AuditContext, at = now()) => insertAuditEvent(trx, event, by, at);

  const store: FactorStore = {
    async list(userId) {
      const rows = await guard('list factors', () => db.selectFrom('factors').selectAll().where('user_id', '=', userId).orderBy('created_at').execute());
      return rows.map(toFactor);
    },

    async totpFactors(userId) {
      const rows = await guard('totp factors', () =>
        db.selectFrom('factors').selectAll().where('user_id', '=', userId).where('kind', '=', 'totp').orderBy('created_at').execute(),
      );
      return rows.map((row): TotpFactor => ({ ...toFactor(row), kind: 'totp', sealedSecret: row.secret, lastStep: Number(row.counter) }));
    },

    async addTotp(userId, input, by) {
      const at = now();
      const id = randomUUID();
      const label = input.label.trim().slice(0, 100) || 'Authenticator app';
      await guard('add factor', () =>
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('factors')
            .values({ id, user_id: userId, kind: 'totp', label, secret: input.sealedSecret, credential_id: null, counter: input.step, meta: null, last_challenge: null, created_at: at, last_used_at: at })
            .execute();
          await audit(trx, { action: 'factor.added', user_id: userId, detail: 'totp' }, by, at);
        }),
      );
      return { id, user_id: userId, kind: 'totp', label, created_at: new Date(at), last_used_at: new Date(at) };
    },

    async useTotpStep(factorId, step, by) {
      const at = now();
      return guard('use totp step', () =>
        db.transaction().execute(async (trx) => {
          // One conditional UPDATE: a step not later than the last one is a replay.
          const used = await trx
            .updateTable('factors')
            .set({ counter: step, last_used_at: at })
            .where('id', '=', factorId)
            .where('kind', '=', 'totp')
            .where('counter', '<', step)
            .returning('user_id')
            .executeTakeFirst();
          if (!used) return false;
          await audit(trx, { action: 'factor.used', user_id: used.user_id, detail: 'totp' }, by, at);
          return true;
        }),
      );
    },

    async addPasskey(userId, passkey, by) {
      const at = now();
      const id = randomUUID();
      const label = passkey.label.trim().slice(0, 100) || 'Passkey';
      const meta = JSON.stringify({ transports: passkey.transports, deviceType: passkey.deviceType, backedUp: passkey.backedUp });
      await guard('add factor', () =>
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('factors')
            .values({ id, user_id: userId, kind: 'webauthn', label, secret: passkey.publicKey, credential_id: passkey.credentialId, counter: passkey.counter, meta, last_challenge: null, created_at: at, last_used_at: null })
            .execute();
          await audit(trx, { action: 'factor.added', user_id: userId, detail: 'webauthn' }, by, at);
        }),
      );
      return { id, user_id: userId, kind: 'webauthn', label, created_at: new Date(at), last_used_at: null };
    },

    async passkeys(userId) {
      const rows = await guard('passkeys', () => db.selectFrom('factors').selectAll().where('user_id', '=', userId).where('kind', '=', 'webauthn').orderBy('created_at').execute());
      return rows.map(toPasskey);
    },

    async passkeyByCredentialId(credentialId) {
      if (typeof credentialId !== 'string' || credentialId.length > 1024) return undefined;
      const row = await guard('passkey', () => db.selectFrom('factors').selectAll().where('credential_id', '=', credentialId).where('kind', '=', 'webauthn').executeTakeFirst());
      return row && toPasskey(row);
    },

    async usePasskey(factorId, counter, challengeDigest, by) {
      const at = now();
      return guard('use passkey', () =>
        db.transaction().execute(async (trx) => {
          const used = await trx
            .updateTable('factors')
            .set({ counter, last_used_at: at, last_challenge: challengeDigest })
            .where('id', '=', factorId)
            .where('kind', '=', 'webauthn')
            // An authenticator without a counter (synced passkeys) always says 0; the challenge check stands.
            .where('counter', counter === 0 ? '=' : '<', counter)
            .where((eb) => eb.or([eb('last_challenge', 'is', null), eb('last_challenge', '!=', challengeDigest)]))
            .returning('user_id')
            .executeTakeFirst();
          if (!used) return false;
          await audit(trx, { action: 'factor.used', user_id: used.user_id, detail: 'webauthn' }, by, at);
          return true;
        }),
      );
    },

    async replaceRecoveryCodes(userId, hashes, by) {
      const at = now();
      await guard('recovery codes', () =>
        db.transaction().execute(async (trx) => {
          await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
          if (hashes.length > 0) {
            await trx.insertInto('recovery_codes').values(hashes.map((code_hash) => ({ code_hash, user_id: userId, created_at: at, used_at: null }))).execute();
          }
          await audit(trx, { action: 'recovery_codes.generated', user_id: userId, detail: String(hashes.length) }, by, at);
        }),
      );
    },

    async useRecoveryCode(userId, hash, by) {
      const at = now();
      return guard('use recovery code', () =>
        db.transaction().execute(async (trx) => {
          const used = await trx
            .updateTable('recovery_codes')
            .set({ used_at: at })
            .where('code_hash', '=', hash)
            .where('user_id', '=', userId)
            .where('used_at', 'is', null)
            .executeTakeFirst();
          if (Number(used.numUpdatedRows) === 0) return false;
          await audit(trx, { action: 'factor.used', user_id: userId, detail: 'recovery-code' }, by, at);
          return true;
        }),
      );
    },

    async recoveryCodesLeft(userId) {
      const row = await guard('recovery codes left', () =>
        db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst(),
      );
      return Number(row?.n ?? 0);
    },

    async remove(userId, factorId, by) {
      const at = now();
      return guard('remove factor', () =>
        db.transaction().execute(async (trx) => {
          const row = await trx.selectFrom('factors').select('kind').where('id', '=', factorId).where('user_id', '=', userId).executeTakeFirst();
          if (!row) return false;
          await trx.deleteFrom('factors').where('id', '=', factorId).execute();
          await audit(trx, { action: 'factor.removed', user_id: userId, detail: row.kind }, by, at);
          // The last factor gone: recovery codes alone would be a second factor nobody can reset.
          const left = await trx.selectFrom('factors').select('id').where('user_id', '=', userId).executeTakeFirst();
          if (!left) await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
          return true;
        }),
      );
    },

    async removeRecoveryCodes(userId, by) {
      const at = now();
      return guard('remove recovery codes', () =>
        db.transaction().execute(async (trx) => {
          const result = await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).executeTakeFirst();
          if (Number(result.numDeletedRows) === 0) return false;
          await audit(trx, { action: 'factor.removed', user_id: userId, detail: 'recovery-codes' }, by, at);
          return true;
        }),
      );
    },

    async saveLoginLevel(sessionId, level: LoginLevel, keepForMs) {
      const at = now();
      const values = { session_id: sessionId.slice(0, 255), subject: level.subject, level: level.level, amr: JSON.stringify(level.amr), updated_at: at };
      await guard('save login level', async () => {
        // A remembered login (skip) saves the level it read a moment ago: no write unless something
        // changed or the row needs its time refreshed. SQLite has one writer at a time, which the
        // users CLI and the sweep below share with every sign-in.
        const stored = await db.selectFrom('login_levels').selectAll().where('session_id', '=', values.session_id).executeTakeFirst();
        const unchanged = stored && stored.subject === values.subject && Number(stored.level) === values.level && stored.amr === values.amr;
        if (unchanged && at - Number(stored.updated_at) < Math.min(LOGIN_LEVEL_REFRESH_MS, keepForMs / 2)) return;
        const sweep = at - lastSwept >= LOGIN_LEVEL_SWEEP_EVERY_MS;
        if (sweep) lastSwept = at;
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('login_levels')
            .values(values)
            .onConflict((oc) => oc.column('session_id').doUpdateSet({ subject: values.subject, level: values.level, amr: values.amr, updated_at: at }))
            .execute();
          // Sessions Hydra has long forgotten (remember_for passed): an indexed range delete, now and then.
          if (sweep) await trx.deleteFrom('login_levels').where('updated_at', '<', at - keepForMs).execute();
        });
      });
    },

    async loginLevel(sessionId) {
      const row = await guard('login level', () => db.selectFrom('login_levels').selectAll().where('session_id', '=', sessionId).executeTakeFirst());
      if (!row) return undefined;
      let amr: string[] = [];
      try {
        const parsed: unknown = JSON.parse(row.amr);
        if (Array.isArray(parsed)) amr = parsed.filter((v): v is string => typeof v === 'string');
      } catch {
        // an unreadable row counts as no amr
      }
      return { subject: row.subject, level: Number(row.level), amr };
    },

    async audit(event, by) {
      await guard('audit', () => audit(db, event, by));
    },
  };
  return store;
}
