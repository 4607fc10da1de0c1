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

/**
 * A second factor of an account (migration 0002): a TOTP authenticator or a passkey. Only
 * confirmed factors are stored: a TOTP secret is kept out of the database until its first code
 * proved the person's app has it.
 */
export interface FactorsTable {
  id: string;
  user_id: string;
  /** 'totp' | 'webauthn' */
  kind: string;
  /** What the person called it ("Phone"), shown in /account and the console. */
  label: string;
  /** TOTP: the secret, AES-256-GCM under MFA_ENCRYPTION_KEY (src/mfa/secrets.ts). Passkey: its public key. */
  secret: string;
  /** Passkey credential id (base64url); null for TOTP. */
  credential_id: string | null;
  /** TOTP: the last time step accepted (each code once). Passkey: the signature counter. */
  counter: number;
  /** JSON extras of a passkey: transports, deviceType, backedUp. */
  meta: string | null;
  /** Passkey: a digest of the WebAuthn challenge last accepted, so an assertion is never taken twice. */
  last_challenge: string | null;
  created_at: number;
  last_used_at: number | null;
}

/** One-time recovery codes: a keyed hash of each (src/mfa/secrets.ts), never the code. */
export interface RecoveryCodesTable {
  code_hash: string;
  user_id: string;
  created_at: number;
  used_at: number | null;
}

/**
 * The level a Hydra login session reached, by Hydra's session_id: its login request says `skip`
 * and the subject but not how that session was authenticated, and step-up needs to know.
 */
export interface LoginLevelsTable {
  session_id: string;
  subject: string;
  /** 1 one factor, 2 two factors, 3 phishing-resistant (src/mfa/levels.ts). */
  level: number;
  /** JSON array: the amr that session was accepted with. */
  amr: string;
  updated_at: number;
}

export interface AccountsSchema {
  users: UsersTable;
  audit_events: AuditEventsTable;
  one_time_tokens: OneTimeTokensTable;
  retired_subjects: RetiredSubjectsTable;
  factors: FactorsTable;
  recovery_codes: RecoveryCodesTable;
  login_levels: LoginLevelsTable;
}
