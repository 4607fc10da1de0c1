import type { Generated } from 'kysely';

/**
 * The tables, as Kysely sees them. Both dialects store the same values: timestamps are integer
 * milliseconds since the epoch (bigint in Postgres, parsed back to a number), flags are integers
 * 0/1 (better-sqlite3 binds no booleans, and one set of queries serves both databases).
 */

export interface UsersTable {
  id: string;
  /** Sent to Hydra as the login subject; unique, and never reused (see retired_subjects). */
  subject: string;
  /** As given (trimmed, NFC): the `email` claim. */
  email: string;
  /** canonicalEmail(email): what makes an address unique and what sign-in looks up. */
  email_key: string;
  email_verified: number;
  // OpenID Connect Core §5.1 profile claims (src/users/claims.ts), one column each.
  name: string | null;
  given_name: string | null;
  family_name: string | null;
  middle_name: string | null;
  nickname: string | null;
  preferred_username: string | null;
  profile: string | null;
  picture: string | null;
  website: string | null;
  gender: string | null;
  birthdate: string | null;
  zoneinfo: string | null;
  locale: string | null;
  /** The `updated_at` claim: seconds since the epoch of the last profile change. */
  profile_updated_at: number;
  /** argon2id PHC string; null until a set-password link has been used. */
  password_hash: string | null;
  disabled: number;
  created_at: number;
  updated_at: number;
  password_changed_at: number | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  /** No foreign key: the trail of a deleted account stays. */
  user_id: string | null;
  account: string | null;
  ip: string | null;
  detail: string | null;
}

export interface OneTimeTokensTable {
  /** SHA-256 of the token, base64url; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  purpose: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** Subjects of deleted accounts: a new account can never take one over (Hydra's grants name it). */
export interface RetiredSubjectsTable {
  subject: string;
  retired_at: number;
}

export interface AccountsSchema {
  users: UsersTable;
  audit_events: AuditEventsTable;
  one_time_tokens: OneTimeTokensTable;
  retired_subjects: RetiredSubjectsTable;
}
