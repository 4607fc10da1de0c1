import type { Kysely, Transaction } from 'kysely';
import type { AuditContext, NewAuditEvent } from '../accounts.js';
import type { AccountsSchema } from './schema.js';

/**
 * Appends one audit event, in the caller's transaction when it has one. Every field is cut to its
 * column's bound; the events hold ids and the hashed account tag, never an email in clear.
 */
export function insertAuditEvent(trx: Kysely<AccountsSchema> | Transaction<AccountsSchema>, event: NewAuditEvent, by: AuditContext, at: number) {
  return trx
    .insertInto('audit_events')
    .values({
      at,
      actor: by.actor.slice(0, 100),
      action: event.action.slice(0, 100),
      user_id: event.user_id ?? null,
      account: event.account ?? null,
      ip: by.ip?.slice(0, 64) ?? null,
      detail: event.detail?.slice(0, 200) ?? null,
    })
    .execute();
}
